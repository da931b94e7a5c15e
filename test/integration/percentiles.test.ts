/**
 * Percentiles end to end (docs/SEMANTICS.md "Windows", percentiles; issue 17): the golden
 * `multi` input (tumbling, sliding and session windows, late and invalid lines) replayed
 * on the real emulators with percentiles on. Every windows.jsonl line carries its
 * percentiles, each within the stated error of the exact nearest-rank percentile of the
 * window's readings; with them taken out, each line is byte-identical to the recorded
 * golden line (percentiles change nothing else); the output stream's records carry the
 * same percentiles as the results table; and a rule on the windows' p99 alerts, through
 * SNS, once per sensor and cooldown bucket of the windows whose p99 is above its bound.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteStreamCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig, type WindowpaneConfig } from '../../functions/domain/config.js';
import type { FinalWindow } from '../../functions/domain/state.js';
import { createClients, localClientOptions } from '../../functions/lib/clients.js';
import { uniquePrefix } from '../../local/cloud/index.js';
import { REPO_ROOT } from '../../local/config.js';
import { type ReplaySummary, runReplay } from '../../local/replay.js';
import { parseLine } from '../proof/reference.js';
import { readAllRecords } from './pipeline-helpers.js';

const CASE = path.join(REPO_ROOT, 'test', 'golden', 'multi');
const QUANTILES = [0, 0.25, 0.5, 0.9, 0.99, 1];
const NAMES = ['p0', 'p25', 'p50', 'p90', 'p99', 'p100'];
const endpoints = inject('endpoints');

type Line = Record<string, unknown> & {
  sensorId: string;
  windowType: string;
  windowStart: number;
  windowEnd: number;
  count: number;
};

async function jsonl<T>(file: string): Promise<T[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);
}

/** The k-th smallest, k = max(1, ceil(q n)). */
function nearestRank(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe('percentiles on: a replay of the golden multi input', () => {
  let config: WindowpaneConfig;
  let dir: string;
  let summary: ReplaySummary;
  let lines: Line[];
  const prefix = uniquePrefix('pct');
  const clients = createClients(localClientOptions(endpoints));

  beforeAll(async () => {
    const recorded = JSON.parse(await readFile(path.join(CASE, 'config.json'), 'utf8'));
    config = parseConfig({
      ...recorded,
      percentiles: QUANTILES,
      rules: [
        ...recorded.rules,
        { name: 'p99-hot', type: 'threshold', metric: 'temperature', statistic: 'p99', above: 30 },
      ],
    });
    dir = await mkdtemp(path.join(tmpdir(), 'windowpane-percentiles-'));
    summary = await runReplay({
      input: path.join(CASE, 'input.jsonl'),
      outDir: dir,
      config,
      resourceSource: 'config',
      target: localClientOptions(endpoints),
      prefix,
      // Kept until the output stream is read below.
      deleteResourcesOnStop: false,
    });
    lines = await jsonl<Line>(path.join(dir, 'windows.jsonl'));
  });

  afterAll(async () => {
    for (const name of [`${prefix}-readings`, `${prefix}-final-windows`]) {
      await clients.kinesis.send(new DeleteStreamCommand({ StreamName: name })).catch(() => {});
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('with the percentiles taken out, windows.jsonl is the recorded golden file, byte for byte', async () => {
    expect(summary.discarded).toBe(0);
    const stripped = lines.map((l) => {
      const copy: Record<string, unknown> = { ...l };
      for (const name of NAMES) delete copy[name];
      return `${JSON.stringify(copy)}\n`;
    });
    expect(stripped.join('')).toBe(await readFile(path.join(CASE, 'windows.jsonl'), 'utf8'));
    for (const l of lines) expect(Object.keys(l).slice(-NAMES.length)).toEqual(NAMES);
  });

  it('every percentile is within 1 % of the exact nearest-rank percentile of the window readings', async () => {
    const input = (await readFile(path.join(CASE, 'input.jsonl'), 'utf8')).split('\n');
    const invalid = new Set(
      (await jsonl<{ line: number }>(path.join(dir, 'invalid.jsonl'))).map((i) => i.line),
    );
    const late = await jsonl<{
      line: number;
      missedWindows: { windowType: string; windowStart: number; windowEnd: number }[];
    }>(path.join(dir, 'late.jsonl'));
    const missed = new Map(late.map((l) => [l.line, l.missedWindows]));
    const readings = input.flatMap((text, i) => {
      const line = i + 1;
      if (text === '' || invalid.has(line)) return [];
      const parsed = parseLine(text, config.metrics);
      return parsed.ok
        ? [{ line, sensorId: parsed.sensorId, ts: parsed.ts, value: parsed.values.temperature! }]
        : [];
    });
    const problems: string[] = [];
    let checked = 0;
    for (const w of lines) {
      const values = readings
        .filter((r) => r.sensorId === w.sensorId && r.ts >= w.windowStart && r.ts < w.windowEnd)
        .filter(
          (r) =>
            !(missed.get(r.line) ?? []).some(
              (m) =>
                m.windowType === w.windowType &&
                m.windowStart === w.windowStart &&
                m.windowEnd === w.windowEnd,
            ),
        )
        .map((r) => r.value);
      // The window's readings are reconstructed right: the count says so.
      expect(values.length, `${w.sensorId} ${w.windowType} ${w.windowStart}`).toBe(w.count);
      QUANTILES.forEach((q, i) => {
        const got = w[NAMES[i]!] as number;
        const want = nearestRank(values, q);
        checked++;
        if (Math.abs(got - want) > 0.01 * Math.abs(want)) {
          problems.push(`${w.sensorId} ${w.windowType} ${w.windowStart} ${NAMES[i]}: ${got}, exact ${want}`);
        }
      });
    }
    expect(problems).toEqual([]);
    expect(new Set(lines.map((l) => l.windowType))).toEqual(new Set(['tumbling', 'sliding', 'session']));
    expect(checked).toBeGreaterThan(1_000);
  });

  it('a threshold rule on p99 alerts once per (sensor, cooldown bucket) of the windows whose p99 is above it', async () => {
    const alerts = (await jsonl<Record<string, unknown>>(path.join(dir, 'alerts.jsonl'))).filter(
      (a) => a.rule === 'p99-hot',
    );
    const want = [
      ...new Set(
        lines
          .filter((l) => (l.p99 as number) > 30)
          .map((l) => `${l.sensorId}|${Math.floor(l.windowStart / 60_000)}`),
      ),
    ];
    expect(want.length).toBeGreaterThan(0);
    expect(alerts.map((a) => `${a.sensorId}|${a.cooldownBucket}`).sort()).toEqual(want.sort());
    for (const a of alerts) {
      expect(a).toMatchObject({ statistic: 'p99', ruleType: 'threshold', above: 30 });
      expect(a.value as number).toBeGreaterThan(30);
    }
  });

  it('the output stream carries the same percentiles as the results table', async () => {
    const shards = await readAllRecords(clients, `${prefix}-final-windows`);
    const streamed = shards
      .flatMap((s) => s.records)
      .map((r) => JSON.parse(Buffer.from(r.Data!).toString('utf8')) as FinalWindow & { resultId: string });
    const byWindow = new Map(
      streamed.map((f) => [`${f.sensorId}|${f.windowType}|${f.windowStart}|${f.windowEnd}`, f]),
    );
    expect(byWindow.size).toBe(summary.windows);
    for (const l of lines) {
      const f = byWindow.get(`${l.sensorId}|${l.windowType}|${l.windowStart}|${l.windowEnd}`);
      const fromStream = Object.fromEntries(
        NAMES.map((n) => [n, f?.metrics.temperature?.[n as `p${string}`]]),
      );
      expect(fromStream).toEqual(Object.fromEntries(NAMES.map((n) => [n, l[n]])));
    }
  });
});
