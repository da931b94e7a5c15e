/**
 * One Kinesis batch with carried state (eventSource.tumblingWindowSeconds > 0;
 * docs/SEMANTICS.md "Carried state", clauses CS1-CS7). Lambda's tumbling window hands
 * the state the previous invocation of the shard returned to the next one, whichever
 * execution environment runs it; the sensors' states travel in it, so a batch writes a
 * sensor's item only:
 *
 * - to claim it, the first time the window touches it (CS2): the item then says which
 *   carried state holds it and from which record its stored body is behind;
 * - before an alert, an alarm transition or an action outcome is delivered (CS3): these
 *   depend on the rules in force, so they come, as without carried state, from a
 *   committed outbox. Final windows and late readings do not: they follow from the
 *   records alone, and their delivery is idempotent, so a lost state that folds the same
 *   records again delivers the same ones again, and they are absorbed;
 * - at the window's final invocation, and to keep the carried JSON under its budget (CS4):
 *   a checkpoint that releases the claim;
 * - when a sensor not in the batch has fallen silent (CS8): the same checkpoint, so that the
 *   idle sweeper flushes it and raises its absence alarms on time.
 *
 * A sensor whose item is claimed by another carried state (one that was lost: a parent
 * shard's last window, or a state dropped mid-window) is caught up first (CS5): its
 * records since the claim are read back from the shard and folded before the batch.
 */
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { WindowpaneError } from '../domain/errors.js';
import { comparePosition, parsePosition } from '../domain/record-position.js';
import type { RuleSet } from '../domain/rule-set.js';
import { shardIdOfEventId } from '../domain/sequence.js';
import { foldWithinBudget } from '../domain/sized-fold.js';
import {
  type CarryClaim,
  emptyOutbox,
  isOutboxEmpty,
  type Outbox,
  type SensorRecord,
  type SensorState,
} from '../domain/state.js';
import { type DeliveryCounts, emptyCounts } from '../lib/effects.js';
import { runPool } from '../lib/pool.js';
import { StateConflictError } from '../lib/state-store.js';
import { deliverAlertPhase } from '../pipeline/alert-phase.js';
import {
  CARRIED_STATE_BUDGET,
  type CarriedJson,
  CarriedStates,
  CLAIM_GRACE_MS,
  CLAIM_RENEW_BEFORE_MS,
  handBackAt,
} from '../pipeline/carried-state.js';
import { readClaimedRecords } from '../pipeline/catch-up.js';
import { type CarriedCommit, commitAndDeliver } from '../pipeline/commit.js';
import { decodeBatchWithSchemas, type SensorGroup } from '../pipeline/decode-batch.js';
import {
  type BatchDeps,
  DEFAULT_RECORDS_PER_COMMIT,
  DEFAULT_SENSOR_CONCURRENCY,
  silentLogger,
} from '../pipeline/deps.js';
import { rulesForBatch, sendInvalidRecords } from '../pipeline/intake.js';
import { addDeliveryCounts, type BatchReport, newReport } from '../pipeline/report.js';

/** A Kinesis event of a mapping with a tumbling window (Lambda's TimeWindow fields). */
export interface TumblingWindowEvent extends KinesisStreamEvent {
  window: { start: string; end: string };
  state?: unknown;
  shardId?: string;
  eventSourceARN?: string;
  isFinalInvokeForWindow?: boolean;
  isWindowTerminatedEarly?: boolean;
}

export interface CarriedResponse {
  state: CarriedJson | Record<string, never>;
  batchItemFailures: { itemIdentifier: string }[];
}

export function isTumblingWindowEvent(event: KinesisStreamEvent): event is TumblingWindowEvent {
  return (event as Partial<TumblingWindowEvent>).window !== undefined;
}

/** A stored state that does not cover what a carried state holds was written by someone else. */
export class CarriedStateConflictError extends WindowpaneError {}

interface Run {
  deps: BatchDeps;
  carried: CarriedStates;
  report: BatchReport;
  counts: DeliveryCounts;
  ruleSet: RuleSet | undefined;
  /** Processing time at the start of the invocation. */
  now: number;
  /**
   * The batch's clock for CS8: the latest arrival time of its records (epoch ms), undefined
   * for a batch of none. It depends on the batch alone, so a copy of the invocation
   * delivered again later hands back what the invocation did.
   */
  clock: number | undefined;
  claimUntil: number;
  commit: CarriedCommit;
  /** Committed states with alerts, transitions or action outcomes to publish. */
  pendingAlerts: SensorState[];
}

