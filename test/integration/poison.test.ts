/**
 * Poison records through Kinesis and the handler: every kind ends in the invalid queue
 * with its specific reason and the original bytes (a corrupt KPL aggregate whole, once),
 * none fails the batch, and none changes any sensor's state. The handler reads Avro with
 * the local registry stand-in, which knows the readings schema and nothing else.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { frameConfluent, frameGlue } from '../../functions/ingest/avro-wire.js';
import { drainQueue } from '../../local/cloud/index.js';
import { AvroReadingEncoder } from '../../local/registry/avro-producer.js';
import { LocalSchemaRegistry } from '../../local/registry/local-schema-registry.js';
import { aggregate, encodeRawAggregate, frame } from '../unit/kpl-encoder.js';
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

const config = parseConfig({ stream: { shardCount: 1 } });
const endpoints = inject('endpoints');
const T0 = Date.UTC(2026, 0, 1);
const text = (s: string) => Buffer.from(s);
const json = (o: unknown) => text(JSON.stringify(o));

const registry = new LocalSchemaRegistry();
const avro = new AvroReadingEncoder({ registry, metrics: config.metrics });
const goodAvro = avro.encodeReading({ sensorId: 'a', timestamp: T0, values: { temperature: 1 } })!;
const goodAggregate = aggregate([
  { partitionKey: 'a', data: json({ sensorId: 'a', timestamp: T0, temperature: 1 }) },
  { partitionKey: 'a', data: json({ sensorId: 'a', timestamp: T0 + 1, temperature: 2 }) },
]);
const flipped = (data: Buffer, at: number) => {
  const copy = Buffer.from(data);
  copy[at < 0 ? copy.length + at : at]! ^= 0xff;
  return copy;
};

/** Corrupt KPL aggregates (each invalid whole) and Avro the registry cannot read. */
const POISON_BINARY: { kind: string; data: Buffer; reason: string }[] = [
  { kind: 'aggregate, bad MD5', data: flipped(goodAggregate, -1), reason: 'kpl-bad-checksum' },
  { kind: 'aggregate, damaged magic', data: flipped(goodAggregate, 1), reason: 'kpl-bad-magic' },
  { kind: 'aggregate, cut short', data: goodAggregate.subarray(0, 14), reason: 'kpl-truncated' },
  {
    kind: 'aggregate, truncated protobuf',
    data: frame(encodeRawAggregate({ partition_key_table: ['a'], records: [] }).subarray(0, 2)),
    reason: 'kpl-truncated-protobuf',
  },
  {
    kind: 'aggregate, key index out of range',
    data: frame(
      encodeRawAggregate({
        partition_key_table: ['a'],
        records: [{ partition_key_index: 5, data: json({ sensorId: 'a', timestamp: T0, temperature: 1 }) }],
      }),
    ),
    reason: 'kpl-key-index-out-of-range',
  },
  {
    kind: 'aggregate, no records',
    data: frame(encodeRawAggregate({ partition_key_table: ['a'] })),
    reason: 'kpl-no-records',
  },
  {
    kind: 'Glue Avro, unknown schema version',
    data: frameGlue('00000000-0000-4000-8000-000000000000', goodAvro.subarray(18)),
    reason: 'avro-unknown-schema',
  },
  {
    kind: 'Confluent Avro, unknown schema id',
    data: frameConfluent(9_999, goodAvro.subarray(18)),
    reason: 'avro-unknown-schema',
  },
  { kind: 'Glue Avro, undecodable body', data: goodAvro.subarray(0, 20), reason: 'avro-undecodable' },
  {
    kind: 'Glue Avro, bad compression byte',
    data: Buffer.concat([goodAvro.subarray(0, 1), Buffer.from([9]), goodAvro.subarray(2)]),
    reason: 'avro-bad-header',
  },
];

