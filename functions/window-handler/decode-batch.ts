/**
 * The pure first step of a stream batch: decode and validate every Kinesis record, and
 * group the valid readings by sensor in arrival order. No I/O; the benchmarks measure
 * this with the fold (bench/pure-path.ts).
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { decodeReading } from '../domain/reading.js';
import { checkSequence, shardIdOfEventId } from '../domain/sequence.js';
import type { SensorRecord } from '../domain/state.js';
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

export function decodeBatch(event: KinesisStreamEvent, metrics: readonly string[]): DecodedBatch {
  const invalid: InvalidRecordMessage[] = [];
  const groups = new Map<string, SensorGroup>();
  // A batch comes from one shard: parse the eventID prefix once, not per record.
  let shardId = '';
  let shardPrefix = '\u0000';
  for (const rec of event.Records) {
    const { kinesis } = rec;
    if (!rec.eventID.startsWith(shardPrefix)) {
      shardId = shardIdOfEventId(rec.eventID);
      shardPrefix = `${shardId}:`;
    }
    const bytes = Buffer.from(kinesis.data, 'base64');
    // The arrival time is part of the record, so the future bound is the same on every retry.
    const decoded = decodeReading(bytes, metrics, { arrivalMs: kinesis.approximateArrivalTimestamp * 1000 });
    if (!decoded.ok) {
      invalid.push({
        id: `${shardId}:${kinesis.sequenceNumber}`,
        reason: decoded.reason,
        detail: decoded.detail,
        partitionKey: kinesis.partitionKey,
        shardId,
        sequenceNumber: kinesis.sequenceNumber,
        approximateArrivalTimestamp: kinesis.approximateArrivalTimestamp,
        data: kinesis.data,
        byteLength: bytes.length,
      });
      continue;
    }
    const { sensorId } = decoded.reading;
    let group = groups.get(sensorId);
    if (!group) {
      group = { sensorId, records: [], firstItemId: kinesis.sequenceNumber };
      groups.set(sensorId, group);
    }
    group.records.push({
      shardId,
      sequence: checkSequence(kinesis.sequenceNumber),
      reading: decoded.reading,
      arrivalMs: kinesis.approximateArrivalTimestamp * 1000,
    });
  }
  return { groups, invalid };
}
