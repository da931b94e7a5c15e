/**
 * The first step of a stream batch: unpack every Kinesis record (a KPL aggregate into its
 * user records), decode each payload with the entry of its input format
 * (functions/ingest/record-formats.ts), and group the valid readings and alarm actions
 * (control records) by sensor in arrival order. Invalid records and user records go to the invalid sink with their reason and
 * bytes; a corrupt aggregate goes there whole, once.
 *
 * `decodeBatch` is pure and synchronous (the benchmarks measure it with the fold,
 * bench/pure-path.ts); `decodeBatchWithSchemas` first asks the schema source for the
 * writer schemas its Avro payloads name, once per batch.
 */
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { decodeFlatReading } from '../domain/flat-reading.js';
import { type DecodeOptions, MAX_RECORD_BYTES, type Reading } from '../domain/reading.js';
import { formatPosition } from '../domain/record-position.js';
import { checkSequence, shardIdOfEventId } from '../domain/sequence.js';
import type { SensorRecord } from '../domain/state.js';
import type { AvroReadingDecoder } from '../ingest/avro-reading.js';
import { base64Head } from '../ingest/base64-head.js';
import { isDamagedAggregate } from '../ingest/kpl.js';
import {
  type FormatContext,
  formatOf,
  RECORD_FORMATS,
  type RecordFormat,
  USER_RECORD_FORMATS,
} from '../ingest/record-formats.js';
import type { InvalidRecordMessage } from '../lib/effects.js';

export interface SensorGroup {
  sensorId: string;
  records: SensorRecord[];
  /** Lambda's item identifier (the unpadded sequence number) of its first record. */
  firstItemId: string;
}

/** A batch decoded: valid readings grouped by sensor (arrival order kept), invalid records. */
export interface DecodedBatch {
  groups: Map<string, SensorGroup>;
  invalid: InvalidRecordMessage[];
}

/**
 * One thing to decode: a whole Kinesis record, or one user record of an aggregate. A
 * JSON record's bytes are left undecoded (`data` undefined) until it is decoded itself:
 * see `readLazily`.
 */
interface Payload {
  record: KinesisStreamRecord;
  shardId: string;
  data: Uint8Array | undefined;
  format: RecordFormat;
  /** The user record's index and key, for a user record of an aggregate. */
  user?: { subIndex: number; partitionKey: string };
}

interface UnpackedBatch {
  payloads: Payload[];
  invalid: InvalidRecordMessage[];
}

export function decodeBatch(event: KinesisStreamEvent, metrics: readonly string[]): DecodedBatch {
  return decodeJsonBatch(event, { metrics }) ?? decodeUnpacked(unpackBatch(event), { metrics });
}

/**
 * `decodeBatch` with Avro: the writer schemas the batch's framed payloads name are looked
 * up first (cached by the decoder). Throws when the schema source cannot be asked, so the
 * batch is retried; without a decoder, Avro records are invalid (no registry).
 */
export async function decodeBatchWithSchemas(
  event: KinesisStreamEvent,
  metrics: readonly string[],
  decoder: AvroReadingDecoder | undefined,
): Promise<DecodedBatch> {
  const json = decodeJsonBatch(event, { metrics });
  if (json) return json;
  const unpacked = unpackBatch(event);
  if (decoder === undefined) return decodeUnpacked(unpacked, { metrics });
  const framed = unpacked.payloads.filter((p) => p.format.framedAvro).map((p) => p.data!);
  const prepared = framed.length > 0 ? await decoder.prepare(framed) : new Map();
  return decodeUnpacked(unpacked, { metrics, avro: { decoder, prepared } });
}

/**
 * A batch of JSON records only (the usual one) in one pass: no aggregate to unpack and no
 * schema to prepare, so each record is decoded as it is reached, in the order and with
 * the outcome `decodeUnpacked` gives, without a payload kept for every record of the
 * batch. Undefined when a record is in another format (or its first bytes are unclear).
 */
