/**
 * The arithmetic of the cost model (bench/suites/cost.ts, bench/suites/cost-carried.ts):
 * the assumptions that are not prices, and the Kinesis, Lambda and cost-breakdown
 * formulas both the per-batch and the carried rows are priced with.
 */
import { BenchSuiteError } from './context.js';
import type { MeterTotals } from './meter.js';
import { PRICES } from './prices.js';
import type { CostScenario } from './scenarios.js';
import { round } from './stats.js';
import type { PureCaseResult, PureSuiteResult } from './suites/pure.js';

/** Modelling assumptions that are not prices, stated with the result. */
export const COST_ASSUMPTIONS = {
  lambdaMemoryMb: 512,
  /** Lambda gives one full vCPU at 1,769 MB and a proportional share below it. */
  lambdaFullVcpuMb: 1_769,
  /** One Lambda arm64 vCPU assumed as fast as one core of the benchmark machine. */
  cpuSpeedFactor: 1,
  /** Typical in-region round trips from Lambda, ms (assumption, not measured here). */
  roundTripMs: { dynamodb: 6, sns: 15, sqs: 10, kinesis: 10 },
  /** processBatch's sensor concurrency and alert publish concurrency (process-batch.ts, effects.ts). */
  handlerConcurrency: 8,
  publishConcurrency: 16,
  /** The naive writer's request concurrency (bench/baseline.ts): generous to the baseline. */
  naiveConcurrency: 8,
  /**
   * The Powertools peer processes a batch's records in parallel (BatchProcessor's default);
   * its requests are bounded by the SDK's HTTP agent, 50 sockets per client.
   */
  peerConcurrency: 50,
  /** Lambda's standard (shared-throughput) consumer of the stream. */
  streamConsumers: 1,
} as const;

export interface CostBreakdown {
  kinesisOnDemand: number;
  kinesisProvisioned: number;
  lambda: number;
  dynamodb: number;
  messaging: number;
  totalOnDemand: number;
  totalProvisioned: number;
}

export interface CostRow {
  scenario: string;
  sensors: number;
  rateHz: number;
  esm: string;
  design: 'windowpane' | 'naive' | 'powertools';
  batchSize: number;
  /** Seconds a shard takes to gather one batch: the delay batching adds before alerts. */
  batchFillSeconds: number;
  shards: number;
  /** Per record (reading sent). */
  writeRequestsPerReading: number;
  writeUnitsPerReading: number;
  readUnitsPerReading: number;
  publishesPerReading: number;
  /** Lambda model per batch. */
  lambda: {
    cpuLocalMs: number;
    cpuLambdaMs: number;
    ioMs: number;
    billedMs: number;
    gbSecondsPerMillion: number;
  };
  /** Dollars per million readings. */
  dollarsPerMillion: CostBreakdown;
}

const GB = 2 ** 30;

/** Milliseconds per batch of the pure suite for this batch size (largest fleet, nearest size scaled). */
export function pureMsPerBatch(
  pure: PureSuiteResult,
  batchSize: number,
  variant: 'pipelineWithStateJson' | 'naive',
): number {
  const largest = Math.max(...pure.cases.map((c) => c.sensors));
  const cases = pure.cases.filter((c) => c.sensors === largest);
  const exact = cases.find((c) => c.batchSize === batchSize);
  if (exact) return exact.msPerBatch[variant];
  const nearest = cases.reduce<PureCaseResult | undefined>(
    (best, c) =>
      best === undefined ||
      Math.abs(Math.log(c.batchSize / batchSize)) < Math.abs(Math.log(best.batchSize / batchSize))
        ? c
        : best,
    undefined,
  );
  if (!nearest) throw new BenchSuiteError('the pure suite has no cases to take CPU time from');
  return (nearest.msPerBatch[variant] / nearest.batchSize) * batchSize;
}

