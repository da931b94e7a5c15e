/**
 * One Kinesis batch, end to end: decode every record, send invalid ones to their queue,
 * group the valid readings by sensor (arrival order kept), and for each sensor fold,
 * commit with one conditional write and deliver final windows and late readings. Alerts
 * of every committed sensor are published afterwards, in one phase (see effects.ts for
 * why). Sensors are independent: one that fails is reported in `batchItemFailures` from
 * its first record, so Lambda retries from there and the others' already-applied
 * records are recognised as duplicates by their sequence numbers.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { WindowpaneConfig } from '../domain/config.js';
import { foldSensorRecords } from '../domain/fold.js';
import { decodeReading } from '../domain/reading.js';
import type { Alert } from '../domain/rules.js';
import { checkSequence, shardIdOfEventId } from '../domain/sequence.js';
import {
  emptyOutbox,
  isOutboxEmpty,
  type Outbox,
  type SensorRecord,
  type SensorState,
} from '../domain/state.js';
import { flushSensor } from '../domain/windows/finalise.js';
import type { WriteCounter } from '../lib/dynamo-batch.js';
import {
  type DeliveryCounts,
  type EffectDelivery,
  emptyCounts,
  type InvalidRecordMessage,
} from '../lib/effects.js';
import { runPool } from '../lib/pool.js';
import { BACKOFF, backoffDelay, sleep } from '../lib/retry.js';
import { StateConflictError, type WindowStateStore } from '../lib/state-store.js';

export interface BatchLogger {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface BatchDeps {
  config: WindowpaneConfig;
  store: WindowStateStore;
  effects: EffectDelivery;
  /** DynamoDB write requests, shared with the store and the effect delivery. */
  counter: WriteCounter;
  /** Which parts of which outbox (sensorId -> version) this process has delivered. */
  delivered: Map<string, DeliveryProgress>;
  logger?: BatchLogger;
  /** Conditional-write attempts per sensor before the sensor is reported failed. */
  maxCommitAttempts?: number;
  /** Sensors processed at once (bounds concurrent requests). */
  concurrency?: number;
  /** Readings folded per commit, which bounds the outbox inside the item. */
  maxRecordsPerCommit?: number;
}

export interface BatchReport {
  records: number;
  readings: number;
  duplicates: number;
  invalid: number;
  late: number;
  alerts: number;
  windowsFinalised: number;
  sensors: number;
  writeRequests: number;
  conflicts: number;
  failedSensors: number;
  /** Distinct DynamoDB items written: sensors committed + results + ledger entries. */
  itemsWritten: number;
}

export interface BatchOutcome {
  response: KinesisStreamBatchResponse;
  report: BatchReport;
}

export interface DeliveryProgress {
  version: number;
  windowsAndLate: boolean;
  alerts: boolean;
}

export interface SensorGroup {
  sensorId: string;
  records: SensorRecord[];
  /** Lambda's item identifier (the unpadded sequence number) of its first record. */
  firstItemId: string;
}

const silentLogger: BatchLogger = { debug() {}, warn() {}, error() {} };

/** A batch decoded: valid readings grouped by sensor (arrival order kept), invalid records. */
export interface DecodedBatch {
  groups: Map<string, SensorGroup>;
  invalid: InvalidRecordMessage[];
}

/**
 * The pure first step of a batch: decode and validate every record, and group the valid
 * readings by sensor in arrival order. No I/O; the benchmarks measure this with the fold.
 */
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
    });
  }
  return { groups, invalid };
}

function newReport(records: number, sensors: number): BatchReport {
  return {
    records,
    readings: 0,
    duplicates: 0,
    invalid: 0,
    late: 0,
    alerts: 0,
    windowsFinalised: 0,
    sensors,
    writeRequests: 0,
    conflicts: 0,
    failedSensors: 0,
    itemsWritten: 0,
  };
}

function addDeliveryCounts(report: BatchReport, counts: DeliveryCounts): void {
  report.windowsFinalised += counts.results;
  report.alerts += counts.alertsPublished;
  report.late += counts.late;
}

