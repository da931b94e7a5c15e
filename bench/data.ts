/**
 * The benchmark's input: simulated fleets (local/simulator.ts, the Kafka tutorial's
 * producer plus real-world disorder: spikes, out-of-order and late readings, malformed
 * records, 10 % in the tutorial's `sensor_id` / ISO-8601 format) cut into Lambda Kinesis
 * events. Both sides of every comparison get the very same bytes.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { buildKinesisEvent, fakeSequenceNumber } from '../events/kinesis-event.js';
import { type SimulatedRecord, simulate } from '../local/simulator.js';

/** 2026-01-01T00:00:00Z, a multiple of every window size used. */
export const BENCH_T0 = Date.UTC(2026, 0, 1);
export const BENCH_SEED = 20_260_101;
export const BENCH_SHARD_ID = 'shardId-000000000000';
export const BENCH_STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/windowpane-bench';

export interface FleetSpec {
  sensors: number;
  /** Readings per second, per sensor. */
  rateHz: number;
  seed?: number;
  /** Fraction of readings with a spike, which the default rules alert on (simulator default 0.02). */
  spikeRate?: number;
}

/** The first `count` records the fleet sends, in arrival order. */
export function fleetRecords(fleet: FleetSpec, count: number): SimulatedRecord[] {
  const seconds = count / (fleet.sensors * fleet.rateHz);
  const records: SimulatedRecord[] = [];
  if (count <= 0) return records;
  // A generous duration: the generator is lazy, so only what is taken is built.
  for (const record of simulate({
    sensors: fleet.sensors,
    rateHz: fleet.rateHz,
    seed: fleet.seed ?? BENCH_SEED,
    startMs: BENCH_T0,
    durationMs: Math.ceil(seconds * 1_000) + 120_000,
    ...(fleet.spikeRate !== undefined ? { spikeRate: fleet.spikeRate } : {}),
  })) {
    records.push(record);
    if (records.length >= count) break;
  }
  return records;
}

/**
 * Consecutive Lambda events of `batchSize` records of one shard, with increasing
 * Kinesis-shaped sequence numbers (continuing from `firstSequence`).
 */
export function toEvents(
  records: readonly SimulatedRecord[],
  batchSize: number,
  opts: { shardId?: string; firstSequence?: number; streamArn?: string } = {},
): KinesisStreamEvent[] {
  const shardId = opts.shardId ?? BENCH_SHARD_ID;
  const first = opts.firstSequence ?? 1;
  const events: KinesisStreamEvent[] = [];
  for (let i = 0; i < records.length; i += batchSize) {
    events.push(
      buildKinesisEvent(
        records.slice(i, i + batchSize).map((r, j) => ({
          partitionKey: r.partitionKey,
          data: r.data,
          sequenceNumber: fakeSequenceNumber(first + i + j),
          shardId,
          approximateArrivalTimestamp: r.arrivalMs / 1_000,
        })),
        { streamArn: opts.streamArn ?? BENCH_STREAM_ARN },
      ),
    );
  }
  return events;
}

export function distinctPartitionKeys(event: KinesisStreamEvent): number {
  return new Set(event.Records.map((r) => r.kinesis.partitionKey)).size;
}

/** Mean record data size in bytes (the Kinesis payload, partition key excluded). */
export function meanDataBytes(records: readonly SimulatedRecord[]): number {
  if (records.length === 0) return 0;
  let total = 0;
  for (const r of records) total += r.data.byteLength;
  return total / records.length;
}

export function meanPartitionKeyBytes(records: readonly SimulatedRecord[]): number {
  if (records.length === 0) return 0;
  let total = 0;
  for (const r of records) total += Buffer.byteLength(r.partitionKey);
  return total / records.length;
}
