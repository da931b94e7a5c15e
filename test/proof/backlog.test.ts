/**
 * Bounds B1–B4 end to end, as issue 13 asks: one sensor's backlog of 10 days at 1/min
 * (14,400 readings, a reconnecting sensor's upload) in ONE `npm run replay`, with the
 * project's configuration, completes with exact windows and nothing on the failure queue.
 *
 * It runs in the proof project (alone, after the other suites) because the whole backlog
 * sits on one shard: kinesis-local's cost per put record grows with the records already on
 * the shard (bench figures in local/put-in-order.ts, SEND_TARGET_MS), so beside other emulator
 * suites its requests slow to the SDK's timeout. The replay adapts its requests to the
 * emulator and fails only when processing stops progressing (DRAIN_STALL_MS), so this test
 * measures completion, not speed. test/integration/bounded-state.test.ts drives the same
 * backlog batch by batch through the handler, where the sizes of the items are checked.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProjectConfig } from '../../local/config.js';
import { type ReplaySummary, runReplay } from '../../local/replay.js';
import { type Expected, reference, windowRows } from './reference.js';

const { config } = loadProjectConfig();
const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const COUNT = 10 * 24 * 60;

/** Values in quarters (exact sums); a hot spike every 1,000 readings fires the configured rules. */
function backlog(): Buffer[] {
  return Array.from({ length: COUNT }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        sensorId: 'sensor_1',
        timestamp: T0 + i * MINUTE,
        temperature: i % 1_000 === 999 ? 40 : 20 + (i % 9) * 0.25,
      }),
    ),
  );
}

describe('Bounds B1–B4: a 10-day backlog (14,400 readings at 1/min) of one sensor in ONE replay', () => {
  let dir: string;
  let summary: ReplaySummary;
  let expected: Expected;
  let windows: Record<string, unknown>[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'windowpane-backlog-'));
    const lines = backlog();
    expected = reference(lines, config);
    const input = path.join(dir, 'backlog.jsonl');
    await writeFile(input, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
    summary = await runReplay({ input, outDir: path.join(dir, 'out'), config, resourceSource: 'config' });
    const text = await readFile(path.join(dir, 'out', 'windows.jsonl'), 'utf8');
    windows = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    console.info(
      `10-day backlog: ${summary.records} records replayed in ${(summary.wallMs / 1000).toFixed(1)} s ` +
        `(sending ${(summary.sendMs / 1000).toFixed(1)} s), ${summary.windows} windows`,
    );
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sends nothing to the on-failure queue and counts every reading', () => {
    expect(summary).toMatchObject({ records: COUNT, readings: COUNT, discarded: 0, invalid: 0, late: 0 });
  });

  it('writes every window once, with exact aggregates', () => {
    expect(expected.windows).toHaveLength(COUNT);
    expect(windows.map((w) => [w.sensorId, w.windowStart, w.count, w.sum, w.min, w.max])).toEqual(
      windowRows(expected),
    );
  });

  it('publishes each expected alert, and no other, once per alertId', () => {
    // Not "one message each": on a busy machine a batch may outlive the local handler's
    // 60 s timeout after its alert phase published, and SNS then has a second publish of
    // the same alertId (A-M2's at-least-once, deduped by alertId below, as subscribers do).
    expect(summary.outputs.alerts.map((a) => [a.rule, a.timestamp])).toEqual(
      expected.alerts.map((a) => [a.rule, a.timestamp]),
    );
    expect(new Set(summary.outputs.alerts.map((a) => a.alertId)).size).toBe(summary.outputs.alerts.length);
  });
});
