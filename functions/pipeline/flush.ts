/**
 * Flushing open windows: at the end of a replay (every sensor) and in the idle sweeper
 * (sensors silent for longer than the idle timeout). Each window is emitted as final
 * exactly once, through the same fenced commit and delivery as a stream batch.
 */
import { WindowpaneError } from '../domain/errors.js';
import type { SensorState } from '../domain/state.js';
import { unchangedFold } from '../domain/state.js';
import { sweepSensor } from '../domain/sweep.js';
import { flushSensor } from '../domain/windows/finalise.js';
import { emptyCounts } from '../lib/effects.js';
import { runPool } from '../lib/pool.js';
import { BACKOFF, backoffDelay, sleep } from '../lib/retry.js';
import { deliverAlertPhase } from './alert-phase.js';
import { CLAIM_TAKEOVER_MS, isClaimExpired } from './carried-state.js';
import { commitAndDeliver, type Fold } from './commit.js';
import { type BatchDeps, DEFAULT_SENSOR_CONCURRENCY } from './deps.js';
import { addDeliveryCounts, type BatchReport, newReport } from './report.js';

/** Takes over claims a carried state left (the idle sweeper's claim-takeover.ts), counting into `report`. */
export type ClaimTakeover = (states: SensorState[], report: BatchReport) => Promise<void>;

/** A sensor to flush is still claimed by a carried state: its stored body may lack records. */
export class ClaimedSensorFlushError extends WindowpaneError {}

/**
 * Closes every open window of the given sensors (end of a replay). Only for when no
 * carried state is live any more (the stream drained, every window's final invocation
 * made): a claim left then is one no final invocation released (a parent shard's last
 * window, a state lost in a window's last batches, a final checkpoint that lost to a
 * zombie's covering write), and its sensor's stored body lacks
 * the records read since the claim. `takeOver` catches each such sensor up from the shard
 * and releases it before the flush (SEMANTICS.md CS6); without it, or when a takeover
 * fails, the flush throws naming the sensors rather than close windows that miss records.
 */
export async function flushOpenWindows(
  deps: BatchDeps,
  sensorIds: readonly string[],
  opts: { takeOver?: ClaimTakeover } = {},
): Promise<BatchReport> {
  const report = newReport(0, sensorIds.length);
  // The takeover folds with the rules too: load them first (a replay's flush may come
  // before this process ran any batch).
  await refreshRules(deps, report);
  let states = await deps.store.loadMany(sensorIds);
  const claimed = () => [...states.values()].filter((s) => s.claim !== undefined);
  let still = claimed();
  // A takeover that failed (its shard unreadable, a conflict) is tried again a few times.
  const attempts = opts.takeOver ? BACKOFF.claimTakeover.maxAttempts : 0;
  for (let attempt = 1; attempt <= attempts && still.length > 0; attempt++) {
    if (attempt > 1) await sleep(backoffDelay(attempt - 1, BACKOFF.claimTakeover));
    const writesBefore = deps.counter.writes;
    await opts.takeOver!(still, report);
    report.writeRequests += deps.counter.writes - writesBefore;
    states = await deps.store.loadMany(sensorIds);
    still = claimed();
  }
  // Sensors whose takeover failed and a later attempt mended are not failures of the flush.
  report.failedSensors = 0;
  if (still.length > 0) {
    const named = still.map((s) => `${s.sensorId} (by ${s.claim!.by})`);
    throw new ClaimedSensorFlushError(
      `cannot flush ${still.length} sensor(s) still claimed by a carried state, whose stored ` +
        `bodies may lack records: ${named.slice(0, 10).join(', ')}${still.length > 10 ? ', ...' : ''}` +
        (opts.takeOver ? ' (their takeover failed: see the log)' : ' (no claim takeover was given)'),
    );
  }
  const flushOpen: Fold = (s) =>
    Object.keys(s.windows).length > 0 ? flushSensor(s, deps.config, deps.rules?.current()) : unchangedFold(s);
  // The states just read: a conflict with a writer since is caught by the commit, which
  // folds the winner's state again.
  return foldEach(deps, sensorIds, flushOpen, report, states);
}

