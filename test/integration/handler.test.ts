/**
 * The window handler against the embedded emulators, with events built from records read
 * back from kinesis-local. Expected outputs are computed here, independently of the
 * pipeline, from the dataset's definition.
 */
import type { _Record } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { flushOpenWindows } from '../../functions/pipeline/flush.js';
import {
  createTestPipeline,
  FaultProbe,
  kinesisEvent,
  lambdaContext,
  putRecords,
  readAllRecords,
  scanAll,
  snapshot,
  type TestPipeline,
} from './pipeline-helpers.js';

const config = parseConfig({ stream: { shardCount: 2 } });
const endpoints = inject('endpoints');
const T0 = Date.UTC(2026, 0, 1); // a multiple of 60 s
const SENSORS = ['sensor-1', 'sensor-2', 'sensor-3'];
const BATCH_SIZE = 100;

interface Expected {
  valid: { sensorId: string; ts: number; v: number }[];
  late: { sensorId: string; ts: number; v: number }[];
}

/** 3 sensors x 150 s at 1 Hz, one spike, two invalid records, two late readings. */
function dataset(): { records: { partitionKey: string; data: Uint8Array }[]; expected: Expected } {
  const records: { partitionKey: string; data: Uint8Array }[] = [];
  const expected: Expected = { valid: [], late: [] };
  const put = (partitionKey: string, body: unknown) =>
    records.push({ partitionKey, data: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) });
  for (let i = 0; i < 150; i++) {
    SENSORS.forEach((sensorId, s) => {
      const ts = T0 + i * 1_000;
      const v = sensorId === 'sensor-2' && i === 30 ? 40 : 20 + (((i * 7 + s * 3) % 5) - 2) * 0.5;
      expected.valid.push({ sensorId, ts, v });
      // sensor-3 speaks the classic Kafka tutorials' format: sensor_id and ISO-8601 time.
      if (sensorId === 'sensor-3')
        put(sensorId, { sensor_id: sensorId, timestamp: new Date(ts).toISOString(), temperature: v });
      else put(sensorId, { sensorId, timestamp: ts, temperature: v, unit: 'C' });
    });
    if (i === 10) put('sensor-1', 'not json at all');
    if (i === 20) put('sensor-1', { sensorId: 'sensor-1', timestamp: 'yesterday', temperature: 1 });
  }
  // Both arrive after the watermark passed T0 + 60 s + 10 s: their window is final.
  put('sensor-1', { sensorId: 'sensor-1', timestamp: T0 + 5_000, temperature: 22 });
  put('sensor-3', { sensorId: 'sensor-3', timestamp: T0 + 6_000, temperature: 2 });
  expected.late.push(
    { sensorId: 'sensor-1', ts: T0 + 5_000, v: 22 },
    { sensorId: 'sensor-3', ts: T0 + 6_000, v: 2 },
  );
  return { records, expected };
}

/** Window aggregates computed the plain way, for comparison. */
function expectedWindows(valid: Expected['valid']) {
  const windows = new Map<string, { sensorId: string; start: number; values: number[] }>();
  for (const r of valid) {
    const start = Math.floor(r.ts / 60_000) * 60_000;
    const key = `${r.sensorId}|${start}`;
    const w = windows.get(key) ?? { sensorId: r.sensorId, start, values: [] };
    w.values.push(r.v);
    windows.set(key, w);
  }
  return [...windows.values()].map((w) => ({
    sensorId: w.sensorId,
    windowStart: w.start,
    windowEnd: w.start + 60_000,
    count: w.values.length,
    sum: w.values.reduce((a, b) => a + b, 0),
    min: Math.min(...w.values),
    max: Math.max(...w.values),
  }));
}

type Batch = { shardId: string; records: _Record[] };