function decodeJsonBatch(event: KinesisStreamEvent, ctx: FormatContext): DecodedBatch | undefined {
  let json: RecordFormat | undefined;
  for (const record of event.Records) {
    const head = base64Head(record.kinesis.data);
    if (head === undefined) return undefined;
    const format = formatOf(head, RECORD_FORMATS, record.kinesis.partitionKey);
    if (format.name !== 'json') return undefined;
    json = format;
  }
  const groups = new Map<string, SensorGroup>();
  const invalid: InvalidRecordMessage[] = [];
  const options: DecodeOptions = {};
  let shardId = '';
  let shardPrefix = '\u0000';
  for (const record of event.Records) {
    if (!record.eventID.startsWith(shardPrefix)) {
      shardId = shardIdOfEventId(record.eventID);
      shardPrefix = `${shardId}:`;
    }
    decodePayload({ record, shardId, data: undefined, format: json! }, ctx, options, groups, invalid);
  }
  return { groups, invalid };
}

function unpackBatch(event: KinesisStreamEvent): UnpackedBatch {
  const payloads: Payload[] = [];
  const invalid: InvalidRecordMessage[] = [];
  // A batch comes from one shard: parse the eventID prefix once, not per record.
  let shardId = '';
  let shardPrefix = '\u0000';
  for (const record of event.Records) {
    if (!record.eventID.startsWith(shardPrefix)) {
      shardId = shardIdOfEventId(record.eventID);
      shardPrefix = `${shardId}:`;
    }
    // The format is told by the first bytes: a JSON record is decoded later, whole.
    const head = base64Head(record.kinesis.data);
    if (head !== undefined) {
      const format = formatOf(head, RECORD_FORMATS, record.kinesis.partitionKey);
      if (format.name === 'json') {
        payloads.push({ record, shardId, data: undefined, format });
        continue;
      }
    }
    const data = Buffer.from(record.kinesis.data, 'base64');
    const format = formatOf(data, RECORD_FORMATS, record.kinesis.partitionKey);
    if (format.name !== 'kpl') {
      payloads.push({ record, shardId, data, format });
      continue;
    }
    // De-aggregation reads no metrics and no schemas: the user records are decoded below.
    const unpacked = format.decode(data, { metrics: [] }, {});
    if (!unpacked.ok) {
      invalid.push(invalidMessage({ record, shardId, data, format }, unpacked.reason, unpacked.detail));
    } else if ('records' in unpacked) {
      for (const user of unpacked.records) {
        payloads.push({
          record,
          shardId,
          data: user.data,
          format: formatOf(user.data, USER_RECORD_FORMATS, user.partitionKey),
          user: { subIndex: user.subIndex, partitionKey: user.partitionKey },
        });
      }
    }
  }
  return { payloads, invalid };
}

function decodeUnpacked(unpacked: UnpackedBatch, ctx: FormatContext): DecodedBatch {
  const { invalid } = unpacked;
  const groups = new Map<string, SensorGroup>();
  const options: DecodeOptions = {};
  for (const payload of unpacked.payloads) decodePayload(payload, ctx, options, groups, invalid);
  return { groups, invalid };
}

