/**
 * docs/SEMANTICS.md "Bounds", end to end on the emulators: one sensor's backlog in one
 * run (the one-day reproduction of 1,500 readings and a session variant through `replay`;
 * 10 days at 1/min, 14,400 readings, through the handler in batches of 10,000) completes
 * with exact windows and nothing sent to the on-failure queue (B1, B2), and a sensor whose
 * state cannot be committed fails alone (B4). Expected tumbling windows come from
 * test/proof/reference.ts, which shares no code with the pipeline.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { COMMIT_TARGET_BYTES } from '../../functions/domain/bounds.js';
import { parseConfig, type WindowpaneConfig } from '../../functions/domain/config.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { parseHandlerEnv } from '../../functions/lib/env.js';
import { ENV } from '../../functions/lib/resources.js';
import { WindowStateStore } from '../../functions/lib/state-store.js';
import { flushOpenWindows } from '../../functions/pipeline/flush.js';
import type { BatchReport } from '../../functions/pipeline/report.js';
import { buildHandler } from '../../functions/window-handler/build.js';
import { uniquePrefix } from '../../local/cloud/index.js';
import { type ReplaySummary, runReplay } from '../../local/replay.js';
import { reference, windowRows } from '../proof/reference.js';
import {
  createTestPipeline,
  kinesisEvent,
  lambdaContext,
  putRecords,
  readAllRecords,
  scanAll,
  stateOfItem,
  type TestPipeline,
} from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const config = parseConfig({ stream: { shardCount: 1 } });

/** One sensor at 1/min; values in quarters (exact sums), a hot spike every 1,000 readings. */
function backlog(count: number, sensorId = 'sensor_1'): Buffer[] {
  return Array.from({ length: count }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        sensorId,
        timestamp: T0 + i * MINUTE,
        temperature: i % 1_000 === 999 ? 40 : 20 + (i % 9) * 0.25,
      }),
    ),
  );
}