export async function processCarriedBatch(
  deps: BatchDeps,
  event: TumblingWindowEvent,
): Promise<{ response: CarriedResponse; report: BatchReport }> {
  const logger = deps.logger ?? silentLogger;
  const writesBefore = deps.counter.writes;
  const now = (deps.now ?? Date.now)();
  const first = event.Records[0];
  const shardId = event.shardId ?? (first ? shardIdOfEventId(first.eventID) : 'shardId-unknown');
  const carried = CarriedStates.from(event.state, shardId);
  const failures: string[] = [];
  const { groups, invalid } = await decodeBatchWithSchemas(event, deps.config.metrics, deps.avro);
  const report = newReport(event.Records.length, groups.size);
  const ruleSet = await rulesForBatch(deps, report);
  const run: Run = {
    deps,
    carried,
    report,
    counts: emptyCounts(),
    ruleSet,
    now,
    clock: batchClock(event.Records),
    // A shard that is behind runs a window's invocations after its end: the claim is then
    // live from the invocation on.
    claimUntil: Math.max(Date.parse(event.window.end), now) + CLAIM_GRACE_MS,
    commit: {
      options: { versionOnly: true },
      resolveConflict: (mine, stored) => resolveConflict(shardId, mine, stored),
    },
    pendingAlerts: [],
  };

  if (event.isFinalInvokeForWindow) {
    // CS4: the window ends and Lambda drops its state: checkpoint every sensor, release its claim.
    await checkpointOut(run, carried.sensorIds());
    report.writeRequests = deps.counter.writes - writesBefore;
    return { response: { state: {}, batchItemFailures: [] }, report };
  }

  const invalidSent = sendInvalidRecords(deps, invalid);
  const streamArn = event.eventSourceARN ?? first?.eventSourceARN ?? '';
  const start = await startingStates(run, [...groups.values()], streamArn, event.Records);

  await runPool([...groups.values()], deps.concurrency ?? DEFAULT_SENSOR_CONCURRENCY, async (group) => {
    try {
      const state = await applyCarried(run, await start(group), group.records);
      carried.set(state, state.outbox !== EMPTY_MARK, {
        at: now,
        // A group has records, so the batch has a clock.
        handBackAt: handBackAt(state, run.clock ?? now, deps.config.idleTimeoutMs),
      });
    } catch (err) {
      report.failedSensors++;
      failures.push(group.firstItemId);
      logger.error("sensor failed; the sensor's records will be retried", {
        sensorId: group.sensorId,
        error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
      });
    }
  });

  // A failed publish fails the invocation: Lambda retries it with the state from before,
  // and the retry's commits lose to the ones made here, fold again from them, and deliver
  // their outboxes (commit.ts). Carrying on would carry states whose outbox is undelivered.
  await deliverAlertPhase(deps, run.pendingAlerts, run.counts);

  await handBackSilent(run, groups);
  await keepWithinBudget(run);
  addDeliveryCounts(report, run.counts);
  await invalidSent.settle(report, failures);
  report.writeRequests = deps.counter.writes - writesBefore;
  return {
    response: {
      state: carried.toJSON(),
      batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })),
    },
    report,
  };
}

/** The latest arrival time of the batch's records (epoch ms); undefined for none (CS8). */
function batchClock(records: readonly KinesisStreamRecord[]): number | undefined {
  let clock: number | undefined;
  for (const r of records) {
    const at = r.kinesis.approximateArrivalTimestamp * 1000;
    if (clock === undefined || at > clock) clock = at;
  }
  return clock;
}

/** Marks a state whose outbox was delivered without a commit (nothing to carry of it). */
const EMPTY_MARK: Outbox = Object.freeze({ results: [], alerts: [], late: [] }) as Outbox;

/**
 * Where each sensor of the batch starts: its carried state, or its item (CS2), claimed
 * for this carried state, and caught up first when another carried state holds it (CS5).
 */