function batchesOf(shards: { shardId: string; records: _Record[] }[]): Batch[] {
  const batches: Batch[] = [];
  for (const shard of shards) {
    for (let i = 0; i < shard.records.length; i += BATCH_SIZE) {
      batches.push({ shardId: shard.shardId, records: shard.records.slice(i, i + BATCH_SIZE) });
    }
  }
  return batches;
}

const data = dataset();
let clean: TestPipeline;
let batches: Batch[];
let cleanSnapshot: Awaited<ReturnType<typeof snapshot>>;
const perBatch: {
  writes: number;
  reported: number;
  sensors: number;
  results: number;
  ledger: number;
  records: number;
}[] = [];
let resultsBeforeFlush: Record<string, unknown>[];

async function runAll(p: TestPipeline, probeFactory: () => FaultProbe | undefined = () => undefined) {
  const h = p.handler(probeFactory());
  for (const batch of batches) {
    const res = await h(kinesisEvent(batch.shardId, batch.records, p.streamArn), lambdaContext());
    expect(res.batchItemFailures).toEqual([]);
  }
  return h;
}

beforeAll(async () => {
  clean = await createTestPipeline(endpoints, config, 'handler');
  await putRecords(clean.clients, clean.streamName, data.records);
  batches = batchesOf(await readAllRecords(clean.clients, clean.streamName));

  const probe = new FaultProbe();
  const h = clean.handler(probe);
  for (const batch of batches) {
    const before = {
      writes: probe.writes,
      results: (await scanAll(clean.clients, clean.tables.results)).length,
    };
    const ledgerBefore = (await scanAll(clean.clients, clean.tables.ledger)).length;
    const res = await h(kinesisEvent(batch.shardId, batch.records, clean.streamArn), lambdaContext());
    expect(res.batchItemFailures).toEqual([]);
    const report = h.lastReport()!;
    const sensors = new Set(
      batch.records.map((r) => r.PartitionKey).filter((k) => SENSORS.includes(String(k))),
    );
    perBatch.push({
      writes: probe.writes - before.writes,
      reported: report.writeRequests,
      sensors: sensors.size,
      results: (await scanAll(clean.clients, clean.tables.results)).length - before.results,
      ledger: (await scanAll(clean.clients, clean.tables.ledger)).length - ledgerBefore,
      records: batch.records.length,
    });
  }
  resultsBeforeFlush = await scanAll(clean.clients, clean.tables.results);
  await flushOpenWindows(h.deps, SENSORS);
  cleanSnapshot = await snapshot(clean);
}, 120_000);

afterAll(() => clean?.destroy());

