/**
 * The cost model's carried-state rows: dollars per million readings for the carried cases
 * the writes suite measured (bench/carried.ts), beside the naive design on the same
 * records and, where the cost scenarios have the fleet, the per-batch design.
 *
 * - Lambda: the carried design's default batching window is 0, so it is invoked at
 *   Lambda's poll, about once a second per shard, plus one final invocation per shard and
 *   Lambda window; both are priced (requests and GB-seconds). CPU of an invocation with records = the
 *   pure suite's path with state JSON for its batch size + passing the carried state as
 *   Lambda does, measured: the runtime parses it in, the handler stringifies it once to
 *   check its size, the runtime stringifies the response. A final invocation: one parse
 *   and one stringify. I/O: the modelled wait of the requests metered in each invocation.
 * - The carried state costs nothing itself; its largest size is checked against the
 *   handler's budget (900,000 bytes of Lambda's 1 MB).
 * - DynamoDB from the metered units, SNS and SQS from the metered requests, Kinesis as
 *   for the other rows (the fleet's stream and shards).
 * - Naive: the same records' counted writes and alerts, its Lambda at the per-batch
 *   design's batch shape (batch 10,000, 5 s window), as in the other naive rows.
 */
import type { CarriedCaseResult } from '../carried.js';
import { spikeNote } from '../carried-cases.js';
import { BenchSuiteError, type Headline } from '../context.js';
import {
  breakdown,
  COST_ASSUMPTIONS,
  type CostBreakdown,
  type CostRow,
  kinesisCosts,
  lambdaCost,
  pureMsPerBatch,
} from '../cost-model.js';
import { PRICES } from '../prices.js';
import { formatDollars } from '../report.js';
import { batchShape, CARRIED_ESM, type CostScenario, PER_BATCH_ESM } from '../scenarios.js';
import { round } from '../stats.js';
import type { PureSuiteResult } from './pure.js';

/** Issue 14: total $/M at most half the naive design's, in every row. */
export const CARRIED_COST_GOAL = 1 / 2;

export interface CarriedCostRow extends Omit<CostRow, 'design'> {
  design: 'windowpane carried';
  tumblingWindowSeconds: number;
  /** The simulator's spike rate when not its default (CarriedCaseSpec.spikeRate). */
  spikeRate?: number;
  /** Invocations per million readings: with records, and final ones. */
  invocationsPerMillion: number;
  finalInvocationsPerMillion: number;
  finalLambda: CostRow['lambda'];
  carriedStateBytesMax: number;
  carriedStateWithinBudget: boolean;
  naive: CostBreakdown;
  /** The per-batch design's totals for the same fleet and rate (cost scenarios), when it has them. */
  perBatch?: { esm: string; totalOnDemand: number; totalProvisioned: number }[];
  /** carried / naive totals. */
  vsNaive: { onDemand: number; provisioned: number };
  goalMet: boolean;
}

function naiveBreakdown(
  pure: PureSuiteResult,
  c: CarriedCaseResult,
  kinesis: ReturnType<typeof kinesisCosts>,
  recordBytes: number,
): CostBreakdown {
  const a = COST_ASSUMPTIONS;
  const shape = batchShape({ id: '', sensors: c.fleet, rateHz: c.rateHz, esm: PER_BATCH_ESM }, recordBytes);
  const perRecord = (n: number) => n / c.records;
  const perBatch = (n: number) => perRecord(n) * shape.batchSize;
  const io =
    Math.ceil(perBatch(c.naive.writeRequests) / a.naiveConcurrency) * a.roundTripMs.dynamodb +
    Math.ceil(perBatch(c.naive.alerts) / a.naiveConcurrency) * a.roundTripMs.sns;
  const lambda = lambdaCost(pureMsPerBatch(pure, shape.batchSize, 'naive'), io, shape.batchSize);
  return breakdown(
    kinesis,
    lambda.dollars,
    perRecord(c.naive.writeRequests) * PRICES.dynamodb.writeRequestUnitsPerMillion,
    perRecord(c.naive.alerts) * PRICES.sns.publishesPerMillion,
  );
}

