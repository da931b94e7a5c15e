/**
 * KPL de-aggregation (functions/ingest/kpl.ts) against aggregates made by the
 * aws-kinesis-agg library's own aggregator, and every corruption with its own reason.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DeaggregateResult,
  deaggregate,
  isDamagedAggregate,
  isKplAggregate,
  KPL_MAGIC,
  type KplInvalidReason,
} from '../../functions/ingest/kpl.js';
import {
  aggregate,
  encodeRawAggregate,
  frame,
  libraryDeaggregate,
  type PlainUserRecord,
} from './kpl-encoder.js';

const text = new TextEncoder();
const reading = (sensorId: string, i: number) =>
  text.encode(JSON.stringify({ sensorId, timestamp: 1_767_225_600_000 + i * 1000, temperature: 20 + i }));

function ok(result: DeaggregateResult) {
  if (!result.ok) throw new Error(`expected user records, got ${result.reason}: ${result.detail}`);
  return result.records;
}

function reasonOf(result: DeaggregateResult): KplInvalidReason {
  if (result.ok) throw new Error(`expected an invalid aggregate, got ${result.records.length} records`);
  return result.reason;
}

const SAMPLE: PlainUserRecord[] = [
  { partitionKey: 'sensor-a', data: reading('sensor-a', 0) },
  { partitionKey: 'sensor-b', data: reading('sensor-b', 1) },
  { partitionKey: 'sensor-a', data: reading('sensor-a', 2), explicitHashKey: '12345678901234567890' },
];

describe('KPL aggregate: a valid aggregate yields every user record in order with its sub-index', () => {
  it('decodes what the library aggregator encoded', () => {
    const records = ok(deaggregate(aggregate(SAMPLE)));
    expect(records.map((r) => r.subIndex)).toEqual([0, 1, 2]);
    expect(records.map((r) => r.partitionKey)).toEqual(['sensor-a', 'sensor-b', 'sensor-a']);
    expect(records.map((r) => r.explicitHashKey)).toEqual([undefined, undefined, '12345678901234567890']);
    expect(records.map((r) => Buffer.from(r.data).toString())).toEqual(
      SAMPLE.map((r) => Buffer.from(r.data).toString()),
    );
  });

  it('is recognised by its magic', () => {
    expect(isKplAggregate(aggregate(SAMPLE))).toBe(true);
    expect(isKplAggregate(text.encode('{"sensorId":"a"}'))).toBe(false);
    expect(isKplAggregate(KPL_MAGIC.subarray(0, 3))).toBe(false);
  });

  it('agrees with the library on any records (property)', () => {
    // The library's aggregator builds its key tables with Object.keys, which lists
    // integer-like strings first, in numeric order, so it mislabels records whose keys look
    // like array indexes ("0", "42") once there are two of them. Explicit hash keys are
    // always decimal integers: at most one per aggregate here, several in the next test.
    const userRecord = fc.record({
      partitionKey: fc.string({ minLength: 0, maxLength: 20 }).map((s) => `k${s}`),
      data: fc.uint8Array({ minLength: 1, maxLength: 200 }),
      hashed: fc.boolean(),
    });
    const hashKey = fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }).map(String);
    fc.assert(
      fc.property(fc.array(userRecord, { minLength: 1, maxLength: 40 }), hashKey, (drawn, ehk) => {
        const input = drawn.map(({ partitionKey, data, hashed }) =>
          hashed ? { partitionKey, data, explicitHashKey: ehk } : { partitionKey, data },
        );
        const bytes = aggregate(input);
        const mine = ok(deaggregate(bytes));
        const theirs = libraryDeaggregate(bytes);
        expect(mine.map((r) => [r.subIndex, r.partitionKey, Buffer.from(r.data).toString('base64')])).toEqual(
          theirs.map((r) => [r.subSequenceNumber, r.partitionKey, r.data]),
        );
        expect(mine.map((r) => r.partitionKey)).toEqual(input.map((r) => r.partitionKey));
        // Not compared with the library's decoder: it reads an absent explicit hash key index
        // as 0 and gives every record the table's first key (one reason windowpane has its own).
        expect(mine.map((r) => r.explicitHashKey)).toEqual(input.map((r) => r.explicitHashKey));
      }),
      { numRuns: 200 },
    );
  });

  it('resolves several explicit hash keys through their table', () => {
    const body = encodeRawAggregate({
      partition_key_table: ['a', 'b'],
      explicit_hash_key_table: ['340282366920938463463374607431768211455', '0'],
      records: [
        { partition_key_index: 1, explicit_hash_key_index: 1, data: Buffer.from('first') },
        { partition_key_index: 0, data: Buffer.from('second') },
        { partition_key_index: 0, explicit_hash_key_index: 0, data: Buffer.from('third') },
      ],
    });
    const records = ok(deaggregate(frame(body)));
    expect(records.map((r) => [r.partitionKey, r.explicitHashKey, Buffer.from(r.data).toString()])).toEqual([
      ['b', '0', 'first'],
      ['a', undefined, 'second'],
      ['a', '340282366920938463463374607431768211455', 'third'],
    ]);
  });

  it('skips fields it does not know (KPL tags)', () => {
    const body = encodeRawAggregate({
      partition_key_table: ['k'],
      records: [{ partition_key_index: 0, data: Buffer.from('x'), tags: [{ key: 't', value: 'v' }] }],
    });
    expect(ok(deaggregate(frame(body)))).toHaveLength(1);
  });
});

describe('KPL aggregate: a corrupt aggregate is invalid whole, with its own reason', () => {
  const good = aggregate(SAMPLE);

  it('kpl-bad-magic: wrong magic of the right length, recognised by its matching MD5', () => {
    const bytes = Buffer.from(good);
    bytes[1] = 0x00;
    expect(reasonOf(deaggregate(bytes))).toBe('kpl-bad-magic');
    expect(isKplAggregate(bytes)).toBe(false);
    expect(isDamagedAggregate(bytes)).toBe(true);
    // A JSON record or an intact aggregate is not "damaged".
    expect(isDamagedAggregate(good)).toBe(false);
    expect(isDamagedAggregate(reading('a', 0))).toBe(false);
  });

  it('kpl-bad-checksum: one flipped byte in the protobuf', () => {
    const bytes = Buffer.from(good);
    bytes[10] = (bytes[10]! ^ 0xff) & 0xff;
    expect(reasonOf(deaggregate(bytes))).toBe('kpl-bad-checksum');
  });

  it('kpl-bad-checksum: the record cut short in transit', () => {
    expect(reasonOf(deaggregate(good.subarray(0, good.length - 5)))).toBe('kpl-bad-checksum');
  });

  it('kpl-truncated: shorter than magic and MD5', () => {
    expect(reasonOf(deaggregate(good.subarray(0, 19)))).toBe('kpl-truncated');
    expect(reasonOf(deaggregate(KPL_MAGIC))).toBe('kpl-truncated');
  });

  it('kpl-truncated-protobuf: a cut protobuf framed with its own (matching) MD5', () => {
    const body = good.subarray(4, good.length - 16);
    const result = deaggregate(frame(body.subarray(0, body.length - 3)));
    expect(reasonOf(result)).toBe('kpl-truncated-protobuf');
  });

  it('kpl-bad-protobuf: an invalid wire type', () => {
    expect(reasonOf(deaggregate(frame(Uint8Array.of(0x0f, 0x01))))).toBe('kpl-bad-protobuf');
  });

  it('kpl-bad-protobuf: a user record without its required data', () => {
    // Hand-written, since the library's encoder cannot omit a required field:
    // field 1 (partition_key_table) "k", field 3 (records) { field 1 (partition_key_index) 0 }.
    const result = deaggregate(frame(Uint8Array.of(0x0a, 0x01, 0x6b, 0x1a, 0x02, 0x08, 0x00)));
    expect(reasonOf(result)).toBe('kpl-bad-protobuf');
    expect(result.ok ? '' : result.detail).toContain('data');
  });

  it.each([
    [
      'partition key',
      { partition_key_index: 1, data: Buffer.from('x') },
      'partition key index 1, table has 1',
    ],
    [
      'partition key (beyond 32 bits)',
      { partition_key_index: 2 ** 40, data: Buffer.from('x') },
      `partition key index ${2 ** 40}`,
    ],
    [
      'explicit hash key',
      { partition_key_index: 0, explicit_hash_key_index: 0, data: Buffer.from('x') },
      'explicit hash key index 0, table has 0',
    ],
  ])('kpl-key-index-out-of-range: the %s index', (_what, bad, detail) => {
    const body = encodeRawAggregate({
      partition_key_table: ['k'],
      records: [{ partition_key_index: 0, data: Buffer.from('fine') }, bad],
    });
    const result = deaggregate(frame(body));
    expect(reasonOf(result)).toBe('kpl-key-index-out-of-range');
    expect(result.ok ? '' : result.detail).toContain(detail);
    expect(result.ok ? '' : result.detail).toContain('user record 1');
  });

  it('kpl-no-records: a well-formed aggregate with nothing in it', () => {
    expect(reasonOf(deaggregate(frame(encodeRawAggregate({ partition_key_table: ['k'] }))))).toBe(
      'kpl-no-records',
    );
    expect(reasonOf(deaggregate(frame(new Uint8Array(0))))).toBe('kpl-no-records');
  });
});