export async function processBatch(deps: BatchDeps, event: KinesisStreamEvent): Promise<BatchOutcome> {
  const logger = deps.logger ?? silentLogger;
  const writesBefore = deps.counter.writes;
  const failures: string[] = [];
  const { groups, invalid } = decodeBatch(event, deps.config.metrics);
  const report = newReport(event.Records.length, groups.size);

  const invalidSent = invalid.length > 0 ? deps.effects.sendInvalid(invalid) : Promise.resolve();
  const states = await deps.store.loadMany([...groups.keys()]);
  const counts = emptyCounts();
  const pendingAlerts: PendingAlerts[] = [];
  const failed = (group: SensorGroup, err: unknown, what: string) => {
    report.failedSensors++;
    failures.push(group.firstItemId);
    logger.error(`${what}; the sensor's records will be retried`, {
      sensorId: group.sensorId,
      error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
    });
  };

  // Phase 1: fold, commit, and deliver windows and late readings, sensor by sensor.
  await runPool([...groups.values()], deps.concurrency ?? 8, async (group) => {
    try {
      const state = await applySensor(deps, group, states.get(group.sensorId)!, report, counts);
      if (needsAlerts(deps, state)) pendingAlerts.push({ group, state });
    } catch (err) {
      failed(group, err, 'sensor failed');
    }
  });

  // Phase 2: alerts of every committed sensor, then their ledger entries.
  if (pendingAlerts.length > 0) {
    try {
      await deps.effects.deliverAlerts(
        pendingAlerts.flatMap((p) => p.state.outbox.alerts),
        counts,
      );
      for (const p of pendingAlerts) markDelivered(deps, p.state, 'alerts');
    } catch (err) {
      for (const p of pendingAlerts) failed(p.group, err, 'alert delivery failed');
    }
  }
  addDeliveryCounts(report, counts);

  try {
    await invalidSent;
    report.invalid = invalid.length;
  } catch (err) {
    // The invalid records were not stored anywhere yet: report them so they are retried.
    for (const m of invalid) failures.push(m.sequenceNumber);
    logger.error('invalid-record queue unavailable; records will be retried', {
      error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
    });
  }

  report.writeRequests = deps.counter.writes - writesBefore;
  return { response: { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) }, report };
}

interface PendingAlerts {
  group: SensorGroup;
  state: SensorState;
}

async function applySensor(
  deps: BatchDeps,
  group: SensorGroup,
  loaded: SensorState,
  report: BatchReport,
  counts: DeliveryCounts,
): Promise<SensorState> {
  const chunk = deps.maxRecordsPerCommit ?? 2_000;
  let state = loaded;
  for (let i = 0; i < group.records.length; i += chunk) {
    const records = group.records.slice(i, i + chunk);
    state = await commitAndDeliver(deps, state, report, counts, (s) =>
      foldSensorRecords(s, records, deps.config),
    );
  }
  return state;
}

type Fold = (state: SensorState) => ReturnType<typeof foldSensorRecords>;

/**
 * Read-fold-write with optimistic concurrency, then delivery of the new outbox's final
 * windows and late readings (its alerts are left to the caller). On a conflict the state
 * is read again and the fold recomputed from it; the records it had already applied are
 * then recognised as duplicates.
 */
async function commitAndDeliver(
  deps: BatchDeps,
  initial: SensorState,
  report: BatchReport,
  counts: DeliveryCounts,
  fold: Fold,
): Promise<SensorState> {
  const attempts = deps.maxCommitAttempts ?? BACKOFF.conflict.maxAttempts;
  let state = initial;
  for (let attempt = 1; ; attempt++) {
    // The outbox about to be replaced must be delivered in full first.
    await ensureDelivered(deps, state, counts, true);
    const result = fold(state);
    if (result.applied === 0 && isOutboxEmpty(result.effects)) {
      report.duplicates += result.duplicates;
      return state;
    }
    try {
      const committed = await deps.store.commit(state, result.state);
      report.readings += result.applied;
      report.duplicates += result.duplicates;
      report.itemsWritten++;
      await ensureDelivered(deps, committed, counts, false);
      return committed;
    } catch (err) {
      if (!(err instanceof StateConflictError) || attempt >= attempts) throw err;
      report.conflicts++;
      await sleep(backoffDelay(attempt, BACKOFF.conflict));
      state = await deps.store.load(state.sensorId);
    }
  }
}

