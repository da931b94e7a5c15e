/**
 * The carried-state design (eventSource.tumblingWindowSeconds > 0; docs/SEMANTICS.md
 * "Carried state") measured as Lambda would drive it: the real `processCarriedBatch`
 * against dynalite, given tumbling-window events over a shard's simulated records. Each
 * batch is what a 1 s batching window gathers on one shard (bench/scenarios.ts
 * CARRIED_ESM); the state the handler returns goes through JSON to the next invocation,
 * as Lambda passes it; each Lambda window (by arrival time, aligned to the epoch) ends
 * with a final invocation that has no records. The run covers whole Lambda windows.
 *
 * Counted by the request meter (bench/meter.ts): DynamoDB requests and units, SNS, SQS,
 * and Kinesis requests (a catch-up reads the shard back: none are expected without
 * faults). Event-time windows still open at the end are charged their share of the one
 * result put each will cost, as in the writes suite. The naive design is counted on the
 * same records with the formula the writes suite verifies against the emulator.
 */
import { DEFAULT_CONFIG, parseConfig } from '../functions/domain/config.js';
import { createClients, localClientOptions } from '../functions/lib/clients.js';
import { parseHandlerEnv } from '../functions/lib/env.js';
import { CARRIED_STATE_BUDGET } from '../functions/pipeline/carried-state.js';
import { buildBatchDeps } from '../functions/pipeline/deps.js';
import {
  processCarriedBatch,
  type TumblingWindowEvent,
} from '../functions/window-handler/process-carried.js';
import type { EmulatorEndpoints } from '../local/cloud/emulators.js';
import { provisionLocalCloud, uniquePrefix } from '../local/cloud/index.js';
import { naiveProcessBatch, newNaiveState, tumblingSizeMs } from './baseline.js';
import {
  type CarriedCaseSpec,
  carriedCases,
  carriedInvocations,
  carriedTargetRatio,
  spikeNote,
} from './carried-cases.js';
import { BenchSuiteError, defaultDeploymentEnv, type Headline } from './context.js';
import { requestsIoMs } from './cost-model.js';
import {
  BENCH_SHARD_ID,
  BENCH_STREAM_ARN,
  BENCH_T0,
  fleetRecords,
  meanDataBytes,
  meanPartitionKeyBytes,
  toEvents,
} from './data.js';
import { diffTotals, RequestMeter, type TableUnits } from './meter.js';
import { openWindowShare } from './open-windows.js';
import { median, nowMs, round } from './stats.js';

export interface CarriedCaseResult extends CarriedCaseSpec {
  records: number;
  /** Invocations with records, and final invocations (one per Lambda window). */
  invocations: number;
  finalInvocations: number;
  meanRecordsPerInvocation: number;
  readings: number;
  invalid: number;
  late: number;
  alertsPublished: number;
  windowsFinalisedInRun: number;
  windowsOpenAtEnd: number;
  openWindowResultShare: number;
  /** The share of result puts the warm-up's readings used up of the windows open at the start. */
  openAtStartResultShare?: number;
  /** Request units (write + read) per reading by table: where the units go. */
  unitsPerReadingByTable?: { state: number; ledger: number; results: number; other: number };
  meanRecordBytes: number;
  /** From the handler's reports: sensors claimed and checkpointed, records caught up. */
  claims: number;
  /** Claims made from the process's own checkpoints, without a read (SEMANTICS.md CS2). */
  claimsUnread: number;
  checkpoints: number;
  caughtUpRecords: number;
  /**
   * Writes of sensors' state items (metered on the state table): claims, checkpoints and the
   * commits before alerts or transitions (CS3) are the rest; their sizes (bytes).
   */
  stateItems: { writes: number; ruleCommits: number; meanBytes: number; maxBytes: number };
  /** Kinesis requests the handler made (catch-up reads): 0 without faults. */
  kinesisRequests: number;
  /** JSON bytes of the state returned by each invocation with records, vs the handler's budget. */
  carriedBytes: { mean: number; max: number; budget: number; withinBudget: boolean };
  /** CPU of passing the state as Lambda does (stringify the response, parse the next event), ms per invocation. */
  transportMs: { stringify: number; parse: number };
  /** Modelled I/O wait per invocation (bench/cost-model.ts round trips), with records and final. */
  ioMs: { invocation: number; final: number };
  ours: {
    writeRequests: number;
    writeUnits: number;
    readRequests: number;
    readUnits: number;
    writeRequestsPerReading: number;
    writeUnitsPerReading: number;
    readUnitsPerReading: number;
    /** Write plus read units per reading: what the target is about. */
    requestUnitsPerReading: number;
    snsPublishes: number;
    sqsRequests: number;
    byCommand: Record<string, number>;
    /** Write and read units per table: where the units go. */
    byTable: Record<string, TableUnits>;
    /** Median wall time of an invocation against the in-process emulators (not a Lambda number). */
    emulatorMsPerInvocationMedian: number;
  };
  naive: { writeRequests: number; alerts: number; requestUnitsPerReading: number };
  /** ours / naive request units (write + read), and write requests. */
  ratio: number;
  writesRatio: number;
  /** naive / ours request units: "1 in N". */
  reduction: number;
  targetRatio: number;
  targetMet: boolean;
}

