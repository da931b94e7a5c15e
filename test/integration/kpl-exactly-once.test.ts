/**
 * KPL aggregates through kinesis-local and the handler, exactly once (SEMANTICS.md,
 * "Input formats" and "Delivery guarantees"): readings packed into aggregates by
 * aws-kinesis-agg's aggregator give the same final windows and alerts as the same
 * readings sent plain; a crash after a commit that cut an aggregate in two, the whole
 * batch redelivered, and a redelivered tail of it change nothing already applied.
 */
import type { _Record } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { flushOpenWindows } from '../../functions/pipeline/flush.js';
import { aggregate } from '../../local/kpl-aggregator.js';
import {
  createTestPipeline,
  FaultProbe,
  kinesisEvent,
  lambdaContext,
  putRecords,
  readAllRecords,
  scanAll,
  snapshot,
  stateOfItem,
  type TestPipeline,
} from './pipeline-helpers.js';

const config = parseConfig({ stream: { shardCount: 1 } });
const endpoints = inject('endpoints');
const T0 = Date.UTC(2026, 0, 1);
const SENSORS = ['k1', 'k2', 'k3'];
const PER_SENSOR = 150;
const PER_AGGREGATE = 25;
/** Smaller than an aggregate, so commits cut aggregates in two. */
const RECORDS_PER_COMMIT = 10;

/** Readings 1 s apart over 2.5 minutes; every 40th is hot (the too-hot rule fires). */
function readings(sensorId: string) {
  return Array.from({ length: PER_SENSOR }, (_, i) => ({
    sensorId,
    timestamp: T0 + i * 1000,
    temperature: i % 40 === 7 ? 40 : 20 + (i % 5),
  }));
}

const plain = SENSORS.flatMap((s) =>
  readings(s).map((r) => ({ partitionKey: s, data: Buffer.from(JSON.stringify(r)) })),
);
const aggregated = SENSORS.flatMap((s) => {
  const rs = readings(s);
  const out: { partitionKey: string; data: Buffer }[] = [];
  for (let i = 0; i < rs.length; i += PER_AGGREGATE) {
    const user = rs
      .slice(i, i + PER_AGGREGATE)
      .map((r) => ({ partitionKey: s, data: Buffer.from(JSON.stringify(r)) }));
    out.push({ partitionKey: s, data: aggregate(user) });
  }
  return out;
});

async function loaded(
  label: string,
  records: readonly { partitionKey: string; data: Uint8Array }[],
): Promise<{ p: TestPipeline; shard: { shardId: string; records: _Record[] } }> {
  const p = await createTestPipeline(endpoints, config, label);
  await putRecords(p.clients, p.streamName, records);
  const [shard] = await readAllRecords(p.clients, p.streamName);
  return { p, shard: shard! };
}

const outputsOf = (snap: Awaited<ReturnType<typeof snapshot>>) => ({
  results: snap.results,
  alerts: snap.alerts.map((a) => a.alert).sort((a, b) => String(a.alertId).localeCompare(String(b.alertId))),
});

let clean: ReturnType<typeof outputsOf>;
const pipelines: TestPipeline[] = [];

beforeAll(async () => {
  const { p, shard } = await loaded('kpl-plain', plain);
  pipelines.push(p);
  const h = p.handler();
  expect(
    (await h(kinesisEvent(shard.shardId, shard.records, p.streamArn), lambdaContext())).batchItemFailures,
  ).toEqual([]);
  await flushOpenWindows(h.deps, SENSORS);
  clean = outputsOf(await snapshot(p));
}, 120_000);

afterAll(() => {
  for (const p of pipelines) p.destroy();
});

describe('KPL aggregates: the same outputs as plain records, exactly once under redelivery', () => {
  it('the plain run finalises windows and fires alerts (the comparison is not empty)', () => {
    expect(clean.results.length).toBeGreaterThanOrEqual(SENSORS.length * 2);
    expect(clean.alerts.length).toBeGreaterThan(0);
  });

  it('aggregated: a crash after a commit cut an aggregate, the batch redelivered twice, then its tail: the plain outputs', async () => {
    const { p, shard } = await loaded('kpl-agg', aggregated);
    pipelines.push(p);
    expect(shard.records).toHaveLength(aggregated.length);
    const event = kinesisEvent(shard.shardId, shard.records, p.streamArn);

    // First container: dies at its third DynamoDB write, after commits of 10 of 25 user records.
    const probe = new FaultProbe(2);
    const first = p.handler(probe);
    first.deps.maxRecordsPerCommit = RECORDS_PER_COMMIT;
    await first(event, lambdaContext()).catch(() => undefined);
    expect(probe.dead).toBe(true);
    // What was committed ends inside an aggregate: the fence holds <sequenceNumber>.<subIndex>.
    const fences = (await scanAll(p.clients, p.tables.state)).flatMap((item) =>
      Object.values(stateOfItem(item).applied),
    );
    expect(fences.length).toBeGreaterThan(0);
    expect(fences.every((f) => /^\d+\.\d+$/.test(f))).toBe(true);

    // Lambda retries the whole batch on a fresh container: only what was not applied is.
    const second = p.handler();
    second.deps.maxRecordsPerCommit = RECORDS_PER_COMMIT;
    expect((await second(event, lambdaContext())).batchItemFailures).toEqual([]);
    const retried = second.lastReport()!;
    expect(retried.duplicates).toBeGreaterThan(0);
    expect(retried.readings + retried.duplicates).toBe(SENSORS.length * PER_SENSOR);

    // Redelivered again in full, and a redelivered tail starting inside the batch: all duplicates.
    const third = p.handler();
    expect((await third(event, lambdaContext())).batchItemFailures).toEqual([]);
    expect(third.lastReport()!).toMatchObject({ readings: 0, duplicates: SENSORS.length * PER_SENSOR });
    const tail = kinesisEvent(shard.shardId, shard.records.slice(3), p.streamArn);
    expect((await third(tail, lambdaContext())).batchItemFailures).toEqual([]);
    expect(third.lastReport()!.readings).toBe(0);

    await flushOpenWindows(third.deps, SENSORS);
    const got = outputsOf(await snapshot(p));
    expect(got.results).toEqual(clean.results);
    expect(got.alerts).toEqual(clean.alerts);
  }, 120_000);
});