/** Decodes one payload into its sensor's group, or into `invalid` with its reason. */
function decodePayload(
  payload: Payload,
  ctx: FormatContext,
  options: DecodeOptions,
  groups: Map<string, SensorGroup>,
  invalid: InvalidRecordMessage[],
): void {
  const { kinesis } = payload.record;
  // The arrival time is part of the record, so the future bound is the same on every retry.
  const arrivalMs = kinesis.approximateArrivalTimestamp * 1000;
  options.arrivalMs = arrivalMs;
  const flat = payload.data === undefined ? readLazily(payload, ctx, options) : undefined;
  if (flat) {
    // A whole JSON record (never a user record), read by the flat fast path.
    const sequence = checkSequence(kinesis.sequenceNumber);
    groupOf(groups, flat.sensorId, kinesis.sequenceNumber).records.push({
      shardId: payload.shardId,
      sequence,
      reading: flat,
      arrivalMs,
    });
    return;
  }
  const key = payload.user ? payload.user.partitionKey : kinesis.partitionKey;
  const decoded = payload.format.decode(payload.data!, ctx, options, key);
  if (!decoded.ok) {
    // Bytes no format accepted may be an aggregate whose magic was damaged.
    const damaged = payload.user === undefined && isDamagedAggregate(payload.data!);
    invalid.push(
      damaged
        ? invalidMessage(payload, 'kpl-bad-magic', 'a KPL aggregate (its MD5 matches) whose magic is damaged')
        : invalidMessage(payload, decoded.reason, decoded.detail),
    );
    return;
  }
  if ('records' in decoded) return;
  // A control record joins its sensor's records in arrival order, like a reading (A-C1).
  const sensorId = 'reading' in decoded ? decoded.reading.sensorId : decoded.action.sensorId;
  const group = groupOf(groups, sensorId, kinesis.sequenceNumber);
  const shardId = payload.shardId;
  const sequence = checkSequence(kinesis.sequenceNumber);
  const sensorRecord: SensorRecord =
    'reading' in decoded
      ? { shardId, sequence, reading: decoded.reading, arrivalMs }
      : { shardId, sequence, action: decoded.action, arrivalMs };
  if (payload.user !== undefined && payload.user.subIndex > 0) sensorRecord.subIndex = payload.user.subIndex;
  group.records.push(sensorRecord);
}

/** The sensor's group, created with `itemId` (its first record's) when it has none yet. */
function groupOf(groups: Map<string, SensorGroup>, sensorId: string, itemId: string): SensorGroup {
  let group = groups.get(sensorId);
  if (!group) {
    group = { sensorId, records: [], firstItemId: itemId };
    groups.set(sensorId, group);
  }
  return group;
}

/**
 * The invalid sink's message: a whole record by its stream position, a user record by
 * `<shardId>:<sequenceNumber>.<subIndex>` with its own bytes and key.
 */
function invalidMessage(payload: Payload, reason: string, detail: string): InvalidRecordMessage {
  const { kinesis } = payload.record;
  const { user } = payload;
  const position = user ? formatPosition({ sequence: kinesis.sequenceNumber, subIndex: user.subIndex }) : '';
  return {
    id: `${payload.shardId}:${user ? position : kinesis.sequenceNumber}`,
    reason,
    detail,
    partitionKey: user ? user.partitionKey : kinesis.partitionKey,
    shardId: payload.shardId,
    sequenceNumber: kinesis.sequenceNumber,
    ...(user ? { subIndex: user.subIndex } : {}),
    approximateArrivalTimestamp: kinesis.approximateArrivalTimestamp,
    data: user ? Buffer.from(payload.data!).toString('base64') : kinesis.data,
    byteLength: payload.data!.length,
  };
}

/**
 * Scratch space for JSON records' bytes: most records are decoded from it by the flat
 * fast path (functions/domain/flat-reading.ts) and never need a buffer of their own.
 */
const scratch = Buffer.allocUnsafe(MAX_RECORD_BYTES + 4);

/**
 * The reading of a JSON record whose bytes are not decoded yet, when the flat fast path
 * reads it from the scratch buffer; otherwise its bytes become `payload.data`, for the
 * format's own decoder (and the invalid sink), and undefined is returned.
 */
function readLazily(payload: Payload, ctx: FormatContext, options: DecodeOptions): Reading | undefined {
  const { kinesis } = payload.record;
  const base64 = kinesis.data;
  // The same decoder as Buffer.from writes the same bytes, given room for all of them.
  if (Math.ceil(base64.length / 4) * 3 <= scratch.length) {
    const length = scratch.write(base64, 0, scratch.length, 'base64');
    const reading = decodeFlatReading(scratch, ctx.metrics, options, kinesis.partitionKey, length);
    if (reading) return reading;
  }
  payload.data = Buffer.from(base64, 'base64');
  return undefined;
}