/** Kinds of bad record (21 JSON ones, then the binary ones), each with the reason it must be refused for. */
const POISON: { kind: string; data: Buffer; reason: string }[] = [
  { kind: 'not JSON', data: text('temperature=21'), reason: 'not-json' },
  { kind: 'not UTF-8', data: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), reason: 'not-utf8' },
  { kind: 'whitespace only', data: text('   '), reason: 'empty' },
  { kind: '1 MB blob', data: Buffer.alloc(1_000_000, 0x41), reason: 'too-large' },
  {
    kind: 'JSON array',
    data: json([{ sensorId: 'a', timestamp: T0, temperature: 1 }]),
    reason: 'not-object',
  },
  { kind: 'JSON scalar', data: text('42'), reason: 'not-object' },
  { kind: 'missing timestamp', data: json({ sensorId: 'a', temperature: 1 }), reason: 'missing-timestamp' },
  {
    kind: 'sensorId a number',
    data: json({ sensorId: 7, timestamp: T0, temperature: 1 }),
    reason: 'invalid-sensor-id',
  },
  {
    kind: 'bare NaN',
    data: text(`{"sensorId":"a","timestamp":${T0},"temperature":NaN}`),
    reason: 'non-finite-number',
  },
  {
    kind: 'numeric string metric',
    data: json({ sensorId: 'a', timestamp: T0, temperature: '21.5' }),
    reason: 'invalid-metric',
  },
  {
    kind: 'id too long',
    data: json({ sensorId: 'x'.repeat(257), timestamp: T0, temperature: 1 }),
    reason: 'sensor-id-too-long',
  },
  {
    kind: 'unparseable timestamp',
    data: json({ sensorId: 'a', timestamp: 'noon', temperature: 1 }),
    reason: 'invalid-timestamp',
  },
  {
    kind: 'timestamp in 1999',
    data: json({ sensorId: 'a', timestamp: Date.UTC(1999, 0, 1), temperature: 1 }),
    reason: 'timestamp-out-of-range',
  },
  {
    kind: 'timestamp in 2090',
    data: json({ sensorId: 'a', timestamp: Date.UTC(2090, 0, 1), temperature: 1 }),
    reason: 'timestamp-out-of-range',
  },
  {
    kind: 'deeply nested',
    data: text(`{"sensorId":"a","timestamp":${T0},"temperature":1,"x":${'['.repeat(40)}${']'.repeat(40)}}`),
    reason: 'too-deep',
  },
  {
    kind: 'duplicate keys',
    data: text(`{"sensorId":"a","timestamp":${T0},"temperature":1,"sensorId":"b"}`),
    reason: 'duplicate-key',
  },
  {
    kind: '__proto__ key',
    data: text(`{"sensorId":"a","timestamp":${T0},"temperature":1,"__proto__":{"admin":true}}`),
    reason: 'forbidden-key',
  },
  // Two of these would overflow a sum to Infinity, and NaN once reloaded (issue 13).
  {
    kind: '1e308',
    data: text(`{"sensorId":"a","timestamp":${T0},"temperature":1e308}`),
    reason: 'metric-out-of-range',
  },
  {
    kind: '1e308 again',
    data: text(`{"sensorId":"a","timestamp":${T0 + 1},"temperature":1e308}`),
    reason: 'metric-out-of-range',
  },
  // DynamoDB cannot store a magnitude below 1e-130.
  {
    kind: 'subnormal',
    data: text(`{"sensorId":"a","timestamp":${T0},"temperature":5e-324}`),
    reason: 'metric-out-of-range',
  },
  {
    kind: 'tiny negative',
    data: text(`{"sensorId":"a","timestamp":${T0},"temperature":-1e-200}`),
    reason: 'metric-out-of-range',
  },
  ...POISON_BINARY,
];

/**
 * Shapes that looked poisonous in issue 13 but are valid readings: 1e16 (beyond 2^53, which
 * the SDK used to refuse to write) and -0. They are applied like any other reading.
 */
const VALID_EXTREMES = [
  text(`{"sensorId":"c","timestamp":${T0},"temperature":1e16}`),
  text(`{"sensorId":"c","timestamp":${T0 + 1},"temperature":-0}`),
  text(`{"sensorId":"c","timestamp":${T0 + 2},"temperature":1e100}`),
  text(`{"sensorId":"c","timestamp":${T0 + 3},"temperature":1e-90}`),
];

let p: TestPipeline;
let invalid: {
  id: string;
  reason: string;
  detail: string;
  data: string;
  byteLength: number;
  truncated?: boolean;
  sha256?: string;
}[];
let failures: unknown[];

beforeAll(async () => {
  p = await createTestPipeline(endpoints, config, 'poison');
  const records: { partitionKey: string; data: Uint8Array }[] = [];
  // Valid readings of two sensors, with a poison record (using sensor a's key) after each.
  for (let i = 0; i < POISON.length; i++) {
    records.push({
      partitionKey: 'a',
      data: json({ sensorId: 'a', timestamp: T0 + i * 1000, temperature: 20 }),
    });
    records.push({ partitionKey: 'a', data: POISON[i]!.data });
    records.push({
      partitionKey: 'b',
      data: json({ sensorId: 'b', timestamp: T0 + i * 1000, temperature: 30 }),
    });
  }
  for (const data of VALID_EXTREMES) records.push({ partitionKey: 'c', data });
  await putRecords(p.clients, p.streamName, records);
  const [shard] = await readAllRecords(p.clients, p.streamName);
  const res = await p.handler(undefined, { schemaSource: registry })(
    kinesisEvent(shard!.shardId, shard!.records, p.streamArn),
    lambdaContext(),
  );
  failures = res.batchItemFailures;
  invalid = (await drainQueue(p.clients, p.queues.invalid, { waitMs: 500 })).map(
    (m) => m.body as (typeof invalid)[0],
  );
}, 60_000);

afterAll(() => p?.destroy());

describe('Poison records: each ends in the invalid sink with a specific reason and the original bytes', () => {
  it('fails nothing in the batch', () => {
    expect(failures).toEqual([]);
  });

  it.each(POISON)('$kind -> $reason', ({ data, reason }) => {
    const sha = createHash('sha256').update(data).digest('hex');
    const match = invalid.find((m) => {
      const sent = Buffer.from(m.data, 'base64');
      return m.truncated ? m.sha256 === sha : sent.equals(data);
    });
    expect(match, 'an invalid-queue message carrying these bytes').toBeDefined();
    expect(match!.reason).toBe(reason);
    expect(match!.detail.length).toBeGreaterThan(0);
    expect(match!.byteLength).toBe(data.length);
  });

  it('sends exactly one message per poison record', () => {
    expect(invalid).toHaveLength(POISON.length);
  });

  it('changes no sensor state: the valid readings of every sensor are all applied, nothing else', async () => {
    const state = await scanAll(p.clients, p.tables.state);
    expect(state.map((s) => s.sensorId).sort()).toEqual(['a', 'b', 'c']);
    for (const item of state) {
      const body = stateOfItem(item);
      const counts = Object.values(body.windows).map((w) => w.aggs.temperature!.count);
      const applied = item.sensorId === 'c' ? VALID_EXTREMES.length : POISON.length;
      expect(counts.reduce((x, y) => x + y, 0)).toBe(applied);
    }
  });
});
