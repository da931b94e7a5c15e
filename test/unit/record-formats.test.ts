/**
 * The decode step's format table (functions/ingest/record-formats.ts, decode-batch.ts):
 * JSON, Glue and Confluent Avro and KPL aggregates in one batch, each told by its first
 * bytes; aggregates made by the aws-kinesis-agg library's own encoder; each user record
 * carries its sub-index into the fold, whose fence recognises a redelivered aggregate,
 * whole or in part.
 */
import { describe, expect, it } from 'vitest';
import {
  buildKinesisEvent,
  fakeSequenceNumber,
  type KinesisRecordInput,
} from '../../events/kinesis-event.js';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { newSensorState, type SensorRecord, type SensorState } from '../../functions/domain/state.js';
import { AvroReadingDecoder } from '../../functions/ingest/avro-reading.js';
import { frameConfluent } from '../../functions/ingest/avro-wire.js';
import { formatOf } from '../../functions/ingest/record-formats.js';
import type { SchemaLookup, SchemaSource } from '../../functions/ingest/schema-source.js';
import { decodeBatch, decodeBatchWithSchemas } from '../../functions/pipeline/decode-batch.js';
import { AvroReadingEncoder } from '../../local/registry/avro-producer.js';
import { LocalSchemaRegistry } from '../../local/registry/local-schema-registry.js';
import { aggregate, encodeRawAggregate, frame } from './kpl-encoder.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const METRICS = ['temperature'];
const config = parseConfig({});
const json = (o: unknown) => Buffer.from(JSON.stringify(o));
const reading = (sensorId: string, i: number, temperature = 20) => ({
  sensorId,
  timestamp: T0 + i * 1000,
  temperature,
});
const arrival = T0 / 1000 + 60;

function event(datas: readonly Uint8Array[], firstSeq = 1) {
  const records: KinesisRecordInput[] = datas.map((data, i) => ({
    partitionKey: 'pk',
    data,
    sequenceNumber: fakeSequenceNumber(firstSeq + i),
    approximateArrivalTimestamp: arrival,
  }));
  return buildKinesisEvent(records);
}

function kpl(readings: readonly ReturnType<typeof reading>[]): Buffer {
  return aggregate(readings.map((r) => ({ partitionKey: r.sensorId, data: json(r) })));
}

describe('record formats: detected by their first bytes', () => {
  const registry = new LocalSchemaRegistry();
  const encoder = new AvroReadingEncoder({ registry, metrics: METRICS });
  it.each([
    ['json', json(reading('a', 0))],
    ['kpl', kpl([reading('a', 0)])],
    ['avro-glue', encoder.encodeReading({ sensorId: 'a', timestamp: T0, values: { temperature: 1 } })!],
    ['avro-confluent', frameConfluent(1, Buffer.from([2, 0x61]))],
    ['json', Buffer.from('not json at all')],
  ])('%s', (name, data) => {
    expect(formatOf(data).name).toBe(name);
  });
});