/**
 * Delivers the parts of `state.outbox` this process has not delivered yet. A fresh
 * container, or a retry after a crash, knows of none and delivers everything again: the
 * results' conditional puts, the alert ledger and the messages' ids absorb the repeats.
 */
async function ensureDelivered(
  deps: BatchDeps,
  state: SensorState,
  counts: DeliveryCounts,
  includeAlerts: boolean,
): Promise<void> {
  const progress = deps.delivered.get(state.sensorId);
  const known = progress?.version === state.version ? progress : undefined;
  if (!known?.windowsAndLate) {
    if (state.outbox.results.length > 0 || state.outbox.late.length > 0) {
      await deps.effects.deliverWindowsAndLate(state.outbox, counts);
    }
    markDelivered(deps, state, 'windowsAndLate');
  }
  if (includeAlerts && !known?.alerts) {
    await deps.effects.deliverAlerts(state.outbox.alerts, counts);
    markDelivered(deps, state, 'alerts');
  }
}

function needsAlerts(deps: BatchDeps, state: SensorState): boolean {
  if (state.outbox.alerts.length === 0) return false;
  const progress = deps.delivered.get(state.sensorId);
  return !(progress?.version === state.version && progress.alerts);
}

const MAX_REMEMBERED_DELIVERIES = 100_000;

function markDelivered(deps: BatchDeps, state: SensorState, part: 'windowsAndLate' | 'alerts'): void {
  let progress = deps.delivered.get(state.sensorId);
  if (progress?.version !== state.version) {
    if (deps.delivered.size >= MAX_REMEMBERED_DELIVERIES) deps.delivered.clear();
    progress = { version: state.version, windowsAndLate: false, alerts: state.outbox.alerts.length === 0 };
    deps.delivered.set(state.sensorId, progress);
  }
  progress[part] = true;
}

/**
 * Closes every open window of the given sensors (end of a replay): each is emitted as
 * final exactly once, through the same commit-then-deliver path as a batch.
 */
export function flushOpenWindows(deps: BatchDeps, sensorIds: readonly string[]): Promise<BatchReport> {
  return flushWhere(deps, sensorIds, () => true);
}

/**
 * The idle sweeper: flushes the open windows of sensors whose state was last committed
 * more than `idleTimeoutMs` ago (processing time). It uses the same conditional write as
 * the stream handler, and re-checks idleness on every state it folds, so it cannot race
 * the handler into a double emission: whoever commits second re-reads. If the handler
 * won, the sensor is no longer idle and nothing is flushed; if the sweeper won, the
 * handler's readings for the flushed windows are late.
 */
export async function sweepIdleSensors(
  deps: BatchDeps,
  opts: { nowMs: number; idleTimeoutMs: number },
): Promise<BatchReport> {
  const cutoff = opts.nowMs - opts.idleTimeoutMs;
  const idle = await deps.store.listIdleSensors(cutoff);
  return flushWhere(deps, idle, (s) => s.updatedAt !== undefined && s.updatedAt < cutoff);
}

async function flushWhere(
  deps: BatchDeps,
  sensorIds: readonly string[],
  shouldFlush: (state: SensorState) => boolean,
): Promise<BatchReport> {
  const writesBefore = deps.counter.writes;
  const report = newReport(0, sensorIds.length);
  const states = await deps.store.loadMany(sensorIds);
  const counts = emptyCounts();
  const alerts: Alert[] = [];
  const flushed: SensorState[] = [];
  await runPool([...states.values()], deps.concurrency ?? 8, async (state) => {
    if (state.version === 0) return;
    const after = await commitAndDeliver(deps, state, report, counts, (s) =>
      Object.keys(s.windows).length > 0 && shouldFlush(s) ? flushSensor(s) : emptyFold(s),
    );
    if (needsAlerts(deps, after)) {
      alerts.push(...after.outbox.alerts);
      flushed.push(after);
    }
  });
  await deps.effects.deliverAlerts(alerts, counts);
  for (const state of flushed) markDelivered(deps, state, 'alerts');
  addDeliveryCounts(report, counts);
  report.writeRequests = deps.counter.writes - writesBefore;
  return report;
}

function emptyFold(state: SensorState) {
  const effects: Outbox = emptyOutbox();
  return { state, applied: 0, duplicates: 0, effects };
}
