/**
 * One Kinesis batch, end to end: decode every record (any input format, KPL aggregates
 * unpacked: pipeline/decode-batch.ts), send invalid ones to their queue,
 * and for each sensor fold, commit with one conditional write and deliver final windows
 * and late readings (functions/pipeline/commit.ts). Alerts of every committed sensor are
 * published afterwards, in one phase (functions/pipeline/alert-phase.ts). Sensors are
 * independent: one that fails is reported in `batchItemFailures` from its first record,
 * so Lambda retries from there and the others' already-applied records are recognised
 * as duplicates by their positions (sequence number and KPL sub-index).
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { RuleSet } from '../domain/rule-set.js';
import { shardIdOfEventId } from '../domain/sequence.js';
import { foldWithinBudget } from '../domain/sized-fold.js';
import type { SensorState } from '../domain/state.js';
import { type DeliveryCounts, emptyCounts } from '../lib/effects.js';
import { runPool } from '../lib/pool.js';
import { deliverAlertPhase } from '../pipeline/alert-phase.js';
import { type ClaimedRecords, foldClaimedRecords, readClaimedRecords } from '../pipeline/catch-up.js';
import { commitAndDeliver } from '../pipeline/commit.js';
import { decodeBatchWithSchemas, type SensorGroup } from '../pipeline/decode-batch.js';
import {
  type BatchDeps,
  DEFAULT_RECORDS_PER_COMMIT,
  DEFAULT_SENSOR_CONCURRENCY,
  silentLogger,
} from '../pipeline/deps.js';
import { rulesForBatch, sendInvalidRecords } from '../pipeline/intake.js';
import { addDeliveryCounts, type BatchReport, newReport } from '../pipeline/report.js';

export interface BatchOutcome {
  response: KinesisStreamBatchResponse;
  report: BatchReport;
}

interface Committed {
  group: SensorGroup;
  state: SensorState;
}

export async function processBatch(deps: BatchDeps, event: KinesisStreamEvent): Promise<BatchOutcome> {
  const logger = deps.logger ?? silentLogger;
  const writesBefore = deps.counter.writes;
  const failures: string[] = [];
  // A schema source that cannot be asked throws here: the whole batch is retried.
  const { groups, invalid } = await decodeBatchWithSchemas(event, deps.config.metrics, deps.avro);
  const report = newReport(event.Records.length, groups.size);
  const ruleSet = await rulesForBatch(deps, report);
  const invalidSent = sendInvalidRecords(deps, invalid);
  const states = await deps.store.loadMany([...groups.keys()]);
  const behind = await claimedRecords(deps, [...states.values()], event);
  const counts = emptyCounts();
  const pendingAlerts: Committed[] = [];
  const failed = (group: SensorGroup, err: unknown, what: string) => {
    report.failedSensors++;
    failures.push(group.firstItemId);
    logger.error(`${what}; the sensor's records will be retried`, {
      sensorId: group.sensorId,
      error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
    });
  };

  // Phase 1: fold, commit, and deliver windows and late readings, sensor by sensor.
  await runPool([...groups.values()], deps.concurrency ?? DEFAULT_SENSOR_CONCURRENCY, async (group) => {
    try {
      let loaded = states.get(group.sensorId)!;
      if (loaded.claim) {
        const unread = behind.failed.get(group.sensorId);
        if (unread) throw unread;
        // CS7: claimed by a carried state (carried state since turned off): caught up first,
        // and the sensor's first commit below releases the claim.
        loaded = await foldClaimedRecords(
          deps,
          loaded,
          behind.records.get(group.sensorId) ?? [],
          { report, counts, ruleSet },
          (_mine, stored) => stored,
        );
      }
      const state = await applySensor(deps, group, loaded, report, counts, ruleSet);
      if (deps.delivered.needsAlerts(state)) pendingAlerts.push({ group, state });
    } catch (err) {
      failed(group, err, 'sensor failed');
    }
  });

  // Phase 2: alerts of every committed sensor, then their ledger entries.
  try {
    await deliverAlertPhase(
      deps,
      pendingAlerts.map((p) => p.state),
      counts,
    );
  } catch (err) {
    for (const p of pendingAlerts) failed(p.group, err, 'alert delivery failed');
  }
  addDeliveryCounts(report, counts);

  await invalidSent.settle(report, failures);

  report.writeRequests = deps.counter.writes - writesBefore;
  return { response: { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) }, report };
}

/**
 * The records the stored bodies of claimed sensors may lack (SEMANTICS.md CS7): a mapping
 * whose tumbling window was turned off leaves the claims of its last window behind.
 */
async function claimedRecords(
  deps: BatchDeps,
  states: readonly SensorState[],
  event: KinesisStreamEvent,
): Promise<ClaimedRecords> {
  const claimed = states.filter((s) => s.claim !== undefined);
  const first = event.Records[0];
  if (claimed.length === 0 || !first) return { records: new Map(), failed: new Map(), read: 0 };
  return readClaimedRecords(deps, claimed, {
    streamArn: first.eventSourceARN,
    here: { shardId: shardIdOfEventId(first.eventID), before: first.kinesis.sequenceNumber },
  });
}

/**
 * Folds and commits one sensor's records, at most `maxRecordsPerCommit` at a time and as
 * many as keep the state item within its commit target (SEMANTICS.md "Bounds" B1), each
 * commit's outbox delivered before the next fold.
 */
async function applySensor(
  deps: BatchDeps,
  group: SensorGroup,
  loaded: SensorState,
  report: BatchReport,
  counts: DeliveryCounts,
  ruleSet?: RuleSet,
): Promise<SensorState> {
  const chunk = deps.maxRecordsPerCommit ?? DEFAULT_RECORDS_PER_COMMIT;
  let state = loaded;
  for (let i = 0; i < group.records.length; ) {
    const records = group.records.slice(i, i + chunk);
    // Set by the fold of the attempt that committed (a conflict folds again from the winner).
    let consumed = records.length;
    state = await commitAndDeliver(deps, state, report, counts, (s) => {
      const sized = foldWithinBudget(s, records, deps.config, deps.commitTargetBytes, ruleSet);
      consumed = sized.consumed;
      return sized.result;
    });
    i += consumed;
  }
  return state;
}
