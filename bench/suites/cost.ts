/**
 * Suite 5, the cost model: dollars per million readings on AWS for the scenarios of
 * bench/scenarios.ts, for windowpane and for the naive per-reading design, from the
 * numbers this run measured and the price table in bench/prices.ts. Nothing here runs
 * anything: it prices the `pure` and `writes` results.
 *
 * Per component:
 * - Kinesis (the same stream for both designs). On-demand: stream-hours + data in (each
 *   record rounded up to 1 KB) + data out (assumed rounded the same way). Provisioned:
 *   shard-hours for the shards the fleet needs (bench/scenarios.ts) + PUT payload units.
 * - Lambda arm64: requests (one per batch) + GB-seconds. Billed time per batch = CPU time
 *   measured by the pure suite for that batch size (the path including state JSON for
 *   windowpane), scaled to the CPU share Lambda gives the configured memory, plus the
 *   I/O waits of the requests the writes suite counted, at an assumed AWS round trip per
 *   request, with the handler's own concurrency. Local CPU is not Lambda CPU: the scale
 *   assumes one Graviton vCPU does what one core of this machine does.
 * - DynamoDB on-demand: write units and read units per reading, from the writes suite's
 *   metered item sizes (windowpane: state items, results, ledger; naive: one small item
 *   update per reading plus one per alert).
 * - SNS publishes (windowpane: alerts after cooldown; naive: every rule firing) and SQS
 *   requests (windowpane's invalid and late sinks; the naive design has none).
 * Storage, CloudWatch, data transfer and free tiers are left out of both designs.
 */

import { DEFAULT_CONFIG } from '../../functions/domain/config.js';
import { type BenchContext, BenchSuiteError, type Headline } from '../context.js';
import {
  breakdown,
  COST_ASSUMPTIONS,
  type CostRow,
  kinesisCosts,
  lambdaCost,
  pureMsPerBatch,
} from '../cost-model.js';
import { PRICE_SOURCES, PRICES, PRICES_AS_OF, PRICES_REGION, PRICES_STATUS } from '../prices.js';
import { formatDollars } from '../report.js';
import { type ScaleInputs, type ScaleRow, scaleModel } from '../scale.js';
import { batchShape, COST_SCENARIOS } from '../scenarios.js';
import { round } from '../stats.js';
import { type CarriedCostRow, carriedCostHeadlines, carriedCostRow } from './cost-carried.js';
import type { PeerCaseResult, PeerSuiteResult } from './peer.js';
import type { PureSuiteResult } from './pure.js';
import type { WriteCaseResult, WritesSuiteResult } from './writes.js';

export {
  COST_ASSUMPTIONS,
  type CostBreakdown,
  type CostRow,
  kinesisCosts,
  lambdaCost,
} from '../cost-model.js';

export interface CostSuiteResult {
  prices: {
    asOf: string;
    region: string;
    status: string;
    sources: typeof PRICE_SOURCES;
    table: typeof PRICES;
  };
  assumptions: typeof COST_ASSUMPTIONS;
  recordBytes: number;
  rows: CostRow[];
  /** The carried-state design's rows (bench/suites/cost-carried.ts), from the writes suite's carried cases. */
  carried: CarriedCostRow[];
  /** The scale model (bench/scale.ts) from this run's measurements. */
  scale: ScaleRow[];
  /** The scale model's carried rows come from measured carried cases (else the design's arithmetic). */
  carriedMeasured: boolean;
}

/** The carried-state design's tumbling window as windowpane ships it (DEFAULT_CONFIG.eventSource). */
export const DEFAULT_TUMBLING_WINDOW_SECONDS = DEFAULT_CONFIG.eventSource.tumblingWindowSeconds;