async function readJsonl(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8');
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function replay(lines: Buffer[], cfg: WindowpaneConfig, label: string) {
  const dir = await mkdtemp(path.join(tmpdir(), `windowpane-${label}-`));
  try {
    const summary: ReplaySummary = await runReplay({
      input: '-',
      stdin: Readable.from([Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]))]),
      outDir: dir,
      config: cfg,
      target: localClientOptions(endpoints),
      prefix: uniquePrefix(label),
      resourceSource: 'config',
    });
    return {
      summary,
      windows: await readJsonl(path.join(dir, 'windows.jsonl')),
      alerts: await readJsonl(path.join(dir, 'alerts.jsonl')),
      late: await readJsonl(path.join(dir, 'late.jsonl')),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('Bounds B1, B2: a one-day backlog (1,500 readings 60 s apart) of one sensor in ONE replay completes with exact windows', () => {
  const count = 1_500;
  const lines = backlog(count);
  const expected = reference(lines, config);
  let run: Awaited<ReturnType<typeof replay>>;

  beforeAll(async () => {
    run = await replay(lines, config, 'backlog-1500');
    console.info(`backlog of ${count}: replay wall ${run.summary.wallMs} ms, send ${run.summary.sendMs} ms`);
  }, 600_000);

  it('sends nothing to the on-failure queue and counts every reading', () => {
    expect(run.summary).toMatchObject({ records: count, readings: count, discarded: 0, invalid: 0, late: 0 });
  });

  it('writes every window once, with exact aggregates', () => {
    expect(expected.windows).toHaveLength(count);
    expect(run.windows.map((w) => [w.sensorId, w.windowStart, w.count, w.sum, w.min, w.max])).toEqual(
      windowRows(expected),
    );
  });

  it('publishes each alert once', () => {
    expect(run.alerts.map((a) => [a.rule, a.timestamp])).toEqual(
      expected.alerts.map((a) => [a.rule, a.timestamp]),
    );
    expect(run.summary.republishedAlertIds).toEqual([]);
  });
});

/**
 * Ten days in Lambda's largest batch, 10,000 records, then the remaining 4,400: the
 * real handler on the emulators' stream records, its commits sized to the item, driven
 * batch by batch so the bodies written can be measured. The same backlog through one
 * `replay` is test/proof/backlog.test.ts: it runs alone, since kinesis-local's cost per
 * record grows with a shard's length and slows beside other suites. Results go to the
 * results table, the ledger of emission.
 */
describe('Bounds B1, B2: a 10-day backlog (14,400 readings at 1/min) of one sensor, in batches of 10,000, commits with exact windows', () => {
  const count = 14_400;
  const lines = backlog(count);
  const expected = reference(lines, config);
  let p: TestPipeline;
  const failures: unknown[] = [];
  const reports: BatchReport[] = [];
  let windows: Record<string, unknown>[];
  let wallMs: number;

  beforeAll(async () => {
    p = await createTestPipeline(endpoints, config, 'backlog-10d');
    const { [ENV.resultsStream]: _stream, ...env } = p.env;
    const handler = buildHandler(parseHandlerEnv(env), localClientOptions(endpoints));
    await putRecords(
      p.clients,
      p.streamName,
      lines.map((data) => ({ partitionKey: 'sensor_1', data })),
    );
    const [shard] = await readAllRecords(p.clients, p.streamName);
    expect(shard!.records).toHaveLength(count);
    const started = Date.now();
    for (let i = 0; i < count; i += 10_000) {
      // Lambda's longest timeout, 15 min: 10,000 conditional puts to dynalite on a shared
      // machine take longer than the default 60 s the helper's context reports.
      const res = await handler(
        kinesisEvent(shard!.shardId, shard!.records.slice(i, i + 10_000), p.streamArn),
        {
          ...lambdaContext(),
          getRemainingTimeInMillis: () => 900_000,
        },
      );
      failures.push(...res.batchItemFailures);
      reports.push(handler.lastReport()!);
    }
    reports.push(await flushOpenWindows(handler.deps, ['sensor_1']));
    wallMs = Date.now() - started;
    windows = (await scanAll(p.clients, p.tables.results)).sort(
      (a, b) => (a.windowStart as number) - (b.windowStart as number),
    );
    console.info(
      `backlog of ${count}: ${wallMs} ms in the handler; items written per run ${reports.map((r) => r.itemsWritten).join(', ')}`,
    );
  }, 600_000);
  afterAll(() => p?.destroy());

  it('fails no record and counts every reading', () => {
    expect(failures).toEqual([]);
    expect(reports.reduce((n, r) => n + r.readings, 0)).toBe(count);
    expect(reports.reduce((n, r) => n + r.failedSensors, 0)).toBe(0);
  });

  it('writes every window once, with exact aggregates', () => {
    expect(
      windows.map((w) => {
        const t = (w.metrics as { temperature: { count: number; sum: number; min: number; max: number } })
          .temperature;
        return [w.sensorId, w.windowStart, t.count, t.sum, t.min, t.max];
      }),
    ).toEqual(windowRows(expected));
  });

  it('leaves a small state item: the outbox was delivered commit by commit', async () => {
    const [state] = (await scanAll(p.clients, p.tables.state)) as { body: string }[];
    expect(Buffer.byteLength(state!.body)).toBeLessThan(COMMIT_TARGET_BYTES);
  });
});

describe('Bounds B1, B2: the same backlog with session windows', () => {
  // A 30 s gap at 1/min: every reading is a session of its own, 1,500 closed sessions.
  const sessions = parseConfig({ stream: { shardCount: 1 }, windows: [{ type: 'session', gapMs: 30_000 }] });
  const count = 1_500;
  const lines = backlog(count);
  let run: Awaited<ReturnType<typeof replay>>;

  beforeAll(async () => {
    run = await replay(lines, sessions, 'backlog-sessions');
  }, 600_000);

  it('completes with one session per reading and nothing discarded', () => {
    expect(run.summary).toMatchObject({ records: count, readings: count, discarded: 0, late: 0 });
    expect(run.windows.map((w) => [w.windowType, w.windowStart, w.windowEnd, w.count, w.sum])).toEqual(
      lines.map((l) => {
        const r = JSON.parse(l.toString()) as { timestamp: number; temperature: number };
        return ['session', r.timestamp, r.timestamp + 30_000, 1, r.temperature];
      }),
    );
  });
});

describe('Bounds B4: a sensor whose state cannot be committed fails alone', () => {
  // A long lateness keeps every window of the big sensor open: 100 of them in its state.
  const cfg = parseConfig({ stream: { shardCount: 1 }, allowedLatenessMs: 7_200_000, rules: [] });
  let p: TestPipeline;

  beforeAll(async () => {
    p = await createTestPipeline(endpoints, cfg, 'bounded-b4');
  });
  afterAll(() => p?.destroy());

  it('reports only that sensor in batchItemFailures; the others commit, and a retry loses nothing', async () => {
    const records = [
      ...Array.from({ length: 100 }, (_, i) => ({
        partitionKey: 'big',
        data: Buffer.from(JSON.stringify({ sensorId: 'big', timestamp: T0 + i * MINUTE, temperature: 20 })),
      })),
      ...[0, 1, 2].map((i) => ({
        partitionKey: 'small',
        data: Buffer.from(JSON.stringify({ sensorId: 'small', timestamp: T0 + i * 1_000, temperature: 21 })),
      })),
    ];
    await putRecords(p.clients, p.streamName, records);
    const [shard] = await readAllRecords(p.clients, p.streamName);
    const event = kinesisEvent(shard!.shardId, shard!.records, p.streamArn);
    const firstOfBig = shard!.records.find((r) => r.PartitionKey === 'big')!.SequenceNumber;

    // A store that refuses bodies over 4,000 bytes: the big sensor's 100 open windows (about
    // 90 bytes each in the compact body) pass it, the small sensor's 3 readings do not.
    const h = p.handler();
    h.deps.store = new WindowStateStore({
      doc: p.clients.doc,
      tableName: p.tables.state,
      ttlDays: cfg.stateTtlDays,
      counter: h.deps.counter,
      maxBodyBytes: 4_000,
    });
    const res = await h(event, lambdaContext());
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: firstOfBig }]);
    expect(h.lastReport()).toMatchObject({ failedSensors: 1, readings: 3 });
    const stored = (await scanAll(p.clients, p.tables.state)).map((s) => s.sensorId);
    expect(stored).toEqual(['small']);

    // Lambda retries from the failed record with the usual store: everything commits, once.
    const retry = await p.handler()(event, lambdaContext());
    expect(retry.batchItemFailures).toEqual([]);
    const states = (await scanAll(p.clients, p.tables.state)) as { sensorId: string; body: string }[];
    const open = (id: string) =>
      Object.values(
        stateOfItem(states.find((s) => s.sensorId === id)! as unknown as Record<string, unknown>).windows,
      ).reduce((n, w) => n + w.aggs.temperature!.count, 0);
    expect(open('big')).toBe(100);
    expect(open('small')).toBe(3);
  });
});
