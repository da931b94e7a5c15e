/**
 * Suite 2, write amplification: DynamoDB write requests per batch of the real
 * `processBatch` against the DynamoDB emulator, versus the naive per-reading writer
 * (bench/baseline.ts: one UpdateItem per reading, one PutItem per alert) on the same
 * records. Requests are counted by client middleware (bench/meter.ts), which also
 * estimates the write and read units AWS would bill from the item sizes.
 *
 * Cases: 10 / 100 / 1,000 sensors at 1 Hz on one shard, in batches of 100 / 1,000 / 10,000,
 * plus the batch shapes of the cost scenarios (bench/scenarios.ts).
 *
 * Counting rules, so the numbers mean what they say:
 * - Every request the handler sends is counted: state commits, final-window puts, alert
 *   ledger writes (and, separately, its reads).
 * - A run ends with windows still open; each will cost exactly one result put when it
 *   closes, spread over the readings it holds by then. Counting a whole put for a window a
 *   short run only began would overstate the cost, and counting none would understate it,
 *   so each open window is charged the fraction it has filled: its readings divided by
 *   the readings a full window gets (window size x rate), at most one put.
 * - The naive writer is run against the emulator on the first records of every case and
 *   its request count checked against "one per valid reading plus one per alert"; the
 *   whole case is then counted with that formula from the baseline's own parse of every
 *   record (`naive.mode` says which part was measured).
 */
import { DEFAULT_CONFIG, parseConfig, type WindowpaneConfig } from '../../functions/domain/config.js';
import { type AwsClients, createClients, localClientOptions } from '../../functions/lib/clients.js';
import { parseHandlerEnv } from '../../functions/lib/env.js';
import { buildBatchDeps } from '../../functions/pipeline/deps.js';
import { processBatch } from '../../functions/window-handler/process-batch.js';
import type { EmulatorEndpoints } from '../../local/cloud/emulators.js';
import { provisionLocalCloud, uniquePrefix } from '../../local/cloud/index.js';
import { createActiveTable } from '../../local/cloud/provision.js';
import { NaiveWriter, naiveProcessBatch, newNaiveState, tumblingSizeMs } from '../baseline.js';
import { type CarriedCaseResult, carriedHeadlines, runCarriedCases } from '../carried.js';
import { type BenchContext, BenchSuiteError, defaultDeploymentEnv, type Headline } from '../context.js';
import {
  distinctPartitionKeys,
  fleetRecords,
  meanDataBytes,
  meanPartitionKeyBytes,
  toEvents,
} from '../data.js';
import { RequestMeter } from '../meter.js';
import { openWindowShare } from '../open-windows.js';
import { batchShape, COST_SCENARIOS } from '../scenarios.js';
import { median, nowMs, round } from '../stats.js';

/** The target: at most 1/20 of the naive writes (1 Hz per sensor, 60 s windows). */
export const WRITES_TARGET_RATIO = 1 / 20;

export interface WriteCaseSpec {
  id: string;
  group: 'matrix' | 'cost';
  /** Sensors on the shard the batches come from. */
  sensors: number;
  rateHz: number;
  batchSize: number;
  records: number;
  /** Records the naive writer is run on against the emulator (the rest is counted). */
  naiveMeasuredRecords: number;
  /** For cost cases: the scenario this batch shape belongs to. */
  scenario?: string;
}