/** What the scale model takes from this run: the per-batch design's cases at its shipped settings, and the carried cases at the default window. */
export function scaleInputs(
  writes: WritesSuiteResult,
  peer: PeerSuiteResult,
  recordBytes: number,
): ScaleInputs {
  const inputs: ScaleInputs = {
    recordBytes,
    units: { perBatch: {}, naive: {}, powertools: {} },
    rates: {},
    tumblingWindowSeconds: DEFAULT_TUMBLING_WINDOW_SECONDS,
  };
  for (const scenario of COST_SCENARIOS.filter((s) => s.esm.label === 'per-batch')) {
    const key = String(scenario.rateHz);
    const c = writes.cases.find((w) => w.group === 'cost' && w.scenario === scenario.id);
    const p = peer.cases.find((x) => x.scenario === scenario.id);
    if (!c || !p) continue;
    inputs.units.perBatch[key] = { write: c.ours.writeUnitsPerReading, read: c.ours.readUnitsPerReading };
    inputs.units.naive[key] = { write: c.naive.writeRequests / c.records, read: 0 };
    inputs.units.powertools[key] = { write: p.writeUnitsPerReading, read: p.readUnitsPerReading };
    inputs.rates[key] = {
      finals: (c.windowsFinalisedInRun + c.openWindowResultShare) / c.readings,
      alerts: c.ours.snsPublishes / c.readings,
    };
  }
  // The carried design as measured: the default window and data, the case with most sensors a shard.
  const carried = writes.carried
    .filter((c) => c.tumblingWindowSeconds === DEFAULT_TUMBLING_WINDOW_SECONDS && c.spikeRate === undefined)
    .sort((a, b) => b.sensors - a.sensors);
  for (const c of carried) {
    const key = String(c.rateHz);
    inputs.carried ??= {};
    inputs.carried[key] ??= {
      write: c.ours.writeUnitsPerReading,
      read: c.ours.readUnitsPerReading,
      stateBytesPerSensor: Math.ceil(c.carriedBytes.max / c.sensors),
    };
  }
  return inputs;
}

/** I/O wait of one windowpane batch: the requests counted, in the handler's order and concurrency. */
function windowpaneIoMs(c: WriteCaseResult): number {
  const a = COST_ASSUMPTIONS;
  const per = (n: number | undefined) => (n ?? 0) / c.batches;
  const cmd = c.ours.byCommand;
  const rt = a.roundTripMs;
  // State loads (BatchGetItem of 100 keys) and the alert-ledger check run one after another;
  // everything done per sensor (commit, result puts, any other read) runs
  // `handlerConcurrency` sensors at a time; ledger writes are a few BatchWriteItem calls.
  const alertsPerBatch = per(c.ours.snsPublishes);
  const sequentialGets = Math.ceil(c.meanSensorsPerBatch / 100) + Math.ceil(alertsPerBatch / 100);
  const pooled =
    per(cmd.PutItemCommand) +
    per(cmd.GetItemCommand) +
    Math.max(0, per(cmd.BatchGetItemCommand) - sequentialGets);
  return (
    sequentialGets * rt.dynamodb +
    Math.ceil(pooled / a.handlerConcurrency) * rt.dynamodb +
    per(cmd.BatchWriteItemCommand) * rt.dynamodb +
    Math.ceil(alertsPerBatch / a.publishConcurrency) * rt.sns +
    per(c.ours.sqsRequests) * rt.sqs
  );
}

/** The peer's records run in parallel, each its three writes in turn; publishes on their own client. */
function peerIoMs(p: PeerCaseResult): number {
  const a = COST_ASSUMPTIONS;
  const per = (n: number) => n / p.batches;
  return (
    Math.ceil(per(p.writeRequests) / a.peerConcurrency) * a.roundTripMs.dynamodb +
    Math.ceil(per(p.alerts) / a.peerConcurrency) * a.roundTripMs.sns
  );
}

function naiveIoMs(c: WriteCaseResult): number {
  const a = COST_ASSUMPTIONS;
  const per = (n: number) => n / c.batches;
  return (
    Math.ceil(per(c.naive.writeRequests) / a.naiveConcurrency) * a.roundTripMs.dynamodb +
    Math.ceil(per(c.naive.alerts) / a.naiveConcurrency) * a.roundTripMs.sns
  );
}