export function carriedCostRow(
  pure: PureSuiteResult,
  c: CarriedCaseResult,
  perBatchRows: readonly CostRow[],
): CarriedCostRow {
  if (c.invocations === 0 || c.finalInvocations === 0)
    throw new BenchSuiteError(`carried case ${c.id} made no invocations to price`);
  const scenario: CostScenario = { id: c.id, sensors: c.fleet, rateHz: c.rateHz, esm: CARRIED_ESM };
  const kinesis = kinesisCosts(scenario, c.meanRecordBytes, c.shards);
  const perRecord = (n: number) => n / c.records;
  const t = c.transportMs;
  const batch = Math.max(1, Math.round(c.meanRecordsPerInvocation));
  const regular = lambdaCost(
    pureMsPerBatch(pure, batch, 'pipelineWithStateJson') + t.parse + 2 * t.stringify,
    c.ioMs.invocation,
    c.records / c.invocations,
  );
  const final = lambdaCost(t.parse + t.stringify, c.ioMs.final, c.records / c.finalInvocations);
  const d = PRICES.dynamodb;
  const dynamo =
    perRecord(c.ours.writeUnits) * d.writeRequestUnitsPerMillion +
    perRecord(c.ours.readUnits) * d.readRequestUnitsPerMillion;
  const messaging =
    perRecord(c.ours.snsPublishes) * PRICES.sns.publishesPerMillion +
    perRecord(c.ours.sqsRequests) * PRICES.sqs.requestsPerMillion;
  const ours = breakdown(kinesis, regular.dollars + final.dollars, dynamo, messaging);
  const naive = naiveBreakdown(pure, c, kinesis, c.meanRecordBytes);
  // The per-batch rows ran the default data: no comparison for a case with other spikes.
  const perBatch = perBatchRows
    .filter(
      (r) =>
        r.design === 'windowpane' &&
        r.sensors === c.fleet &&
        r.rateHz === c.rateHz &&
        c.spikeRate === undefined,
    )
    .map((r) => ({
      esm: r.esm,
      totalOnDemand: r.dollarsPerMillion.totalOnDemand,
      totalProvisioned: r.dollarsPerMillion.totalProvisioned,
    }));
  const vsNaive = {
    onDemand: round(ours.totalOnDemand / naive.totalOnDemand, 4),
    provisioned: round(ours.totalProvisioned / naive.totalProvisioned, 4),
  };
  return {
    scenario: c.id,
    sensors: c.fleet,
    rateHz: c.rateHz,
    esm: `carried (batch ${CARRIED_ESM.batchSize}, window ${CARRIED_ESM.maxBatchingWindowSeconds} s, tumbling ${c.tumblingWindowSeconds} s)`,
    design: 'windowpane carried',
    tumblingWindowSeconds: c.tumblingWindowSeconds,
    ...(c.spikeRate !== undefined ? { spikeRate: c.spikeRate } : {}),
    batchSize: batch,
    batchFillSeconds: c.batchingWindowSeconds,
    shards: c.shards,
    writeRequestsPerReading: round(perRecord(c.ours.writeRequests), 5),
    writeUnitsPerReading: round(perRecord(c.ours.writeUnits), 5),
    readUnitsPerReading: round(perRecord(c.ours.readUnits), 5),
    publishesPerReading: round(perRecord(c.ours.snsPublishes), 5),
    lambda: regular.model,
    finalLambda: final.model,
    invocationsPerMillion: round((1e6 * c.invocations) / c.records, 1),
    finalInvocationsPerMillion: round((1e6 * c.finalInvocations) / c.records, 2),
    carriedStateBytesMax: c.carriedBytes.max,
    carriedStateWithinBudget: c.carriedBytes.withinBudget,
    dollarsPerMillion: ours,
    naive,
    ...(perBatch.length > 0 ? { perBatch } : {}),
    vsNaive,
    goalMet: vsNaive.onDemand <= CARRIED_COST_GOAL && vsNaive.provisioned <= CARRIED_COST_GOAL,
  };
}

export function carriedCostHeadlines(rows: readonly CarriedCostRow[]): Headline[] {
  return rows.map((x) => {
    const o = x.dollarsPerMillion;
    const perBatch = (x.perBatch ?? [])
      .map((p) => {
        const label = p.esm.split(' ')[0];
        return `${label === 'per-batch' ? label : `per-batch ${label}`} ${formatDollars(p.totalOnDemand)}`;
      })
      .join(', ');
    return {
      suite: 'cost' as const,
      metric: `$/M readings, carried (W ${x.tumblingWindowSeconds} s, batching ${CARRIED_ESM.maxBatchingWindowSeconds} s), ${x.sensors.toLocaleString('en-US')} sensors @ ${x.rateHz} Hz${spikeNote(x)}`,
      value: o.totalOnDemand,
      unit: 'USD',
      display:
        `${formatDollars(o.totalOnDemand)} vs naive ${formatDollars(x.naive.totalOnDemand)} (x${x.vsNaive.onDemand})` +
        `${perBatch ? `, ${perBatch}` : ''} (provisioned: ${formatDollars(o.totalProvisioned)} vs ` +
        `${formatDollars(x.naive.totalProvisioned)}, x${x.vsNaive.provisioned})`,
      target: '<= 1/2 of naive',
      met: x.goalMet,
    };
  });
}