async function startingStates(
  run: Run,
  groups: readonly SensorGroup[],
  streamArn: string,
  batch: readonly KinesisStreamRecord[],
): Promise<(group: SensorGroup) => Promise<SensorState>> {
  const { deps, carried } = run;
  await renewClaims(run, groups);
  const notCarried = groups.filter((g) => !carried.has(g.sensorId));
  const unread = await claimReleased(run, notCarried);
  const missing = notCarried.filter((g) => !unread.has(g.sensorId)).map((g) => g.sensorId);
  const loaded = missing.length > 0 ? await deps.store.loadMany(missing) : new Map<string, SensorState>();
  // CS5: a claim made before this batch, by any carried state (this one too: an older copy
  // of it delivered again), may have left records out of the body: from the claim's record
  // to just before this batch (via the claim's shard's end). A claim made by this batch (a
  // failed attempt of it, or a copy delivered again from the window's start) left none.
  const before = batch[0]?.kinesis.sequenceNumber;
  const stale = [...loaded.values()].filter(
    (s) =>
      s.claim !== undefined &&
      (s.claim.shardId !== carried.shardId ||
        before === undefined ||
        comparePosition(parsePosition(s.claim.from), parsePosition(before)) < 0),
  );
  const { records: caughtUp, failed: unreadable } =
    stale.length > 0
      ? await readClaimedRecords(deps, stale, {
          streamArn,
          here: { shardId: carried.shardId, ...(before !== undefined ? { before } : {}) },
        })
      : { records: new Map<string, SensorRecord[]>(), failed: new Map<string, Error>() };
  return async (group) => {
    const inCarried = carried.get(group.sensorId);
    if (inCarried) return inCarried;
    const claimedUnread = unread.get(group.sensorId);
    if (claimedUnread) return claimedUnread;
    // A stretch that could not be read fails its sensors alone; their records are retried.
    const cannotRead = unreadable.get(group.sensorId);
    if (cannotRead) throw cannotRead;
    let state = loaded.get(group.sensorId)!;
    // An outbox committed and perhaps not delivered (by a failed invocation): delivered now.
    if (!isOutboxEmpty(state.outbox)) {
      await deps.effects.deliverWindowsAndLate(state.outbox, run.counts);
      if (deps.delivered.needsAlerts(state)) run.pendingAlerts.push(state);
    }
    const behind = caughtUp.get(group.sensorId);
    if (state.claim && behind && behind.length > 0) {
      // Commits during the catch-up keep the old claim's start: until the claim below, the
      // stored body may still lack records from there.
      state = { ...state, claim: { ...state.claim, by: carried.id, until: run.claimUntil } };
      state = await applyCarried(run, state, behind);
      run.report.caughtUp += behind.length;
    }
    // The claim, with the caught-up state as its checkpoint: from here on a lost carried
    // state is caught up from this batch's first record of the sensor.
    const claimed = await deps.store.commit(state, state, { claim: newClaim(run, group), versionOnly: true });
    run.report.claims++;
    return claimed;
  };
}

/** A claim of this carried state on the group's sensor, from the batch's first record of it (CS2). */
function newClaim(run: Run, group: SensorGroup): CarryClaim {
  return {
    by: run.carried.id,
    shardId: run.carried.shardId,
    from: group.records[0]!.sequence,
    until: run.claimUntil,
  };
}

/**
 * CS2 without a read: a sensor this process checkpointed and released (ReleasedStates) is
 * claimed from the body that checkpoint wrote, fenced on its version. The item is then
 * exactly that body, released, so there is nothing to catch up and no outbox to deliver,
 * as for an item read without a claim. A claim that loses its write (the item moved on
 * since) leaves the sensor to be read.
 */
async function claimReleased(run: Run, groups: readonly SensorGroup[]): Promise<Map<string, SensorState>> {
  const { deps, report } = run;
  const claimed = new Map<string, SensorState>();
  const released = deps.released;
  if (!released) return claimed;
  const kept = groups.flatMap((group) => {
    const state = released.take(group.sensorId, run.now);
    return state ? [{ group, state }] : [];
  });
  await runPool(kept, deps.concurrency ?? DEFAULT_SENSOR_CONCURRENCY, async ({ group, state }) => {
    try {
      const claim = newClaim(run, group);
      claimed.set(group.sensorId, await deps.store.commit(state, state, { claim, versionOnly: true }));
      report.claims++;
      report.claimsUnread++;
    } catch (err) {
      if (!(err instanceof StateConflictError)) throw err;
      report.claimsStale++;
    }
  });
  return claimed;
}

/**
 * CS6: a carried sensor of the batch whose claim ends within CLAIM_RENEW_BEFORE_MS is
 * checkpointed with its claim renewed (from this batch's first record of the sensor)
 * before it is folded. A renewal that loses its conditional write finds the claim taken
 * over by the idle sweeper: the sensor is no longer carried, and starts from its item.
 */
