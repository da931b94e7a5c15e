/**
 * A-K3 zscore end to end on the emulators: a zscore rule in mode alarm scoped to one
 * sensor (A-R2) goes ACTIVE on a spike and RESOLVED when the readings are back, through
 * Kinesis, the handler, the state table and SNS; each transition is on the topic once
 * (A-M2) although the batches are cut in two and the whole shard is then delivered again,
 * and the other sensor, outside the rule's scope, gets no alarm.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { drainQueue, type SnsEnvelope } from '../../local/cloud/index.js';
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
const config = parseConfig({
  stream: { shardCount: 1 },
  rules: [
    {
      name: 'odd-temperature',
      type: 'zscore',
      metric: 'temperature',
      scope: { sensor: 'furnace-1' },
      window: { count: 20 },
      threshold: 3,
      clear: 2,
      minCount: 8,
      severity: 'critical',
    },
  ],
});

/** 20 readings a second apart around 20 °C, a spike to 45 at the 13th, then back to normal. */
function readings(sensorId: string): { partitionKey: string; data: Uint8Array }[] {
  return Array.from({ length: 20 }, (_, i) => {
    const temperature = i === 12 ? 45 : 20 + (i % 2 === 0 ? -0.5 : 0.5);
    return {
      partitionKey: sensorId,
      data: Buffer.from(JSON.stringify({ sensorId, timestamp: T0 + i * 1_000, temperature })),
    };
  });
}

let p: TestPipeline;
let failures: unknown[][];
let published: SnsEnvelope[];

beforeAll(async () => {
  p = await createTestPipeline(endpoints, config, 'anomaly');
  // Interleaved as a fleet sends them: the two sensors share the shard.
  const a = readings('furnace-1');
  const b = readings('furnace-2');
  await putRecords(
    p.clients,
    p.streamName,
    a.flatMap((r, i) => [r, b[i]!]),
  );
  const [shard] = await readAllRecords(p.clients, p.streamName);
  const records = shard!.records;
  const invoke = async (slice: typeof records) =>
    (await p.handler()(kinesisEvent(shard!.shardId, slice, p.streamArn), lambdaContext())).batchItemFailures;
  // The spike is furnace-1's 13th reading, record 25: the first batch ends just after it.
  failures = [await invoke(records.slice(0, 26)), await invoke(records.slice(26)), await invoke(records)];
  // Everything the topic delivered to its tap queue (an SNS envelope per message).
  published = (await drainQueue(p.clients, p.queues.alertsTap, { waitMs: 1_500 })).map(
    (m) => m.body as SnsEnvelope,
  );
}, 120_000);

afterAll(() => p?.destroy());

describe('A-K3 zscore alarm on the emulators', () => {
  it('fails no record', () => {
    expect(failures).toEqual([[], [], []]);
  });

  it('publishes ALARM once and RESOLVED once, for the scoped sensor only, with filterable attributes', () => {
    const messages = published.map((e) => ({
      attributes: Object.fromEntries(Object.entries(e.MessageAttributes ?? {}).map(([k, v]) => [k, v.Value])),
      body: JSON.parse(e.Message) as Record<string, unknown>,
    }));
    expect(messages.map((m) => `${m.body.alarmId} ${m.body.transition}`).sort()).toEqual([
      'odd-temperature@furnace-1 ALARM',
      'odd-temperature@furnace-1 RESOLVED',
    ]);
    const alarm = messages.find((m) => m.body.transition === 'ALARM')!;
    expect(alarm.attributes).toMatchObject({
      kind: 'alarm',
      state: 'ACTIVE',
      transition: 'ALARM',
      sensorId: 'furnace-1',
      rule: 'odd-temperature',
      severity: 'critical',
    });
    expect(alarm.body).toMatchObject({
      ruleType: 'zscore',
      at: T0 + 12_000,
      since: T0 + 12_000,
      value: 45,
      detail: { count: 12, threshold: 3, mean: 20, stddev: expect.any(Number), z: expect.any(Number) },
    });
    expect((alarm.body.detail as { z: number }).z).toBeGreaterThan(40);
    const resolved = messages.find((m) => m.body.transition === 'RESOLVED')!;
    expect(resolved.body).toMatchObject({ from: 'ACTIVE', state: 'NORMAL', since: T0 + 12_000, peak: 45 });
    expect(resolved.body.at as number).toBeGreaterThan(T0 + 12_000);
  });

  it("keeps the alarm and the rule's window in furnace-1's state item, none in furnace-2's", async () => {
    const items = await scanAll(p.clients, p.tables.state);
    const body = (id: string) =>
      stateOfItem(items.find((i) => i.sensorId === id)!) as {
        alarms?: Record<string, { st: string }>;
        rs?: Record<string, { s: { v: number[] } }>;
      };
    expect(body('furnace-1').alarms).toEqual({ 'odd-temperature': expect.objectContaining({ st: 'N' }) });
    expect(body('furnace-1').rs!['odd-temperature']!.s.v).toHaveLength(20);
    expect(body('furnace-2').alarms).toBeUndefined();
    expect(body('furnace-2').rs).toBeUndefined();
  });
});
