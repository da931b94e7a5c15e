/**
 * De-aggregation of Kinesis Producer Library (KPL) aggregated records: one Kinesis record
 * that carries many user records (amazon-kinesis-producer, aggregation-format.md):
 *
 *   magic 0xF3 0x89 0x9A 0xC2 | protobuf AggregatedRecord | MD5 of the protobuf (16 bytes)
 *
 * The protobuf wire format is read by protobufjs (reflection, no generated code); what is
 * windowpane's own is the framing, the checks and the reasons. An aggregate is all or
 * nothing: any defect makes the whole Kinesis record invalid with one reason, so it goes
 * to the invalid sink once, with its bytes, and no part of it is folded. Each user record
 * keeps its index in the aggregate (its sub-sequence number, as KCL numbers them), which
 * the exactly-once fence needs (record-position.ts).
 *
 * Pure: no I/O, no clocks.
 */
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs/light.js';

export const KPL_MAGIC = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
const MD5_BYTES = 16;
const FRAME_BYTES = KPL_MAGIC.length + MD5_BYTES;

/**
 * Why an aggregate is invalid. Stable codes, like reading.ts's InvalidReason: they appear
 * in the invalid sink and in metrics; add, never rename.
 *
 * - `kpl-truncated`: shorter than magic + MD5 (20 bytes).
 * - `kpl-bad-magic`: not the KPL magic (only when the decoder is called on such bytes, or
 *   `isDamagedAggregate` recognised an aggregate whose magic was damaged).
 * - `kpl-bad-checksum`: the trailing MD5 is not the MD5 of the protobuf (damaged or cut
 *   in transit).
 * - `kpl-truncated-protobuf`: the checksum matches, but the protobuf ends inside a field
 *   (a producer that framed a cut message).
 * - `kpl-bad-protobuf`: not an AggregatedRecord: a wrong wire type, a missing required field.
 * - `kpl-key-index-out-of-range`: a user record points past the partition-key or
 *   explicit-hash-key table.
 * - `kpl-no-records`: a well-formed aggregate with no user records; there is nothing to
 *   apply, and a producer that sends one is broken, so it is shown, not skipped.
 */
export type KplInvalidReason =
  | 'kpl-truncated'
  | 'kpl-bad-magic'
  | 'kpl-bad-checksum'
  | 'kpl-truncated-protobuf'
  | 'kpl-bad-protobuf'
  | 'kpl-key-index-out-of-range'
  | 'kpl-no-records';

export const KPL_INVALID_REASONS: readonly KplInvalidReason[] = [
  'kpl-truncated',
  'kpl-bad-magic',
  'kpl-bad-checksum',
  'kpl-truncated-protobuf',
  'kpl-bad-protobuf',
  'kpl-key-index-out-of-range',
  'kpl-no-records',
];

/** One user record of an aggregate. */
export interface UserRecord {
  /** Position in the aggregate, 0-based: the KCL sub-sequence number. */
  subIndex: number;
  partitionKey: string;
  explicitHashKey?: string;
  /** A view into the aggregate's bytes (not a copy). */
  data: Uint8Array;
}

export type DeaggregateResult =
  | { ok: true; records: UserRecord[] }
  | { ok: false; reason: KplInvalidReason; detail: string };

// The message definitions of aggregation-format.md, as protobufjs JSON. They are proto2,
// and must say so: without `edition` protobufjs treats JSON types as proto3, where an
// optional field holding its default (explicit hash key index 0) has no presence and is
// dropped on decode. `tags` (field 4 of Record) is not declared: protobufjs skips unknown
// fields, and windowpane has no use for KPL tags.
const root = protobuf.Root.fromJSON({
  nested: {
    Record: {
      edition: 'proto2',
      fields: {
        partition_key_index: { rule: 'required', type: 'uint64', id: 1 },
        explicit_hash_key_index: { rule: 'optional', type: 'uint64', id: 2 },
        data: { rule: 'required', type: 'bytes', id: 3 },
      },
    },
    AggregatedRecord: {
      edition: 'proto2',
      fields: {
        partition_key_table: { rule: 'repeated', type: 'string', id: 1 },
        explicit_hash_key_table: { rule: 'repeated', type: 'string', id: 2 },
        records: { rule: 'repeated', type: 'Record', id: 3 },
      },
    },
  },
});
const AggregatedRecord = root.lookupType('AggregatedRecord');

/** uint64 fields decode to `Long` (protobufjs depends on long.js), or to numbers without it. */
type Uint64 = number | { low: number; high: number };

interface DecodedRecord {
  partition_key_index: Uint64;
  explicit_hash_key_index?: Uint64 | null;
  data: Uint8Array;
}

interface DecodedAggregate {
  partition_key_table: string[];
  explicit_hash_key_table: string[];
  records: DecodedRecord[];
}