async function renewClaims(run: Run, groups: readonly SensorGroup[]): Promise<void> {
  const { deps, carried } = run;
  const renewBy = run.now + CLAIM_RENEW_BEFORE_MS;
  const due = groups.filter((g) => (carried.claimUntil(g.sensorId) ?? Number.POSITIVE_INFINITY) < renewBy);
  await runPool(due, deps.concurrency ?? DEFAULT_SENSOR_CONCURRENCY, async (group) => {
    const state = carried.get(group.sensorId)!;
    const claim: CarryClaim = { ...state.claim!, from: group.records[0]!.sequence, until: run.claimUntil };
    try {
      // The carried outbox was delivered by the invocation that carried it on.
      const renewed = await deps.store.commit(
        state,
        { ...state, outbox: emptyOutbox() },
        { claim, versionOnly: true },
      );
      carried.set(renewed, false);
      run.report.claims++;
    } catch (err) {
      if (!(err instanceof StateConflictError)) throw err;
      run.report.conflicts++;
      carried.delete(group.sensorId);
    }
  });
}

/**
 * Folds a sensor's records onto its carried state, in commits no larger than the commit
 * target (B1) as without carried state. A fold with alerts, transitions or action
 * outcomes is committed first (CS3); any other is only delivered (CS1).
 */
async function applyCarried(
  run: Run,
  initial: SensorState,
  records: readonly SensorRecord[],
): Promise<SensorState> {
  const { deps, report, counts } = run;
  const chunk = deps.maxRecordsPerCommit ?? DEFAULT_RECORDS_PER_COMMIT;
  let state = initial;
  for (let i = 0; i < records.length; ) {
    const part = records.slice(i, i + chunk);
    const sized = foldWithinBudget(state, part, deps.config, deps.commitTargetBytes, run.ruleSet);
    const result = sized.result;
    let consumed = sized.consumed;
    if (result.applied === 0 && isOutboxEmpty(result.effects) && !result.rewrite) {
      report.duplicates += result.duplicates;
    } else if (needsCommit(result.effects)) {
      state = await commitAndDeliver(
        deps,
        state,
        report,
        counts,
        (s) => {
          const again = foldWithinBudget(s, part, deps.config, deps.commitTargetBytes, run.ruleSet);
          consumed = again.consumed;
          return again.result;
        },
        { ...run.commit, options: { ...run.commit.options, claim: claimOf(run, state) } },
      );
      if (deps.delivered.needsAlerts(state)) run.pendingAlerts.push(state);
    } else {
      if (result.effects.results.length > 0 || result.effects.late.length > 0) {
        await deps.effects.deliverWindowsAndLate(result.effects, counts);
      }
      report.readings += result.applied;
      report.duplicates += result.duplicates;
      state = { ...result.state, outbox: EMPTY_MARK };
    }
    i += consumed;
  }
  return state;
}

/** CS3: effects that depend on the rules in force are delivered from a committed outbox only. */
function needsCommit(effects: Outbox): boolean {
  return (
    effects.alerts.length > 0 || (effects.transitions?.length ?? 0) > 0 || (effects.actions?.length ?? 0) > 0
  );
}

/** This carried state's claim as it stands on the item (kept by every commit until released). */
function claimOf(run: Run, state: SensorState): CarryClaim {
  if (state.claim?.by !== run.carried.id) {
    // startingStates claims every sensor before it folds one; anything else is a bug.
    throw new CarriedStateConflictError(
      `sensor "${state.sensorId}" is folded without this carried state's claim`,
    );
  }
  return state.claim;
}

/**
 * After a lost conditional write: the stored state is the one to go on from when it
 * covers every record this carried state applied on its shard (a retry of ours that
 * committed, or a sweeper that caught the sensor up). When instead this state covers
 * every record the stored one applied, on every shard, the stored one was written by a
 * copy of this window's lineage that the mapping did not go on with (a batch delivered
 * again, whose answer was dropped, or an older batch delivered again): it folded records
 * this state holds too, so this state goes on, fenced on the stored version. Otherwise
 * the two have diverged and cannot be reconciled here.
 */
export function resolveConflict(shardId: string, mine: SensorState, stored: SensorState): SensorState {
  const m = mine.applied[shardId];
  const s = stored.applied[shardId];
  if (m === undefined || (s !== undefined && comparePosition(parsePosition(s), parsePosition(m)) >= 0))
    return stored;
  const covered = Object.entries(stored.applied).every(([shard, pos]) => {
    const mineThere = mine.applied[shard];
    return mineThere !== undefined && comparePosition(parsePosition(mineThere), parsePosition(pos)) >= 0;
  });
  if (covered) return { ...mine, version: stored.version };
  throw new CarriedStateConflictError(
    `state of sensor "${mine.sensorId}" was written by another writer at version ${stored.version}, behind this carried state (${shardId} ${s ?? 'none'} < ${m})`,
  );
}

