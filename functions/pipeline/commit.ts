/**
 * Read-fold-write with optimistic concurrency, and the delivery of what each commit put
 * in the outbox. The conditional write in WindowStateStore.commit is both the
 * concurrency check and the duplicate check; this loop is what to do when it fails:
 * fold again from the state that won (returned with the failure where the database
 * does so, else read again), on which the records already applied are recognised as
 * duplicates by their sequence numbers.
 */
import { OpenWindowLimitError } from '../domain/bounds.js';
import { type ActionOutcome, type FoldResult, isOutboxEmpty, type SensorState } from '../domain/state.js';
import type { DeliveryCounts } from '../lib/effects.js';
import { BACKOFF, backoffDelay, sleep } from '../lib/retry.js';
import { type CommitOptions, StateConflictError } from '../lib/state-store.js';
import { type BatchDeps, DEFAULT_COMMIT_ATTEMPTS } from './deps.js';
import type { BatchReport } from './report.js';

/** A state change to commit, recomputed from the current state on every attempt. */
export type Fold = (state: SensorState) => FoldResult;

/**
 * Commits `fold(state)` and delivers the new outbox's final windows and late readings
 * (its alerts are left to the caller's alert phase). Before each fold, whatever is still
 * undelivered in the outbox about to be replaced is delivered in full. Returns the state
 * as committed, or as it was when the fold changed nothing.
 */
/** How a carried state commits (functions/window-handler/process-carried.ts). */
export interface CarriedCommit {
  options: CommitOptions;
  /**
   * The state to fold again from after a conflict, given the one that lost and the one
   * stored (when the database returned it, else read); throws when the stored state does
   * not cover what was carried.
   */
  resolveConflict: (mine: SensorState, stored: SensorState) => SensorState;
}

export async function commitAndDeliver(
  deps: BatchDeps,
  initial: SensorState,
  report: BatchReport,
  counts: DeliveryCounts,
  fold: Fold,
  carried?: CarriedCommit,
): Promise<SensorState> {
  const attempts = deps.maxCommitAttempts ?? DEFAULT_COMMIT_ATTEMPTS;
  let state = initial;
  for (let attempt = 1; ; attempt++) {
    await ensureDelivered(deps, state, counts, true);
    const result = fold(state);
    if (result.applied === 0 && isOutboxEmpty(result.effects) && !result.rewrite) {
      report.duplicates += result.duplicates;
      return state;
    }
    try {
      const committed = await deps.store.commit(state, result.state, carried?.options);
      report.readings += result.applied;
      report.duplicates += result.duplicates;
      report.itemsWritten++;
      if (result.finalisedEarly > 0) reportOpenWindowLimit(deps, committed, result.finalisedEarly, report);
      if (result.effects.actions) reportActions(deps, result.effects.actions, report);
      await ensureDelivered(deps, committed, counts, false);
      return committed;
    } catch (err) {
      if (!(err instanceof StateConflictError) || attempt >= attempts) throw err;
      report.conflicts++;
      await sleep(backoffDelay(attempt, BACKOFF.conflict));
      const stored = err.current ?? (await deps.store.load(state.sensorId));
      state = carried ? carried.resolveConflict(state, stored) : stored;
    }
  }
}

/** SEMANTICS.md "Bounds" B3: counted (the WindowsFinalisedEarly metric) and logged per sensor. */
function reportOpenWindowLimit(
  deps: BatchDeps,
  state: SensorState,
  early: number,
  report: BatchReport,
): void {
  report.windowsFinalisedEarly += early;
  const err = new OpenWindowLimitError({
    sensorId: state.sensorId,
    limit: deps.config.maxOpenWindows,
    finalisedEarly: early,
  });
  deps.logger?.warn(err.message, {
    sensorId: state.sensorId,
    error: { name: err.name, message: err.message },
  });
}

/**
 * A-C3: alarm actions are counted once per commit that applied their control record; a
 * refused one is logged with its reason (the alarms projection keeps it for the CLI).
 */
function reportActions(deps: BatchDeps, outcomes: readonly ActionOutcome[], report: BatchReport): void {
  for (const o of outcomes) {
    if (o.outcome !== 'refused') {
      report.actionsApplied++;
      continue;
    }
    report.actionsRefused++;
    deps.logger?.warn(`alarm action refused: ${o.reason}`, {
      sensorId: o.sensorId,
      alarmId: o.alarmId,
      actionId: o.actionId,
      action: o.action,
      by: o.by,
      recordId: o.recordId,
    });
  }
}

/** Delivers the parts of `state.outbox` this process has not delivered yet. */
async function ensureDelivered(
  deps: BatchDeps,
  state: SensorState,
  counts: DeliveryCounts,
  includeAlerts: boolean,
): Promise<void> {
  if (!deps.delivered.isDelivered(state, 'windowsAndLate')) {
    if (state.outbox.results.length > 0 || state.outbox.late.length > 0) {
      await deps.effects.deliverWindowsAndLate(state.outbox, counts);
    }
    deps.delivered.markDelivered(state, 'windowsAndLate');
  }
  if (includeAlerts && !deps.delivered.isDelivered(state, 'alerts')) {
    await deps.effects.deliverAlerts(
      state.outbox.alerts,
      counts,
      state.outbox.transitions,
      state.outbox.actions,
    );
    deps.delivered.markDelivered(state, 'alerts');
  }
}
