/**
 * The real window handler behind the local event source mapping: records put to the
 * stream, the mapping drains it, open windows are flushed, and the results table, the
 * alert topic and the late and invalid queues hold what the dataset implies (computed
 * here independently). A handler that crashes once, before or after doing its work or in
 * the middle of its writes, must leave the same outcome.
 */
import type { Context, KinesisStreamEvent } from 'aws-lambda';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { flushOpenWindows } from '../../functions/pipeline/flush.js';
import type { WindowHandler } from '../../functions/window-handler/build.js';
import { LocalEventSourceMapping, type MappingHandler, type MappingStats } from '../../local/esm/index.js';
import {
  createTestPipeline,
  FaultProbe,
  InjectedCrashError,
  putRecords,
  snapshot,
  type TestPipeline,
} from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const config = parseConfig({
  stream: { shardCount: 2 },
  eventSource: {
    batchSize: 25,
    maxBatchingWindowSeconds: 0,
    parallelizationFactor: 2,
    // The mapping's per-batch mechanics (lanes, bisection); carried state is esm-tumbling's.
    tumblingWindowSeconds: 0,
    bisectBatchOnFunctionError: true,
    retryAttempts: 3,
  },
});
const T0 = Date.UTC(2026, 0, 1); // a multiple of 60 s
const SENSORS = ['s-1', 's-2', 's-3', 's-4'];
const TICKS = 130;

interface Reading {
  sensorId: string;
  ts: number;
  v: number;
}

/** 4 sensors x 130 s at 1 Hz, a hot spike, a cold dip, one invalid record, one late reading. */
function dataset() {
  const records: { partitionKey: string; data: Uint8Array }[] = [];
  const arrivals: Reading[] = [];
  const put = (r: Reading) => {
    arrivals.push(r);
    records.push({
      partitionKey: r.sensorId,
      data: Buffer.from(JSON.stringify({ sensorId: r.sensorId, timestamp: r.ts, temperature: r.v })),
    });
  };
  for (let i = 0; i < TICKS; i++) {
    SENSORS.forEach((sensorId, s) => {
      let v = 20 + (((i * 7 + s * 3) % 5) - 2) * 0.5;
      if (sensorId === 's-2' && i === 30) v = 40;
      if (sensorId === 's-4' && i === 95) v = 2;
      put({ sensorId, ts: T0 + i * 1_000, v });
    });
    if (i === 50) records.push({ partitionKey: 's-3', data: Buffer.from('not json at all') });
  }
  // Its window [T0, T0 + 60 s) is final: the sensor's watermark is T0 + 129 s.
  const late: Reading = { sensorId: 's-1', ts: T0 + 5_000, v: 21 };
  put(late);
  return { records, arrivals, late };
}

const data = dataset();

/** Final windows computed the plain way (the late reading is in none). */
function expectedWindows() {
  const windows = new Map<string, { sensorId: string; start: number; values: number[] }>();
  for (const r of data.arrivals) {
    if (r === data.late) continue;
    const start = Math.floor(r.ts / 60_000) * 60_000;
    const key = `${r.sensorId}|${start}`;
    const w = windows.get(key) ?? { sensorId: r.sensorId, start, values: [] };
    w.values.push(r.v);
    windows.set(key, w);
  }
  return [...windows.values()].map((w) => ({
    sensorId: w.sensorId,
    windowStart: w.start,
    count: w.values.length,
    sum: w.values.reduce((a, b) => a + b, 0),
    min: Math.min(...w.values),
    max: Math.max(...w.values),
  }));
}

/** too-hot (> 35), too-cold (< 5), jump (|delta| > 5), once per (sensor, rule, minute). */
function expectedAlerts(): string[] {
  const out: string[] = [];
  const previous = new Map<string, number>();
  const fired = new Set<string>();
  for (const r of data.arrivals) {
    const prev = previous.get(r.sensorId);
    const fires = {
      'too-hot': r.v > 35,
      'too-cold': r.v < 5,
      jump: prev !== undefined && Math.abs(r.v - prev) > 5,
    };
    for (const [rule, yes] of Object.entries(fires)) {
      const key = `${r.sensorId}:${rule}:${Math.floor(r.ts / 60_000)}`;
      if (yes && !fired.has(key)) out.push(`${r.sensorId}:${rule}:${r.v}:${r.ts}`);
      if (yes) fired.add(key);
    }
    previous.set(r.sensorId, r.v);
  }
  return out.sort();
}

type Wrap = (p: TestPipeline) => { handler: MappingHandler; crashes: () => number };

async function run(label: string, wrap: Wrap) {
  const p = await createTestPipeline(endpoints, config, label);
  cleanup.push(() => p.destroy());
  await putRecords(p.clients, p.streamName, data.records);
  const { handler, crashes } = wrap(p);
  const m = new LocalEventSourceMapping({
    clients: p.clients,
    streamName: p.streamName,
    settings: config.eventSource,
    handler,
    functionName: 'windowpane-window-handler',
    idlePollMs: 50,
    shardRefreshMs: 200,
    retryBaseDelayMs: 20,
  });
  cleanup.push(() => m.stop());
  const started = performance.now();
  m.start();
  await m.drain({ timeoutMs: 40_000 });
  const drainMs = performance.now() - started;
  const stats: MappingStats = m.stats();
  await m.stop();
  // End of the replay: a fresh container closes the open windows.
  await flushOpenWindows(p.handler().deps, SENSORS);
  return { snap: await snapshot(p), stats, drainMs, crashes: crashes() };
}