export function kinesisCosts(scenario: CostScenario, recordBytes: number, shards: number) {
  const k = PRICES.kinesis;
  const recordsPerSecond = scenario.sensors * scenario.rateHz;
  const hoursPerMillion = 1e6 / (recordsPerSecond * 3_600);
  const rounded = Math.ceil(recordBytes / k.onDemand.recordRoundingBytes) * k.onDemand.recordRoundingBytes;
  const onDemand =
    k.onDemand.streamHour * hoursPerMillion +
    ((1e6 * rounded) / GB) * k.onDemand.ingestPerGb +
    ((1e6 * rounded * COST_ASSUMPTIONS.streamConsumers) / GB) * k.onDemand.retrievalPerGb;
  const putUnits = 1e6 * Math.ceil(recordBytes / k.provisioned.putPayloadUnitBytes);
  const provisioned =
    k.provisioned.shardHour * shards * hoursPerMillion +
    (putUnits / 1e6) * k.provisioned.putPayloadUnitsPerMillion;
  return { onDemand, provisioned };
}

export function lambdaCost(cpuLocalMs: number, ioMs: number, recordsPerBatch: number) {
  const a = COST_ASSUMPTIONS;
  const cpuScale = Math.max(1, a.lambdaFullVcpuMb / a.lambdaMemoryMb) / a.cpuSpeedFactor;
  const cpuLambdaMs = cpuLocalMs * cpuScale;
  const billedMs = Math.ceil(cpuLambdaMs + ioMs);
  const invocationsPerMillion = 1e6 / recordsPerBatch;
  const gbSecondsPerMillion = invocationsPerMillion * (a.lambdaMemoryMb / 1_024) * (billedMs / 1_000);
  const dollars =
    gbSecondsPerMillion * PRICES.lambda.arm64PerGbSecond +
    (invocationsPerMillion / 1e6) * PRICES.lambda.requestsPerMillion;
  return {
    model: {
      cpuLocalMs: round(cpuLocalMs, 2),
      cpuLambdaMs: round(cpuLambdaMs, 2),
      ioMs: round(ioMs, 1),
      billedMs,
      gbSecondsPerMillion: round(gbSecondsPerMillion, 1),
    },
    dollars,
  };
}

export function breakdown(
  kinesis: { onDemand: number; provisioned: number },
  lambda: number,
  dynamodb: number,
  messaging: number,
): CostBreakdown {
  const shared = lambda + dynamodb + messaging;
  const r = (x: number) => round(x, 5);
  return {
    kinesisOnDemand: r(kinesis.onDemand),
    kinesisProvisioned: r(kinesis.provisioned),
    lambda: r(lambda),
    dynamodb: r(dynamodb),
    messaging: r(messaging),
    totalOnDemand: r(kinesis.onDemand + shared),
    totalProvisioned: r(kinesis.provisioned + shared),
  };
}

/**
 * Modelled I/O wait of one invocation from the requests metered in it: state loads
 * (BatchGetItem) one after another; per-sensor writes and reads (claims, commits, result
 * puts, checkpoints) `handlerConcurrency` at a time; ledger batch writes, queue and
 * stream requests in turn; publishes `publishConcurrency` at a time.
 */
export function requestsIoMs(d: MeterTotals): number {
  const a = COST_ASSUMPTIONS;
  const rt = a.roundTripMs;
  const n = (name: string) => d.dynamodb.byCommand[name] ?? 0;
  const pooled = n('PutItemCommand') + n('UpdateItemCommand') + n('GetItemCommand') + n('DeleteItemCommand');
  return (
    (n('BatchGetItemCommand') + n('BatchWriteItemCommand') + n('QueryCommand')) * rt.dynamodb +
    Math.ceil(pooled / a.handlerConcurrency) * rt.dynamodb +
    Math.ceil(d.sns.publishes / a.publishConcurrency) * rt.sns +
    d.sqs.requests * rt.sqs +
    d.kinesis.requests * rt.kinesis
  );
}