/** CS4: commits the sensors' carried states with their claims released, and stops carrying them. */
async function checkpointOut(run: Run, sensorIds: readonly string[]): Promise<void> {
  const { deps, carried } = run;
  const failed: unknown[] = [];
  await runPool([...sensorIds], deps.concurrency ?? DEFAULT_SENSOR_CONCURRENCY, async (id) => {
    const state = carried.get(id)!;
    try {
      await checkpoint(run, state);
      carried.delete(id);
    } catch (err) {
      failed.push(err);
    }
  });
  if (failed.length > 0) throw failed[0];
}

async function checkpoint(run: Run, state: SensorState): Promise<void> {
  const { deps } = run;
  // The item says when the sensor last read (CS8), so the idle sweeper's cutoff counts
  // its silence from then, not from the checkpoint.
  const seenAt = run.carried.seenAt(state.sensorId);
  const at = seenAt !== undefined ? { updatedAt: Math.min(seenAt, run.now) } : {};
  let mine = state;
  // A carried outbox was delivered by the invocation that carried it on (as in renewClaims):
  // the checkpoint leaves it out, so the next claim has none to deliver again.
  let next: SensorState = { ...state, outbox: emptyOutbox() };
  for (let attempt = 1; ; attempt++) {
    try {
      const released = await deps.store.commit(mine, next, { claim: null, versionOnly: true, ...at });
      run.report.checkpoints++;
      // Until the idle sweeper may write the item (CS8's cutoff, or an absence alarm due).
      const idle = (seenAt ?? run.now) + deps.config.idleTimeoutMs;
      deps.released?.remember(released, Math.min(idle, released.sd ?? idle));
      return;
    } catch (err) {
      if (!(err instanceof StateConflictError) || attempt >= 3) throw err;
      run.report.conflicts++;
      const stored = err.current ?? (await deps.store.load(mine.sensorId));
      const resolved = resolveConflict(run.carried.shardId, mine, stored);
      // A stored state that covers ours is as far as this state got, or further (CS4): with
      // no claim of ours it is already the checkpoint. With one, a later invocation of this
      // lineage wrote it (this is a copy delivered again with an older state, or a state
      // left behind by a failed fold), and that invocation may carry records its body
      // lacks: the claim stays, for that invocation's checkpoint or a catch-up to end.
      if (resolved === stored) return;
      mine = resolved;
      next = { ...resolved, outbox: emptyOutbox() };
    }
  }
}

/**
 * CS8: a carried sensor that has stopped reading is handed back to the idle sweeper,
 * checkpointed and released, once its windows have been idle for idleTimeoutMs or an
 * absence alarm of it is due: the sweeper flushes and raises for it as without carried
 * state, instead of at the window's end.
 */
async function handBackSilent(run: Run, inBatch: ReadonlyMap<string, SensorGroup>): Promise<void> {
  // Due by the batch's clock, not the processing time: a copy delivered again later with
  // an older state would otherwise hand back a sensor this invocation kept, and release a
  // body that lacks what the lineage has read of it since.
  if (run.clock === undefined) return;
  // A sensor of this batch is reading: it is not silent, whatever its alarms say.
  const due = run.carried.dueForHandBack(run.clock).filter((id) => !inBatch.has(id));
  if (due.length === 0) return;
  await checkpointOut(run, due);
  run.report.handedBack += due.length;
}

/** CS4: the carried JSON stays under its budget; the largest sensors are checkpointed out. */
async function keepWithinBudget(run: Run): Promise<void> {
  const { carried } = run;
  let bytes = carried.bytes();
  run.report.carriedBytes = bytes;
  if (bytes <= CARRIED_STATE_BUDGET) return;
  const bySize = carried.sensorIds().sort((a, b) => carried.entryBytes(b) - carried.entryBytes(a));
  const out: string[] = [];
  for (const id of bySize) {
    if (bytes <= CARRIED_STATE_BUDGET * 0.8) break;
    bytes -= carried.entryBytes(id);
    out.push(id);
  }
  await checkpointOut(run, out);
  run.report.carriedBytes = carried.bytes();
}