export interface WriteCaseResult extends WriteCaseSpec {
  batches: number;
  /** Valid readings the handler applied. */
  readings: number;
  invalid: number;
  late: number;
  alertsPublished: number;
  windowsFinalisedInRun: number;
  /** Windows still open when the run ended. */
  windowsOpenAtEnd: number;
  /** Result puts charged for them: each window's share of its eventual one put. */
  openWindowResultShare: number;
  meanSensorsPerBatch: number;
  meanRecordBytes: number;
  ours: {
    writeRequests: number;
    writeRequestsPerBatch: number;
    writeRequestsPerReading: number;
    writeItems: number;
    writeUnits: number;
    writeUnitsPerReading: number;
    readRequests: number;
    readUnits: number;
    readUnitsPerReading: number;
    snsPublishes: number;
    sqsRequests: number;
    /** Mean / max size of the state items written (bytes, DynamoDB item-size rules). */
    stateItemBytes: { mean: number; max: number };
    byCommand: Record<string, number>;
    /** Median wall time of processBatch against the in-process emulators (not a Lambda number). */
    emulatorMsPerBatchMedian: number;
  };
  naive: {
    writeRequests: number;
    writeRequestsPerBatch: number;
    readingWrites: number;
    alertWrites: number;
    /** Alerts the naive design raises (no cooldown): also its SNS publishes. */
    alerts: number;
    mode: 'measured' | 'measured-prefix+counted';
    measuredRecords: number;
    measuredRequests: number;
    /** Whether the measured requests equalled valid readings + alerts on the measured part. */
    formulaMatched: boolean;
  };
  /** Wall time of each phase of the case (diagnostics). */
  phaseMs: { provision: number; run: number; openWindows: number; naive: number };
  /** ours / naive write requests. */
  ratio: number;
  /** naive / ours: "1 in N". */
  reduction: number;
  targetMet: boolean;
}

export interface WritesSuiteResult {
  windowMs: number;
  targetRatio: number;
  cases: WriteCaseResult[];
  /** The carried-state design (bench/carried.ts) on the same kind of records. */
  carried: CarriedCaseResult[];
}

/** The cases of a run (pure: no emulator needed). */
export function writeCases(quick: boolean): WriteCaseSpec[] {
  const matrixSensors = quick ? [10, 100] : [10, 100, 1_000];
  const matrixBatches = quick ? [100, 1_000] : [100, 1_000, 10_000];
  // Enough event time for windows to open, close and be emitted (200 s), within a record
  // budget; never fewer than a few whole batches.
  const span = 200;
  const budget = quick ? 1_000 : 20_000;
  const minBatches = quick ? 2 : 3;
  const naiveMeasured = quick ? 300 : 3_000;
  const cases: WriteCaseSpec[] = [];
  for (const sensors of matrixSensors) {
    for (const batchSize of matrixBatches) {
      const records = Math.max(minBatches * batchSize, Math.min(sensors * span, budget));
      cases.push({
        id: `${sensors}s-1hz-b${batchSize}`,
        group: 'matrix',
        sensors,
        rateHz: 1,
        batchSize,
        records,
        naiveMeasuredRecords: Math.min(records, naiveMeasured),
      });
    }
  }
  const sample = fleetRecords({ sensors: 100, rateHz: 1 }, 1_000);
  const bytesPerRecord = meanDataBytes(sample) + meanPartitionKeyBytes(sample);
  for (const scenario of COST_SCENARIOS) {
    const shape = batchShape(scenario, bytesPerRecord);
    const spanRecords = Math.ceil(shape.sensorsPerShard * scenario.rateHz * span);
    // Quick runs only check that the suite works: batches are capped so it stays fast.
    const batchSize = quick ? Math.min(shape.batchSize, 500) : shape.batchSize;
    const records = quick
      ? minBatches * batchSize
      : Math.max(minBatches * batchSize, Math.min(spanRecords, budget));
    cases.push({
      id: `cost:${scenario.id}`,
      group: 'cost',
      scenario: scenario.id,
      sensors: shape.sensorsPerShard,
      rateHz: scenario.rateHz,
      batchSize,
      records,
      naiveMeasuredRecords: Math.min(records, naiveMeasured),
    });
  }
  return cases;
}

const destroy = (c: AwsClients) => {
  c.kinesis.destroy();
  c.dynamodb.destroy();
  c.sns.destroy();
  c.sqs.destroy();
};

async function createNaiveTables(clients: AwsClients, prefix: string) {
  const tables = { windows: `${prefix}-naive-windows`, alerts: `${prefix}-naive-alerts` };
  await createActiveTable(clients.dynamodb, {
    TableName: tables.windows,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'sensorId', AttributeType: 'S' },
      { AttributeName: 'windowKey', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'sensorId', KeyType: 'HASH' },
      { AttributeName: 'windowKey', KeyType: 'RANGE' },
    ],
  });
  await createActiveTable(clients.dynamodb, {
    TableName: tables.alerts,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'alertId', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'alertId', KeyType: 'HASH' }],
  });
  return tables;
}