export async function runCostSuite(ctx: BenchContext): Promise<CostSuiteResult> {
  const pure = ctx.results.pure as PureSuiteResult | undefined;
  const writes = ctx.results.writes as WritesSuiteResult | undefined;
  const peer = ctx.results.peer as PeerSuiteResult | undefined;
  if (!pure || !writes || !peer)
    throw new BenchSuiteError('the cost model needs the results of the pure, writes and peer suites');
  const rows: CostRow[] = [];
  let recordBytes = 0;
  for (const scenario of COST_SCENARIOS) {
    const c = writes.cases.find((w) => w.group === 'cost' && w.scenario === scenario.id);
    if (!c) throw new BenchSuiteError(`the writes suite did not measure scenario ${scenario.id}`);
    recordBytes = c.meanRecordBytes;
    const shape = batchShape(scenario, c.meanRecordBytes);
    const kinesis = kinesisCosts(scenario, c.meanRecordBytes, shape.shards);
    const recordsPerBatch = c.records / c.batches;
    const perRecord = (n: number) => n / c.records;
    const d = PRICES.dynamodb;
    const common = {
      scenario: scenario.id,
      sensors: scenario.sensors,
      rateHz: scenario.rateHz,
      esm: `${scenario.esm.label} (batch ${scenario.esm.batchSize}, window ${scenario.esm.maxBatchingWindowSeconds} s)`,
      batchSize: c.batchSize,
      batchFillSeconds: round(c.batchSize / shape.recordsPerShardPerSecond, 1),
      shards: shape.shards,
    };

    // windowpane
    const oursLambda = lambdaCost(
      pureMsPerBatch(pure, c.batchSize, 'pipelineWithStateJson'),
      windowpaneIoMs(c),
      recordsPerBatch,
    );
    // Units per reading x price per million units = dollars per million readings.
    const oursDynamo =
      perRecord(c.ours.writeUnits) * d.writeRequestUnitsPerMillion +
      perRecord(c.ours.readUnits) * d.readRequestUnitsPerMillion;
    const oursMessaging =
      perRecord(c.ours.snsPublishes) * PRICES.sns.publishesPerMillion +
      perRecord(c.ours.sqsRequests) * PRICES.sqs.requestsPerMillion;
    rows.push({
      ...common,
      design: 'windowpane',
      writeRequestsPerReading: round(perRecord(c.ours.writeRequests), 5),
      writeUnitsPerReading: round(perRecord(c.ours.writeUnits), 5),
      readUnitsPerReading: round(perRecord(c.ours.readUnits), 5),
      publishesPerReading: round(perRecord(c.ours.snsPublishes), 5),
      lambda: oursLambda.model,
      dollarsPerMillion: breakdown(kinesis, oursLambda.dollars, oursDynamo, oursMessaging),
    });

    // naive: every naive item is far below 1 KB, so one write unit per request
    const naiveLambda = lambdaCost(pureMsPerBatch(pure, c.batchSize, 'naive'), naiveIoMs(c), recordsPerBatch);
    const naiveDynamo = perRecord(c.naive.writeRequests) * d.writeRequestUnitsPerMillion;
    const naiveMessaging = perRecord(c.naive.alerts) * PRICES.sns.publishesPerMillion;
    rows.push({
      ...common,
      design: 'naive',
      writeRequestsPerReading: round(perRecord(c.naive.writeRequests), 5),
      writeUnitsPerReading: round(perRecord(c.naive.writeRequests), 5),
      readUnitsPerReading: 0,
      publishesPerReading: round(perRecord(c.naive.alerts), 5),
      lambda: naiveLambda.model,
      dollarsPerMillion: breakdown(kinesis, naiveLambda.dollars, naiveDynamo, naiveMessaging),
    });

    // The Powertools peer: its CPU per record from the peer suite (same batch for every size).
    const p = peer.cases.find((x) => x.scenario === scenario.id);
    if (!p) throw new BenchSuiteError(`the peer suite did not measure scenario ${scenario.id}`);
    const peerMsPerRecord = peer.cpu.msPerBatch.peer / peer.cpu.batchSize;
    const peerLambda = lambdaCost(
      peerMsPerRecord * (p.records / p.batches),
      peerIoMs(p),
      p.records / p.batches,
    );
    const peerDynamo =
      p.writeUnitsPerReading * d.writeRequestUnitsPerMillion +
      p.readUnitsPerReading * d.readRequestUnitsPerMillion;
    const peerMessaging = p.publishesPerReading * PRICES.sns.publishesPerMillion;
    rows.push({
      ...common,
      design: 'powertools',
      writeRequestsPerReading: p.writeRequestsPerReading,
      writeUnitsPerReading: p.writeUnitsPerReading,
      readUnitsPerReading: p.readUnitsPerReading,
      publishesPerReading: p.publishesPerReading,
      lambda: peerLambda.model,
      dollarsPerMillion: breakdown(kinesis, peerLambda.dollars, peerDynamo, peerMessaging),
    });
    const [ours, naive, pt] = rows.slice(-3) as [CostRow, CostRow, CostRow];
    ctx.log(
      `cost: ${scenario.id}: windowpane ${formatDollars(ours.dollarsPerMillion.totalOnDemand)} / naive ` +
        `${formatDollars(naive.dollarsPerMillion.totalOnDemand)} / Powertools ` +
        `${formatDollars(pt.dollarsPerMillion.totalOnDemand)} per million readings (Kinesis on-demand)`,
    );
  }
  const carried = writes.carried.map((c) => carriedCostRow(pure, c, rows));
  const inputs = scaleInputs(writes, peer, recordBytes);
  for (const x of carried) {
    ctx.log(
      `cost: ${x.scenario}: carried ${formatDollars(x.dollarsPerMillion.totalOnDemand)} / naive ` +
        `${formatDollars(x.naive.totalOnDemand)} per million readings (x${x.vsNaive.onDemand}, goal <= 1/2)`,
    );
  }
  return {
    prices: {
      asOf: PRICES_AS_OF,
      region: PRICES_REGION,
      status: PRICES_STATUS,
      sources: PRICE_SOURCES,
      table: PRICES,
    },
    assumptions: COST_ASSUMPTIONS,
    recordBytes,
    rows,
    carried,
    scale: scaleModel(inputs),
    carriedMeasured: inputs.carried !== undefined,
  };
}