const clean: Wrap = (p) => ({ handler: p.handler(), crashes: () => 0 });

/** Throws on its first invocation, before (or after) the real handler did the work. */
const crashOnce =
  (when: 'before' | 'after'): Wrap =>
  (p) => {
    const real = p.handler();
    let calls = 0;
    return {
      handler: async (event: KinesisStreamEvent, context: Context) => {
        const first = calls++ === 0;
        if (first && when === 'before') throw new InjectedCrashError();
        const response = await real(event, context);
        if (first) throw new InjectedCrashError('injected crash: died before answering');
        return response;
      },
      crashes: () => Math.min(calls, 1),
    };
  };

/** The container dies at its 6th DynamoDB write; Lambda then starts a new one. */
const crashMidWrites: Wrap = (p) => {
  const probe = new FaultProbe(5);
  let current: WindowHandler = p.handler(probe);
  let crashes = 0;
  const replaceIfDead = () => {
    if (!probe.dead || crashes > 0) return false;
    crashes++;
    current = p.handler();
    return true;
  };
  return {
    handler: async (event: KinesisStreamEvent, context: Context) => {
      let response: Awaited<ReturnType<WindowHandler>>;
      try {
        response = await current(event, context);
      } catch (err) {
        replaceIfDead();
        throw err;
      }
      if (replaceIfDead()) throw new InjectedCrashError();
      return response;
    },
    crashes: () => crashes,
  };
};

let reference: Awaited<ReturnType<typeof run>> | undefined;

describe('LocalEventSourceMapping + the window handler', () => {
  it('drains the stream through the real handler: final windows, alerts, late and invalid records as the dataset implies', async () => {
    const result = await run('esm-pipe', clean);
    reference = result;
    const { snap, stats, drainMs } = result;
    if (process.env.WINDOWPANE_TEST_VERBOSE) {
      console.log(`real handler: ${data.records.length} records drained in ${drainMs.toFixed(0)} ms`);
    }
    expect(stats).toMatchObject({ records: data.records.length, errors: 0, discarded: 0, inFlight: 0 });

    const expected = expectedWindows();
    expect(snap.results).toHaveLength(expected.length);
    for (const e of expected) {
      const got = snap.results.find((r) => r.sensorId === e.sensorId && r.windowStart === e.windowStart);
      expect(got, `${e.sensorId} ${e.windowStart}`).toBeDefined();
      const t = (got!.metrics as Record<string, Record<string, number>>).temperature!;
      expect(t.count).toBe(e.count);
      expect(t.sum).toBeCloseTo(e.sum, 9);
      expect([t.min, t.max]).toEqual([e.min, e.max]);
      expect(t.mean).toBeCloseTo(e.sum / e.count, 9);
    }
    expect(
      snap.alerts
        .map((a) => `${a.alert.sensorId}:${a.alert.rule}:${a.alert.value}:${a.alert.timestamp}`)
        .sort(),
    ).toEqual(expectedAlerts());
    // The late and invalid queues are at-least-once sinks (the flush's fresh container
    // delivers the last outbox again): one distinct message each.
    expect(new Set(snap.late.map((l) => l.id)).size).toBe(1);
    expect(snap.late[0]).toMatchObject({ sensorId: 's-1', timestamp: data.late.ts });
    expect(new Set(snap.invalid.map((i) => i.id)).size).toBe(1);
    expect([snap.invalid[0]!.reason, Buffer.from(snap.invalid[0]!.data, 'base64').toString()]).toEqual([
      'not-json',
      'not json at all',
    ]);
  });

  it.each([
    ['before doing anything', crashOnce('before')],
    ['after doing its work, before answering', crashOnce('after')],
    ['in the middle of its DynamoDB writes (new container after)', crashMidWrites],
  ])('a handler that crashes once %s leaves the same outcome', async (_what, wrap) => {
    expect(reference, 'the clean run ran first').toBeDefined();
    const { snap, stats, crashes } = await run('esm-crash', wrap);
    expect(crashes).toBe(1);
    expect(stats.errors).toBeGreaterThanOrEqual(1);
    expect(stats.discarded).toBe(0);
    const want = reference!.snap;
    expect(snap.results).toEqual(want.results);
    // Alerts are delivered at least once and identified by their cause: the same set of
    // ids, and a repeat (a crash between publish and ledger write) identical to the first.
    const alertsById = new Map<string, string>();
    for (const { alert } of snap.alerts) {
      const text = JSON.stringify(alert);
      expect(alertsById.get(alert.alertId) ?? text).toBe(text);
      alertsById.set(alert.alertId, text);
    }
    expect([...alertsById.values()].sort()).toEqual(want.alerts.map((a) => JSON.stringify(a.alert)).sort());
    // Late and invalid ids hold the sequence number, which differs from stream to stream.
    const strip = ({ id: _id, ...rest }: { id: string }) => rest;
    const distinct = (late: { id: string }[]) => [...new Set(late.map((l) => JSON.stringify(strip(l))))];
    expect(distinct(snap.late)).toEqual(distinct(want.late));
    expect(new Set(snap.invalid.map((i) => i.reason + i.data))).toEqual(
      new Set(want.invalid.map((i) => i.reason + i.data)),
    );
  });
});