/** True when `data` starts with the KPL magic and is long enough to be framed. */
export function isKplAggregate(data: Uint8Array): boolean {
  return data.length >= KPL_MAGIC.length && hasMagic(data);
}

/**
 * True when `data` has a KPL frame whose MD5 matches its body but whose magic is wrong:
 * an aggregate damaged in its first bytes. The MD5 match makes a false positive
 * vanishingly unlikely (2^-128); cost is one MD5 over the record, so call it only for
 * records no decoder accepted, to give them `kpl-bad-magic` instead of a JSON reason.
 */
export function isDamagedAggregate(data: Uint8Array): boolean {
  return data.length > FRAME_BYTES && !hasMagic(data) && checksumMatches(data);
}

/** Splits an aggregate into its user records, or says why the whole record is invalid. */
export function deaggregate(data: Uint8Array): DeaggregateResult {
  if (data.length < FRAME_BYTES) {
    return invalid('kpl-truncated', `aggregate is ${data.length} bytes, shorter than magic and MD5 (20)`);
  }
  if (!hasMagic(data)) {
    return invalid('kpl-bad-magic', `first 4 bytes are 0x${hex(data.subarray(0, 4))}, not the KPL magic`);
  }
  if (!checksumMatches(data)) {
    return invalid(
      'kpl-bad-checksum',
      `MD5 of the ${data.length - FRAME_BYTES}-byte protobuf does not match`,
    );
  }
  let message: DecodedAggregate;
  try {
    message = AggregatedRecord.decode(body(data)) as unknown as DecodedAggregate;
  } catch (err) {
    // protobufjs reports reading past the end as a RangeError; everything else (wire
    // types, missing required fields) as a plain Error or its ProtocolError.
    const text = err instanceof Error ? err.message : String(err);
    return err instanceof RangeError
      ? invalid('kpl-truncated-protobuf', `protobuf ends inside a field (${text})`)
      : invalid('kpl-bad-protobuf', `not a KPL AggregatedRecord: ${text}`);
  }
  const keys = message.partition_key_table;
  const hashKeys = message.explicit_hash_key_table;
  if (message.records.length === 0) {
    return invalid('kpl-no-records', 'aggregate holds no user records');
  }
  const records: UserRecord[] = [];
  for (let i = 0; i < message.records.length; i++) {
    const r = message.records[i]!;
    const keyIndex = indexIn(r.partition_key_index, keys.length);
    if (keyIndex === undefined) {
      return invalid(
        'kpl-key-index-out-of-range',
        `user record ${i} has partition key index ${uint64Text(r.partition_key_index)}, table has ${keys.length}`,
      );
    }
    const record: UserRecord = { subIndex: i, partitionKey: keys[keyIndex]!, data: r.data };
    // An absent optional field reads as its default (0) from the message prototype: only
    // an own property was on the wire.
    const ehk = Object.hasOwn(r, 'explicit_hash_key_index') ? r.explicit_hash_key_index : undefined;
    if (ehk !== undefined && ehk !== null) {
      const hashIndex = indexIn(ehk, hashKeys.length);
      if (hashIndex === undefined) {
        return invalid(
          'kpl-key-index-out-of-range',
          `user record ${i} has explicit hash key index ${uint64Text(ehk)}, table has ${hashKeys.length}`,
        );
      }
      record.explicitHashKey = hashKeys[hashIndex]!;
    }
    records.push(record);
  }
  return { ok: true, records };
}

function hasMagic(data: Uint8Array): boolean {
  return (
    data[0] === KPL_MAGIC[0] &&
    data[1] === KPL_MAGIC[1] &&
    data[2] === KPL_MAGIC[2] &&
    data[3] === KPL_MAGIC[3]
  );
}

function body(data: Uint8Array): Uint8Array {
  return data.subarray(KPL_MAGIC.length, data.length - MD5_BYTES);
}

function checksumMatches(data: Uint8Array): boolean {
  const expected = data.subarray(data.length - MD5_BYTES);
  const actual = createHash('md5').update(body(data)).digest();
  return Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength).equals(actual);
}

/** The index as a number when it is inside a table of `size` entries. */
function indexIn(value: Uint64, size: number): number | undefined {
  if (typeof value === 'number') return value < size ? value : undefined;
  if (value.high !== 0) return undefined;
  const low = value.low >>> 0;
  return low < size ? low : undefined;
}

function uint64Text(value: Uint64): string {
  if (typeof value === 'number') return String(value);
  return (BigInt(value.high >>> 0) * 2n ** 32n + BigInt(value.low >>> 0)).toString();
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function invalid(reason: KplInvalidReason, detail: string): DeaggregateResult {
  return { ok: false, reason, detail };
}
