/**
 * The deployment scenarios the cost model prices. The per-batch design (carried state off,
 * eventSource.tumblingWindowSeconds 0): 1,000 sensors at 1 Hz and at 0.1 Hz, each with the
 * settings it shipped with (batch 10,000, batching window 5 s) and with settings tuned for
 * fewer writes (largest batch Lambda allows, a batching window long enough to fill it). The
 * write-amplification suite measures each scenario's batch shape against the emulator, and
 * the cost suite prices those measurements. The carried design, windowpane's default
 * (DEFAULT_CONFIG.eventSource, CARRIED_ESM), is measured by bench/carried.ts.
 */
import { DEFAULT_CONFIG } from '../functions/domain/config.js';
import { PRICES } from './prices.js';

export interface EsmSettings {
  label: 'per-batch' | 'tuned' | 'carried';
  batchSize: number;
  maxBatchingWindowSeconds: number;
}

export interface CostScenario {
  id: string;
  sensors: number;
  rateHz: number;
  esm: EsmSettings;
}

/** Provisioned streams are sized so no shard runs above this share of its write limits. */
export const SHARD_TARGET_UTILISATION = 0.8;

/** Lambda's limits for a Kinesis event source: batch size and batching window. */
const LAMBDA_MAX_BATCH = 10_000;
const LAMBDA_MAX_WINDOW_SECONDS = 300;
/**
 * Lambda polls each shard about once a second ("a base rate of once per second"), so with
 * a batching window of 0 a steady shard is delivered in batches of about a second.
 */
export const LAMBDA_POLL_SECONDS = 1;

/** The per-batch design's settings as it shipped them: batch 10,000, batching window 5 s. */
export const PER_BATCH_ESM: EsmSettings = {
  label: 'per-batch',
  batchSize: LAMBDA_MAX_BATCH,
  maxBatchingWindowSeconds: 5,
};

export const TUNED_ESM: EsmSettings = {
  label: 'tuned',
  batchSize: LAMBDA_MAX_BATCH,
  maxBatchingWindowSeconds: LAMBDA_MAX_WINDOW_SECONDS,
};

/**
 * Carried state, windowpane's default (DEFAULT_CONFIG.eventSource: tumblingWindowSeconds
 * 300, batching window 0): writes no longer track batches, so a short batching window
 * costs invocations, not writes, and keeps alerts prompt.
 */
export const CARRIED_ESM: EsmSettings = {
  label: 'carried',
  batchSize: DEFAULT_CONFIG.eventSource.batchSize,
  maxBatchingWindowSeconds: DEFAULT_CONFIG.eventSource.maxBatchingWindowSeconds,
};

export const COST_SCENARIOS: readonly CostScenario[] = [
  { id: '1000s-1hz-per-batch', sensors: 1_000, rateHz: 1, esm: PER_BATCH_ESM },
  { id: '1000s-1hz-tuned', sensors: 1_000, rateHz: 1, esm: TUNED_ESM },
  { id: '1000s-0.1hz-per-batch', sensors: 1_000, rateHz: 0.1, esm: PER_BATCH_ESM },
  { id: '1000s-0.1hz-tuned', sensors: 1_000, rateHz: 0.1, esm: TUNED_ESM },
];

/** Seconds one batch gathers for: the batching window, or Lambda's poll when it is shorter. */
export function gatherSeconds(esm: EsmSettings): number {
  return Math.max(esm.maxBatchingWindowSeconds, LAMBDA_POLL_SECONDS);
}

export interface BatchShape {
  /** Provisioned shards needed (also the shard count the batches are computed for). */
  shards: number;
  sensorsPerShard: number;
  recordsPerShardPerSecond: number;
  /** Records per invocation: the batch fills up or the batching window ends. */
  batchSize: number;
  /** Seconds a batch takes to gather (an upper bound on the alert latency it adds). */
  fillSeconds: number;
}

/** Provisioned shard count for a fleet: the larger of the record and byte limits, with headroom. */
export function provisionedShards(recordsPerSecond: number, bytesPerRecord: number): number {
  const p = PRICES.kinesis.provisioned;
  const byRecords = recordsPerSecond / (p.shardRecordsPerSecond * SHARD_TARGET_UTILISATION);
  const byBytes = (recordsPerSecond * bytesPerRecord) / (p.shardBytesPerSecond * SHARD_TARGET_UTILISATION);
  return Math.max(1, Math.ceil(Math.max(byRecords, byBytes)));
}

/**
 * The batches Lambda would deliver: sensors are spread over the shards by partition key,
 * and one invocation gets what one shard gathered within the batching window (at least
 * Lambda's poll interval).
 */
export function batchShape(scenario: CostScenario, bytesPerRecord: number): BatchShape {
  const recordsPerSecond = scenario.sensors * scenario.rateHz;
  const shards = provisionedShards(recordsPerSecond, bytesPerRecord);
  const recordsPerShardPerSecond = recordsPerSecond / shards;
  const inWindow = Math.floor(recordsPerShardPerSecond * gatherSeconds(scenario.esm));
  const batchSize = Math.max(1, Math.min(scenario.esm.batchSize, inWindow));
  return {
    shards,
    sensorsPerShard: Math.ceil(scenario.sensors / shards),
    recordsPerShardPerSecond,
    batchSize,
    fillSeconds: batchSize / recordsPerShardPerSecond,
  };
}