export function costHeadlines(r: CostSuiteResult): Headline[] {
  const out: Headline[] = [];
  for (const scenario of COST_SCENARIOS) {
    const ours = r.rows.find((x) => x.scenario === scenario.id && x.design === 'windowpane');
    const naive = r.rows.find((x) => x.scenario === scenario.id && x.design === 'naive');
    const pt = r.rows.find((x) => x.scenario === scenario.id && x.design === 'powertools');
    if (!ours || !naive || !pt) continue;
    const o = ours.dollarsPerMillion;
    const n = naive.dollarsPerMillion;
    const q = pt.dollarsPerMillion;
    out.push({
      suite: 'cost',
      metric: `$/M readings, ${scenario.sensors} sensors @ ${scenario.rateHz} Hz, ${scenario.esm.label} ESM (batch ${ours.batchSize})`,
      value: o.totalOnDemand,
      unit: 'USD',
      display:
        `${formatDollars(o.totalOnDemand)} vs naive ${formatDollars(n.totalOnDemand)}, Powertools ${formatDollars(q.totalOnDemand)} ` +
        `(provisioned: ${formatDollars(o.totalProvisioned)} vs ${formatDollars(n.totalProvisioned)}, ${formatDollars(q.totalProvisioned)})`,
    });
  }
  // The goal (<= 1/2 of naive) is the default design's: the carried rows carry it.
  return [...out, ...carriedCostHeadlines(r.carried)];
}