export async function runWriteCase(
  endpoints: EmulatorEndpoints,
  spec: WriteCaseSpec,
  config: WindowpaneConfig,
): Promise<WriteCaseResult> {
  const records = fleetRecords({ sensors: spec.sensors, rateHz: spec.rateHz }, spec.records);
  const events = toEvents(records, spec.batchSize);
  const windowMs = tumblingSizeMs(config);
  const prefix = uniquePrefix('bench');
  const tProvision = nowMs();
  const cloud = await provisionLocalCloud(endpoints, { config, prefix });
  const env = parseHandlerEnv(defaultDeploymentEnv(cloud.env));
  const meter = new RequestMeter(env.stateTable);
  const clients = createClients({ ...localClientOptions(endpoints), decorate: meter.decorate });
  const naiveMeter = new RequestMeter();
  const naiveClients = createClients({ ...localClientOptions(endpoints), decorate: naiveMeter.decorate });
  try {
    // --- windowpane ---
    const tRun = nowMs();
    const deps = buildBatchDeps(env, clients);
    let readings = 0;
    let invalid = 0;
    let late = 0;
    let alertsPublished = 0;
    let windowsFinalisedInRun = 0;
    let reportedWrites = 0;
    const wall: number[] = [];
    const sensorIds = new Set<string>();
    for (const event of events) {
      const t0 = nowMs();
      const { response, report } = await processBatch(deps, event);
      wall.push(nowMs() - t0);
      if (response.batchItemFailures.length > 0 || report.failedSensors > 0) {
        throw new BenchSuiteError(
          `writes ${spec.id}: processBatch reported ${response.batchItemFailures.length} failed record(s); ` +
            'a benchmark over failed batches would count the wrong writes',
        );
      }
      readings += report.readings;
      invalid += report.invalid;
      late += report.late;
      alertsPublished += report.alerts;
      windowsFinalisedInRun += report.windowsFinalised;
      reportedWrites += report.writeRequests;
      for (const r of event.Records) sensorIds.add(r.kinesis.partitionKey);
    }
    const run = meter.snapshot();
    if (run.dynamodb.writeRequests !== reportedWrites) {
      throw new BenchSuiteError(
        `writes ${spec.id}: the meter saw ${run.dynamodb.writeRequests} DynamoDB writes, the handler reported ${reportedWrites}`,
      );
    }
    const tFlush = nowMs();
    const open = await openWindowShare(deps, [...sensorIds], (windowMs / 1_000) * spec.rateHz);
    const pendingWrites = open.share;
    const writeRequests = run.dynamodb.writeRequests + pendingWrites;
    // Results items are small (< 1 KB): one write unit each.
    const writeUnits = run.dynamodb.writeUnits + pendingWrites;

    // --- naive: measured on a prefix, counted on the whole ---
    const tNaive = nowMs();
    const naiveTables = await createNaiveTables(naiveClients, prefix);
    const writer = new NaiveWriter(naiveClients.doc, naiveTables, config);
    const measuredEvents = toEvents(records.slice(0, spec.naiveMeasuredRecords), spec.batchSize);
    const measuredState = newNaiveState();
    let measuredFormula = 0;
    for (const event of measuredEvents) {
      const r = await writer.writeBatch(event, measuredState);
      measuredFormula += r.valid + r.alerts.length;
    }
    const measuredRequests = naiveMeter.totals.dynamodb.writeRequests;
    const countState = newNaiveState();
    let naiveValid = 0;
    let naiveAlerts = 0;
    for (const event of events) {
      const r = naiveProcessBatch(event, countState, config);
      naiveValid += r.valid;
      naiveAlerts += r.alerts.length;
    }
    const naiveWrites = naiveValid + naiveAlerts;
    const tEnd = nowMs();
    const full = spec.naiveMeasuredRecords >= spec.records;

    const ratio = writeRequests / naiveWrites;
    const tracked = run.trackedItems;
    return {
      ...spec,
      batches: events.length,
      readings,
      invalid,
      late,
      alertsPublished,
      windowsFinalisedInRun,
      windowsOpenAtEnd: open.windows,
      openWindowResultShare: round(open.share, 2),
      meanSensorsPerBatch: round(mean(events.map(distinctPartitionKeys)), 1),
      meanRecordBytes: round(meanDataBytes(records) + meanPartitionKeyBytes(records), 1),
      ours: {
        writeRequests: round(writeRequests, 2),
        writeRequestsPerBatch: round(writeRequests / events.length, 2),
        writeRequestsPerReading: round(writeRequests / readings, 5),
        writeItems: round(run.dynamodb.writeItems + pendingWrites, 2),
        writeUnits: round(writeUnits, 2),
        writeUnitsPerReading: round(writeUnits / readings, 5),
        readRequests: run.dynamodb.readRequests,
        readUnits: run.dynamodb.readUnits,
        readUnitsPerReading: round(run.dynamodb.readUnits / readings, 5),
        snsPublishes: run.sns.publishes,
        sqsRequests: run.sqs.requests,
        stateItemBytes: {
          mean: tracked.count > 0 ? Math.round(tracked.totalBytes / tracked.count) : 0,
          max: tracked.maxBytes,
        },
        byCommand: run.dynamodb.byCommand,
        emulatorMsPerBatchMedian: round(median(wall), 2),
      },
      naive: {
        writeRequests: naiveWrites,
        writeRequestsPerBatch: round(naiveWrites / events.length, 2),
        readingWrites: naiveValid,
        alertWrites: naiveAlerts,
        alerts: naiveAlerts,
        mode: full ? 'measured' : 'measured-prefix+counted',
        measuredRecords: spec.naiveMeasuredRecords,
        measuredRequests,
        formulaMatched: measuredRequests === measuredFormula,
      },
      phaseMs: {
        provision: Math.round(tRun - tProvision),
        run: Math.round(tFlush - tRun),
        openWindows: Math.round(tNaive - tFlush),
        naive: Math.round(tEnd - tNaive),
      },
      ratio: round(ratio, 5),
      reduction: round(naiveWrites / writeRequests, 1),
      targetMet: ratio <= WRITES_TARGET_RATIO,
    };
  } finally {
    destroy(clients);
    destroy(naiveClients);
    cloud.destroyClients();
  }
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

export async function runWritesSuite(ctx: BenchContext): Promise<WritesSuiteResult> {
  const endpoints = await ctx.endpoints();
  // One shard: every batch comes from one shard, and the provisioned stream is unused here.
  const config = parseConfig({ ...DEFAULT_CONFIG, stream: { ...DEFAULT_CONFIG.stream, shardCount: 1 } });
  const cases: WriteCaseResult[] = [];
  for (const spec of writeCases(ctx.quick)) {
    const t0 = nowMs();
    const result = await runWriteCase(endpoints, spec, config);
    if (!result.naive.formulaMatched) {
      throw new BenchSuiteError(
        `writes ${spec.id}: the naive writer sent ${result.naive.measuredRequests} requests, ` +
          'not one per valid reading plus one per alert',
      );
    }
    cases.push(result);
    ctx.log(
      `writes: ${spec.id}: ${result.batches} batches, ours ${result.ours.writeRequestsPerBatch}/batch, ` +
        `naive ${result.naive.writeRequestsPerBatch}/batch (1 in ${result.reduction}) ` +
        `[${Math.round((nowMs() - t0) / 1_000)} s]`,
    );
  }
  const carried = await runCarriedCases(endpoints, ctx.quick, ctx.log);
  return { windowMs: tumblingSizeMs(config), targetRatio: WRITES_TARGET_RATIO, cases, carried };
}

export function writesHeadlines(r: WritesSuiteResult): Headline[] {
  return [...matrixHeadlines(r), ...carriedHeadlines(r.carried)];
}

function matrixHeadlines(r: WritesSuiteResult): Headline[] {
  return r.cases
    .filter((c) => c.group === 'matrix')
    .map((c) => ({
      suite: 'writes' as const,
      metric: `writes vs naive, ${c.sensors} sensors @ 1 Hz, batch ${c.batchSize.toLocaleString('en-US')}`,
      value: c.ratio,
      unit: 'ratio',
      display: `1/${c.reduction} (${c.ours.writeRequestsPerBatch} vs ${c.naive.writeRequestsPerBatch} per batch)`,
      target: '<= 1/20',
      met: c.targetMet,
    }));
}