describe('Handler: windows, lateness and rules end to end on the emulators', () => {
  it('writes each final window once to the results table with the expected aggregates', () => {
    const expected = expectedWindows(data.expected.valid);
    expect(cleanSnapshot.results).toHaveLength(expected.length);
    for (const e of expected) {
      const got = cleanSnapshot.results.find(
        (r) => r.sensorId === e.sensorId && r.windowStart === e.windowStart,
      );
      expect(got, `${e.sensorId} ${e.windowStart}`).toBeDefined();
      const t = (got!.metrics as Record<string, Record<string, number>>).temperature!;
      expect(got).toMatchObject({ windowType: 'tumbling', windowSizeMs: 60_000, windowEnd: e.windowEnd });
      expect(t.count).toBe(e.count);
      expect(t.sum).toBeCloseTo(e.sum, 9);
      expect(t.mean).toBeCloseTo(e.sum / e.count, 9);
      expect([t.min, t.max]).toEqual([e.min, e.max]);
    }
  });

  it('emits windows as final only once watermark >= end + lateness (before the flush: the first two minutes)', () => {
    const starts = resultsBeforeFlush.map((r) => `${r.sensorId}|${Number(r.windowStart) - T0}`).sort();
    expect(starts).toEqual(SENSORS.flatMap((s) => [`${s}|0`, `${s}|60000`]).sort());
  });

  it('publishes each alert once through SNS with kind, sensorId, rule, ruleVersion and severity attributes', () => {
    const alerts = cleanSnapshot.alerts.map(
      (a) => `${a.alert.sensorId}:${a.alert.rule}:${a.alert.value}:${a.alert.late}`,
    );
    expect(alerts.sort()).toEqual(
      [
        'sensor-2:too-hot:40:false',
        'sensor-2:jump:40:false',
        'sensor-3:too-cold:2:true',
        'sensor-3:jump:2:true',
      ].sort(),
    );
    for (const { alert, attributes } of cleanSnapshot.alerts) {
      expect(attributes.sensorId?.Value).toBe(alert.sensorId);
      expect(attributes.rule?.Value).toBe(alert.rule);
      expect(attributes.severity?.Value).toBe(alert.severity);
      // A-R3: a configured rule without a version is version 0, in the body and the attribute.
      expect(attributes.kind?.Value).toBe('alert');
      expect(attributes.ruleVersion?.Value).toBe('0');
      expect(alert).toMatchObject({ metric: 'temperature', ruleVersion: 0 });
      expect(alert.alertId).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('sends late readings to the late queue, out of every aggregate', () => {
    expect(cleanSnapshot.late.map((l) => l as unknown as { sensorId: string; timestamp: number })).toEqual(
      expect.arrayContaining(
        data.expected.late.map((l) => expect.objectContaining({ sensorId: l.sensorId, timestamp: l.ts })),
      ),
    );
    expect(cleanSnapshot.late).toHaveLength(2);
  });

  it('sends invalid records to the invalid queue with a reason and the original bytes', () => {
    const invalid = cleanSnapshot.invalid.map((m) => [m.reason, Buffer.from(m.data, 'base64').toString()]);
    expect(invalid.sort()).toEqual(
      [
        ['not-json', 'not json at all'],
        [
          'invalid-timestamp',
          JSON.stringify({ sensorId: 'sensor-1', timestamp: 'yesterday', temperature: 1 }),
        ],
      ].sort(),
    );
  });

  it('makes DynamoDB write requests per batch follow the distinct items touched, not the records', () => {
    for (const b of perBatch) {
      // Independent count: middleware-counted requests = one state item per sensor in the
      // batch + one conditional put per new result + one BatchWriteItem per 25 ledger entries.
      expect(b.writes).toBe(b.reported);
      expect(b.writes).toBe(b.sensors + b.results + Math.ceil(b.ledger / 25));
      expect(b.writes).toBeLessThanOrEqual(b.sensors + b.results + b.ledger);
    }
    const records = perBatch.reduce((a, b) => a + b.records, 0);
    const writes = perBatch.reduce((a, b) => a + b.writes, 0);
    expect(writes * 10).toBeLessThan(records);
  });
});

describe('Delivery guarantees: a redelivered batch changes nothing twice', () => {
  it('whole-batch redelivery, warm and cold, leaves identical state and no duplicate alerts', async () => {
    const p = await createTestPipeline(endpoints, config, 'redeliver');
    try {
      const h = p.handler();
      for (const batch of batches) {
        const event = kinesisEvent(batch.shardId, batch.records, p.streamArn);
        expect((await h(event, lambdaContext())).batchItemFailures).toEqual([]);
        expect((await h(event, lambdaContext())).batchItemFailures).toEqual([]);
        expect(h.lastReport()!.readings).toBe(0);
      }
      // A cold container receives everything again.
      await runAll(p);
      await flushOpenWindows(h.deps, SENSORS);
      const snap = await snapshot(p);
      expect(snap.state).toEqual(cleanSnapshot.state);
      expect(snap.results).toEqual(cleanSnapshot.results);
      expect(snap.alerts.map((a) => a.alert).sort(byId('alertId'))).toEqual(
        cleanSnapshot.alerts.map((a) => a.alert).sort(byId('alertId')),
      );
      expectSameById(snap.late, cleanSnapshot.late);
      expectSameById(snap.invalid, cleanSnapshot.invalid);
    } finally {
      p.destroy();
    }
  });

  it('a crash after k DynamoDB writes, then redelivery to a new container, gives the clean run for every k; an alert is repeated (identically) only when the crash fell between its publish and its ledger write', async () => {
    const totalWrites = perBatch.reduce((a, b) => a + b.writes, 0);
    expect(totalWrites).toBeGreaterThan(5);
    let gapCrashes = 0;
    const ks = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23].filter(
      (k) => k < totalWrites,
    );
    for (const k of ks) {
      const p = await createTestPipeline(endpoints, config, `crash${k}`);
      try {
        const probe = new FaultProbe(k);
        let h = p.handler(probe);
        let crashed = false;
        for (const batch of batches) {
          const event = kinesisEvent(batch.shardId, batch.records, p.streamArn);
          let failed: boolean;
          try {
            failed = (await h(event, lambdaContext())).batchItemFailures.length > 0;
          } catch {
            failed = true;
          }
          if (failed || probe.dead) {
            expect(probe.dead).toBe(true);
            crashed = true;
            // Lambda retries the whole batch on a fresh container.
            h = p.handler();
            expect((await h(event, lambdaContext())).batchItemFailures).toEqual([]);
          }
        }
        expect(crashed, `k=${k}`).toBe(true);
        await flushOpenWindows(h.deps, SENSORS);
        const snap = await snapshot(p);
        expect(snap.state, `k=${k}`).toEqual(cleanSnapshot.state);
        expect(snap.results, `k=${k}`).toEqual(cleanSnapshot.results);
        const alerts = snap.alerts.map((a) => ({ ...a.alert, id: a.alert.alertId }));
        expectSameById(
          alerts,
          cleanSnapshot.alerts.map((a) => ({ ...a.alert, id: a.alert.alertId })),
        );
        const repeats = alerts.length - cleanSnapshot.alerts.length;
        if (probe.publishesInGapAtCrash === 0) expect(repeats, `k=${k}: crash outside the gap`).toBe(0);
        else expect(repeats, `k=${k}`).toBeLessThanOrEqual(probe.publishesInGapAtCrash);
        gapCrashes += probe.publishesInGapAtCrash > 0 ? 1 : 0;
        expectSameById(snap.late, cleanSnapshot.late);
        expectSameById(snap.invalid, cleanSnapshot.invalid);
      } finally {
        p.destroy();
      }
    }
    // The dataset's alerts make at least one k land in the gap, so both branches ran.
    expect(gapCrashes).toBeGreaterThan(0);
  }, 240_000);
});

describe('Handler entry point: configuration from the environment, endpoints from AWS_ENDPOINT_URL_*', () => {
  it('handler.ts builds everything from process.env and processes a batch', async () => {
    const p = await createTestPipeline(endpoints, config, 'entry');
    const saved = { ...process.env };
    try {
      Object.assign(process.env, p.env);
      const { handler } = await import('../../functions/window-handler/handler.js');
      const batch = batches[0]!;
      const res = await handler(kinesisEvent(batch.shardId, batch.records, p.streamArn), lambdaContext());
      expect(res.batchItemFailures).toEqual([]);
      const state = await scanAll(p.clients, p.tables.state);
      expect(state.length).toBeGreaterThan(0);
    } finally {
      process.env = saved;
      p.destroy();
    }
  });
});

function byId<K extends string>(key: K) {
  return (a: Record<K, unknown>, b: Record<K, unknown>) => String(a[key]).localeCompare(String(b[key]));
}

/** At-least-once sinks: the same set of ids, and every repeat identical to the first. */
function expectSameById(got: { id: string }[], want: { id: string }[]) {
  const first = new Map<string, string>();
  for (const m of got) {
    const text = JSON.stringify(m);
    expect(first.get(m.id) ?? text).toBe(text);
    first.set(m.id, text);
  }
  expect([...first.values()].sort()).toEqual(want.map((m) => JSON.stringify(m)).sort());
}