export async function runCarriedCase(
  endpoints: EmulatorEndpoints,
  spec: CarriedCaseSpec,
): Promise<CarriedCaseResult> {
  const config = parseConfig({
    ...DEFAULT_CONFIG,
    stream: { ...DEFAULT_CONFIG.stream, shardCount: 1 },
    eventSource: { ...DEFAULT_CONFIG.eventSource, tumblingWindowSeconds: spec.tumblingWindowSeconds },
  });
  const span = spec.tumblingWindowSeconds * (spec.warmUpWindows + spec.lambdaWindows);
  const endMs = BENCH_T0 + span * 1_000;
  // Enough records to pass the end by arrival time (late ones arrive after their event time).
  const generated = fleetRecords(
    {
      sensors: spec.sensors,
      rateHz: spec.rateHz,
      ...(spec.spikeRate !== undefined ? { spikeRate: spec.spikeRate } : {}),
    },
    Math.ceil(spec.sensors * spec.rateHz * (span + 200)),
  );
  const sent = generated.filter((r) => r.arrivalMs < endMs);
  if (sent.length === generated.length)
    throw new BenchSuiteError(`carried ${spec.id}: the simulated records end before the run does`);
  const invocations = carriedInvocations(sent, spec);
  // What is measured: the windows after the warm-up ones (their records, requests and reports).
  const measuredFrom = invocations.findIndex((x) => x.windowIndex === spec.warmUpWindows);
  const records = invocations.slice(measuredFrom).flatMap((x) => x.records);
  const cloud = await provisionLocalCloud(endpoints, { config, prefix: uniquePrefix('bench-carried') });
  const env = parseHandlerEnv(defaultDeploymentEnv(cloud.env));
  const meter = new RequestMeter(env.stateTable);
  const clients = createClients({ ...localClientOptions(endpoints), decorate: meter.decorate });
  try {
    const errors: string[] = [];
    const deps = buildBatchDeps(env, clients, {
      debug() {},
      warn() {},
      error: (message, ...extra) => errors.push(`${message} ${JSON.stringify(extra)}`),
    });
    const r = {
      readings: 0,
      invalid: 0,
      late: 0,
      alerts: 0,
      finals: 0,
      claims: 0,
      claimsUnread: 0,
      checkpoints: 0,
      caughtUp: 0,
    };
    const bytes: number[] = [];
    const wall: number[] = [];
    const io = { invocation: 0, final: 0 };
    const transport = { stringify: 0, parse: 0 };
    const sensorIds = new Set<string>();
    let state: unknown = {};
    let start = meter.snapshot();
    const readingsPerFullWindow = (tumblingSizeMs(config) / 1_000) * spec.rateHz;
    // Windows open when the measurement starts (the warm-up's last ones, full or nearly):
    // their result puts come in the measured run, but their readings came before it.
    let openAtStart = { windows: 0, share: 0 };
    for (const [n, inv] of invocations.entries()) {
      if (n === measuredFrom) {
        // The warm-up window's final invocation checkpointed every sensor: the items are current.
        openAtStart = await openWindowShare(deps, [...sensorIds], readingsPerFullWindow);
        start = meter.snapshot();
        for (const key of Object.keys(r) as (keyof typeof r)[]) r[key] = 0;
        sensorIds.clear();
        bytes.length = 0;
        wall.length = 0;
        io.invocation = 0;
        io.final = 0;
        transport.parse = 0;
        transport.stringify = 0;
      }
      const base = inv.final
        ? { Records: [] }
        : toEvents(inv.records, inv.records.length, { firstSequence: inv.firstSequence })[0]!;
      const event: TumblingWindowEvent = {
        ...base,
        window: inv.window,
        state,
        shardId: BENCH_SHARD_ID,
        eventSourceARN: BENCH_STREAM_ARN,
        isFinalInvokeForWindow: inv.final,
        isWindowTerminatedEarly: false,
      };
      const before = meter.snapshot();
      const t0 = nowMs();
      const { response, report } = await processCarriedBatch(deps, event);
      wall.push(nowMs() - t0);
      if (response.batchItemFailures.length > 0 || report.failedSensors > 0)
        throw new BenchSuiteError(`carried ${spec.id}: an invocation reported failed records: ${errors[0]}`);
      io[inv.final ? 'final' : 'invocation'] += requestsIoMs(diffTotals(meter.snapshot(), before));
      r.readings += report.readings;
      r.invalid += report.invalid;
      r.late += report.late;
      r.alerts += report.alerts;
      r.finals += report.windowsFinalised;
      r.claims += report.claims;
      r.claimsUnread += report.claimsUnread;
      r.checkpoints += report.checkpoints;
      r.caughtUp += report.caughtUp;
      for (const rec of inv.records) sensorIds.add(rec.partitionKey);
      // Lambda keeps the returned state as JSON and hands it to the next invocation of the shard.
      const t1 = nowMs();
      const json = JSON.stringify(response.state);
      const t2 = nowMs();
      state = inv.final ? {} : JSON.parse(json);
      transport.parse += nowMs() - t2;
      transport.stringify += t2 - t1;
      if (!inv.final) bytes.push(Buffer.byteLength(json, 'utf8'));
      else if (json !== '{}') throw new BenchSuiteError(`carried ${spec.id}: a final invocation kept state`);
    }
    const run = diffTotals(meter.snapshot(), start);
    const open = await openWindowShare(deps, [...sensorIds], readingsPerFullWindow);
    // Each window's one result put is charged to the readings it holds: the share used up
    // by the windows open at the end is added, the share the warm-up's readings used up of
    // the windows open at the start is taken off (their puts are among the run's writes).
    const resultShare = open.share - openAtStart.share;
    const writeRequests = run.dynamodb.writeRequests + resultShare;
    const writeUnits = run.dynamodb.writeUnits + resultShare;
    const units = writeUnits + run.dynamodb.readUnits;

    const naiveState = newNaiveState();
    let naiveValid = 0;
    let naiveAlerts = 0;
    for (const event of toEvents(records, 1_000)) {
      const n = naiveProcessBatch(event, naiveState, config);
      naiveValid += n.valid;
      naiveAlerts += n.alerts.length;
    }
    // One small item per request: one write unit each, no reads.
    const naiveUnits = naiveValid + naiveAlerts;
    const measured = invocations.slice(measuredFrom);
    const withRecords = measured.filter((x) => !x.final).length;
    const finals = measured.length - withRecords;
    const perReading = (n: number) => round(n / r.readings, 5);
    const tableUnits = (name: string) => {
      const t = run.dynamodb.byTable[name];
      return t ? t.writeUnits + t.readUnits : 0;
    };
    const known = [env.stateTable, env.alertLedgerTable, env.resultsTable];
    const otherUnits = Object.keys(run.dynamodb.byTable)
      .filter((t) => !known.includes(t))
      .reduce((n, t) => n + tableUnits(t), 0);
    const ratio = units / naiveUnits;
    const targetRatio = carriedTargetRatio(spec.rateHz);
    const maxBytes = Math.max(0, ...bytes);
    return {
      ...spec,
      records: records.length,
      invocations: withRecords,
      finalInvocations: finals,
      meanRecordsPerInvocation: round(records.length / withRecords, 1),
      readings: r.readings,
      invalid: r.invalid,
      late: r.late,
      alertsPublished: r.alerts,
      windowsFinalisedInRun: r.finals,
      windowsOpenAtEnd: open.windows,
      openWindowResultShare: round(open.share, 2),
      openAtStartResultShare: round(openAtStart.share, 2),
      unitsPerReadingByTable: {
        state: perReading(tableUnits(env.stateTable)),
        ledger: perReading(tableUnits(env.alertLedgerTable)),
        results: perReading(tableUnits(env.resultsTable) + resultShare),
        other: perReading(otherUnits),
      },
      meanRecordBytes: round(meanDataBytes(records) + meanPartitionKeyBytes(records), 1),
      claims: r.claims,
      claimsUnread: r.claimsUnread,
      checkpoints: r.checkpoints,
      caughtUpRecords: r.caughtUp,
      stateItems: {
        writes: run.trackedItems.count,
        ruleCommits: run.trackedItems.count - r.claims - r.checkpoints,
        meanBytes: Math.round(run.trackedItems.totalBytes / Math.max(1, run.trackedItems.count)),
        maxBytes: run.trackedItems.maxBytes,
      },
      kinesisRequests: run.kinesis.requests,
      carriedBytes: {
        mean: Math.round(bytes.reduce((a, b) => a + b, 0) / Math.max(1, bytes.length)),
        max: maxBytes,
        budget: CARRIED_STATE_BUDGET,
        withinBudget: maxBytes <= CARRIED_STATE_BUDGET,
      },
      transportMs: {
        stringify: round(transport.stringify / withRecords, 3),
        parse: round(transport.parse / withRecords, 3),
      },
      ioMs: { invocation: round(io.invocation / withRecords, 2), final: round(io.final / finals, 2) },
      ours: {
        writeRequests: round(writeRequests, 2),
        writeUnits: round(writeUnits, 2),
        readRequests: run.dynamodb.readRequests,
        readUnits: run.dynamodb.readUnits,
        writeRequestsPerReading: perReading(writeRequests),
        writeUnitsPerReading: perReading(writeUnits),
        readUnitsPerReading: perReading(run.dynamodb.readUnits),
        requestUnitsPerReading: perReading(units),
        snsPublishes: run.sns.publishes,
        sqsRequests: run.sqs.requests,
        byCommand: run.dynamodb.byCommand,
        byTable: run.dynamodb.byTable,
        emulatorMsPerInvocationMedian: round(median(wall), 2),
      },
      naive: {
        writeRequests: naiveUnits,
        alerts: naiveAlerts,
        requestUnitsPerReading: round(naiveUnits / naiveValid, 5),
      },
      ratio: round(ratio, 5),
      writesRatio: round(writeRequests / naiveUnits, 5),
      reduction: round(1 / ratio, 1),
      targetRatio: round(targetRatio, 5),
      targetMet: ratio <= targetRatio,
    };
  } finally {
    clients.kinesis.destroy();
    clients.dynamodb.destroy();
    clients.sns.destroy();
    clients.sqs.destroy();
    cloud.destroyClients();
  }
}