/**
 * The idle sweeper: flushes the open windows of sensors whose state was last committed
 * more than `idleTimeoutMs` ago (processing time), and raises the absence alarms due by
 * `nowMs` (A-K8). It uses the same conditional write as
 * the stream handler, and re-checks idleness on every state it folds, so it cannot race
 * the handler into a double emission: whoever commits second re-reads. If the handler
 * won, the sensor is no longer idle and nothing is flushed; if the sweeper won, the
 * handler's readings for the flushed windows are late.
 */
export async function sweepIdleSensors(
  deps: BatchDeps,
  opts: {
    nowMs: number;
    idleTimeoutMs: number;
    /**
     * Takes over claims a carried state left expired (SEMANTICS.md CS6: the idle sweeper's
     * claim-takeover.ts); absent: they are left alone.
     */
    takeOver?: ClaimTakeover;
  },
): Promise<BatchReport> {
  const cutoff = opts.nowMs - opts.idleTimeoutMs;
  // Idle sensors with open windows, sensors with an absence alarm due (A-K8), and sensors
  // whose claim expired long enough ago to take it over.
  const claimsBefore = opts.takeOver ? opts.nowMs - CLAIM_TAKEOVER_MS : undefined;
  const idle = await deps.store.listIdleSensors(cutoff, opts.nowMs, claimsBefore);
  // A-R4: the sweeper raises with the rules as the handler would (a failed refresh keeps the last).
  await deps.rules?.refreshIfDue(opts.nowMs);
  const rules = deps.rules?.current();
  const report = await foldEach(deps, idle, (s) =>
    // A sensor a carried state claims may have records its stored body lacks (SEMANTICS.md
    // CS6): the carried state's checkpoint, or the next batch's catch-up, hands it back.
    s.claim !== undefined
      ? unchangedFold(s)
      : sweepSensor(s, deps.config, rules, {
          flush: s.updatedAt !== undefined && s.updatedAt < cutoff,
          nowMs: opts.nowMs,
        }),
  );
  if (opts.takeOver && idle.length > 0) {
    const expired = [...(await deps.store.loadMany(idle)).values()].filter((s) =>
      isClaimExpired(s, opts.nowMs),
    );
    const writesBefore = deps.counter.writes;
    await opts.takeOver(expired, report);
    report.writeRequests += deps.counter.writes - writesBefore;
  }
  return report;
}

/**
 * Commits `fold` of each sensor's state (re-run on the winner's state after a conflict),
 * from `loaded` when the caller has just read them.
 */
async function foldEach(
  deps: BatchDeps,
  sensorIds: readonly string[],
  fold: Fold,
  report: BatchReport = newReport(0, sensorIds.length),
  loaded?: Map<string, SensorState>,
): Promise<BatchReport> {
  const writesBefore = deps.counter.writes;
  // A-R4 as for a stream batch: a flush evaluates window rules, with the rules as of now
  // (the idle sweeper, or a replay's flush, may run before any batch loaded them).
  await refreshRules(deps, report);
  const states = loaded ?? (await deps.store.loadMany(sensorIds));
  const counts = emptyCounts();
  const withAlerts: SensorState[] = [];
  await runPool([...states.values()], deps.concurrency ?? DEFAULT_SENSOR_CONCURRENCY, async (state) => {
    if (state.version === 0) return;
    const after = await commitAndDeliver(deps, state, report, counts, fold);
    if (deps.delivered.needsAlerts(after)) withAlerts.push(after);
  });
  await deliverAlertPhase(deps, withAlerts, counts);
  addDeliveryCounts(report, counts);
  report.writeRequests += deps.counter.writes - writesBefore;
  return report;
}

/** Loads the rules when due (A-R4), counting what the refresh skipped or failed into `report`. */
async function refreshRules(deps: BatchDeps, report: BatchReport): Promise<void> {
  if (!deps.rules) return;
  const refreshed = await deps.rules.refreshIfDue(Date.now());
  report.rulesInvalid += refreshed.invalid;
  report.rulesRefreshFailed += refreshed.failed ? 1 : 0;
}