describe('decode step: every format in one batch', () => {
  it('decodes JSON, Glue Avro, Confluent Avro and a KPL aggregate side by side', async () => {
    const registry = new LocalSchemaRegistry();
    const encoder = new AvroReadingEncoder({ registry, metrics: METRICS });
    const glue = encoder.encodeReading({ sensorId: 'b', timestamp: T0, values: { temperature: 21 } })!;
    const confluent = frameConfluent(
      encoder.schema.id,
      Buffer.from(glue.subarray(18)), // the same Avro body under its Confluent id
    );
    const batch = event([
      json(reading('a', 0)),
      glue,
      confluent,
      kpl([reading('c', 0), reading('c', 1), reading('d', 0)]),
    ]);
    const decoder = new AvroReadingDecoder({ source: registry, metrics: METRICS });
    const { groups, invalid } = await decodeBatchWithSchemas(batch, METRICS, decoder);
    expect(invalid).toEqual([]);
    expect([...groups.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(groups.get('b')!.records.map((r) => r.reading?.timestamp)).toEqual([T0, T0]);
    const c = groups.get('c')!.records;
    const aggregateSeq = batch.Records[3]!.kinesis.sequenceNumber;
    expect(c.map((r) => [r.sequence, r.subIndex ?? 0])).toEqual([
      [aggregateSeq, 0],
      [aggregateSeq, 1],
    ]);
    expect(groups.get('d')!.records[0]!.subIndex).toBe(2);
    expect(groups.get('c')!.firstItemId).toBe(aggregateSeq);
  });

  it('without a schema registry, Avro records are invalid with avro-unknown-schema, naming the missing registry', () => {
    const registry = new LocalSchemaRegistry();
    const encoder = new AvroReadingEncoder({ registry, metrics: METRICS });
    const glue = encoder.encodeReading({ sensorId: 'b', timestamp: T0, values: { temperature: 21 } })!;
    const { invalid } = decodeBatch(event([glue]), METRICS);
    expect(invalid.map((m) => m.reason)).toEqual(['avro-unknown-schema']);
    expect(invalid[0]!.detail).toContain('GLUE_SCHEMA_REGISTRY_NAME');
  });

  it('an unreachable schema source throws (the batch is retried), it never makes records invalid', async () => {
    const down: SchemaSource = {
      lookup: (): Promise<SchemaLookup> => Promise.reject(new Error('connect ECONNREFUSED')),
    };
    const registry = new LocalSchemaRegistry();
    const glue = new AvroReadingEncoder({ registry, metrics: METRICS }).encodeReading({
      sensorId: 'b',
      timestamp: T0,
      values: { temperature: 21 },
    })!;
    const decoder = new AvroReadingDecoder({ source: down, metrics: METRICS });
    await expect(decodeBatchWithSchemas(event([glue]), METRICS, decoder)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('decode step: bad aggregates are invalid whole, with their reason', () => {
  const good = kpl([reading('a', 0), reading('a', 1)]);
  const badChecksum = Buffer.from(good);
  badChecksum[badChecksum.length - 1]! ^= 0xff;
  const badMagic = Buffer.from(good);
  badMagic[0] = 0x7b;
  const outOfRange = frame(
    encodeRawAggregate({
      partition_key_table: ['a'],
      records: [{ partition_key_index: 3, data: json(reading('a', 0)) }],
    }),
  );
  it.each([
    ['bad checksum', badChecksum, 'kpl-bad-checksum'],
    ['damaged magic', badMagic, 'kpl-bad-magic'],
    ['key index out of range', outOfRange, 'kpl-key-index-out-of-range'],
    ['truncated', good.subarray(0, 12), 'kpl-truncated'],
  ])('%s -> %s, one message with the whole record', (_kind, data, reason) => {
    const batch = event([data]);
    const { groups, invalid } = decodeBatch(batch, METRICS);
    expect(groups.size).toBe(0);
    expect(invalid).toHaveLength(1);
    expect(invalid[0]!.reason).toBe(reason);
    expect(invalid[0]!.data).toBe(batch.Records[0]!.kinesis.data);
    expect(invalid[0]!.byteLength).toBe(data.length);
    expect(invalid[0]!.subIndex).toBeUndefined();
  });

  it('a bad user record in a good aggregate is invalid alone, by <shard>:<seq>.<subIndex>, with its own bytes', () => {
    const batch = event([
      aggregate([
        { partitionKey: 'a', data: json(reading('a', 0)) },
        { partitionKey: 'a', data: Buffer.from('{"sensorId":"a"}') },
        { partitionKey: 'a', data: json(reading('a', 2)) },
      ]),
    ]);
    const { groups, invalid } = decodeBatch(batch, METRICS);
    expect(groups.get('a')!.records).toHaveLength(2);
    const seq = batch.Records[0]!.kinesis.sequenceNumber;
    expect(invalid).toEqual([
      expect.objectContaining({
        id: `shardId-000000000000:${seq}.1`,
        reason: 'missing-timestamp',
        sequenceNumber: seq,
        subIndex: 1,
        data: Buffer.from('{"sensorId":"a"}').toString('base64'),
      }),
    ]);
  });
});

describe('sub-sequence fence: a redelivered aggregate is recognised, whole or in part', () => {
  const batch = event([kpl([0, 1, 2, 3, 4].map((i) => reading('a', i))), json(reading('a', 5))]);
  const records: SensorRecord[] = decodeBatch(batch, METRICS).groups.get('a')!.records;
  const foldAll = (state: SensorState, recs: readonly SensorRecord[]) =>
    foldSensorRecords(state, recs, config);

  it('applies five user records of one sequence number, then the plain record', () => {
    const r = foldAll(newSensorState('a'), records);
    expect(r.applied).toBe(6);
    expect(Object.values(r.state.applied)).toEqual([batch.Records[1]!.kinesis.sequenceNumber]);
  });

  it('the whole batch redelivered: every record a duplicate', () => {
    const once = foldAll(newSensorState('a'), records).state;
    const again = foldAll(once, records);
    expect([again.applied, again.duplicates]).toEqual([0, 6]);
  });

  it('an aggregate cut by a commit: only the user records after the fence are applied', () => {
    const first = foldAll(newSensorState('a'), records.slice(0, 3));
    const seq = batch.Records[0]!.kinesis.sequenceNumber;
    expect(Object.values(first.state.applied)).toEqual([`${seq}.2`]);
    const redelivered = foldAll(first.state, records);
    expect([redelivered.applied, redelivered.duplicates]).toEqual([3, 3]);
    const plain = foldAll(newSensorState('a'), records);
    expect(redelivered.state.windows).toEqual(plain.state.windows);
  });
});