/** Every carried case of the run, one after another (the writes suite's `carried` list). */
export async function runCarriedCases(
  endpoints: EmulatorEndpoints,
  quick: boolean,
  log: (line: string) => void,
): Promise<CarriedCaseResult[]> {
  const out: CarriedCaseResult[] = [];
  for (const spec of carriedCases(quick)) {
    const t0 = nowMs();
    const c = await runCarriedCase(endpoints, spec);
    out.push(c);
    log(
      `writes: ${spec.id}: ${c.invocations} invocations of ${c.meanRecordsPerInvocation} records + ` +
        `${c.finalInvocations} final, units/reading ${c.ours.requestUnitsPerReading} vs naive ` +
        `${c.naive.requestUnitsPerReading} (1 in ${c.reduction}), state max ${c.carriedBytes.max} B, ` +
        `kinesis ${c.kinesisRequests} [${Math.round((nowMs() - t0) / 1_000)} s]`,
    );
  }
  return out;
}

const fraction = (x: number) => `1/${round(1 / x, 1)}`;

export function carriedHeadlines(cases: readonly CarriedCaseResult[]): Headline[] {
  return cases.map((c) => ({
    suite: 'writes' as const,
    metric: `carried (W ${c.tumblingWindowSeconds} s) DynamoDB units vs naive, ${c.fleet.toLocaleString('en-US')} sensors @ ${c.rateHz} Hz${spikeNote(c)}`,
    value: c.ratio,
    unit: 'ratio',
    display: `${fraction(c.ratio)} (${c.ours.requestUnitsPerReading} vs ${c.naive.requestUnitsPerReading} units / reading; writes ${fraction(c.writesRatio)})`,
    target: `<= ${fraction(c.targetRatio)}`,
    met: c.targetMet,
  }));
}
