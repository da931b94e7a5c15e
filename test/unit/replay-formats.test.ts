/**
 * `npm run replay -- --format`: what each format puts on the stream (local/replay-formats.ts),
 * and how the sinks' ids of aggregated user records map back to input lines.
 */
import { describe, expect, it } from 'vitest';
import { deaggregate } from '../../functions/ingest/kpl.js';
import { AvroReadingEncoder } from '../../local/registry/avro-producer.js';
import { LocalSchemaRegistry } from '../../local/registry/local-schema-registry.js';
import { AGGREGATE_MAX_RECORDS, encodeRecords, lineIndex } from '../../local/replay-formats.js';
import type { ReplayRecord } from '../../local/replay-input.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const line = (n: number, partitionKey: string, data: string): ReplayRecord => ({
  line: n,
  partitionKey,
  data: Buffer.from(data),
});
const reading = (n: number, sensorId: string) =>
  line(n, sensorId, JSON.stringify({ sensorId, timestamp: T0 + n, temperature: 20 }));

describe('replay formats', () => {
  const records = [
    reading(1, 'a'),
    reading(2, 'b'),
    line(3, 'x', 'not json'),
    reading(4, 'a'),
    reading(5, 'b'),
  ];

  it('json sends every line as it is', () => {
    expect(encodeRecords(records, 'json')).toEqual(records);
  });

  it('avro encodes the valid readings (Glue framing) and leaves the rest unchanged', () => {
    const encoder = new AvroReadingEncoder({ registry: new LocalSchemaRegistry(), metrics: ['temperature'] });
    const sent = encodeRecords(records, 'avro', encoder);
    expect(sent.map((r) => r.data[0])).toEqual([0x03, 0x03, 0x6e, 0x03, 0x03]);
    expect(Buffer.from(sent[2]!.data).toString()).toBe('not json');
  });

  it('kpl packs each key, in order, in aggregates ordered by their first line', () => {
    const sent = encodeRecords(records, 'kpl');
    expect(sent.map((r) => [r.partitionKey, r.line, r.lines])).toEqual([
      ['a', 1, [1, 4]],
      ['b', 2, [2, 5]],
      ['x', 3, [3]],
    ]);
    const unpacked = deaggregate(sent[0]!.data);
    expect(unpacked.ok && unpacked.records.map((u) => Buffer.from(u.data).toString())).toEqual([
      Buffer.from(records[0]!.data).toString(),
      Buffer.from(records[3]!.data).toString(),
    ]);
  });

  it(`kpl starts a new aggregate after ${AGGREGATE_MAX_RECORDS} user records`, () => {
    const many = Array.from({ length: AGGREGATE_MAX_RECORDS + 1 }, (_, i) => reading(i + 1, 'a'));
    expect(encodeRecords(many, 'kpl').map((r) => r.lines!.length)).toEqual([AGGREGATE_MAX_RECORDS, 1]);
  });

  it('maps <shard>:<seq> and <shard>:<seq>.<k> of an aggregate to the lines of its user records', () => {
    const sent = encodeRecords(records, 'kpl');
    const ids: string[] = [];
    ids[0] = 's:100';
    ids[1] = 's:200';
    ids[2] = 's:300';
    expect([...lineIndex(sent, ids)]).toEqual([
      ['s:100', 1],
      ['s:100.1', 4],
      ['s:200', 2],
      ['s:200.1', 5],
      ['s:300', 3],
    ]);
  });
});
