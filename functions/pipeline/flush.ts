/**
 * Flushing open windows: at the end of a replay (every sensor) and in the idle sweeper
 * (sensors silent for longer than the idle timeout). Each window is emitted as final
 * exactly once, through the same fenced commit and delivery as a stream batch.
 */
import type { SensorState } from '../domain/state.js';
import { unchangedFold } from '../domain/state.js';
import { sweepSensor } from '../domain/sweep.js';
import { flushSensor } from '../domain/windows/finalise.js';
import { emptyCounts } from '../lib/effects.js';
import { runPool } from '../lib/pool.js';
import { deliverAlertPhase } from './alert-phase.js';
import { CLAIM_TAKEOVER_MS, isClaimExpired } from './carried-state.js';
import { commitAndDeliver, type Fold } from './commit.js';
import { type BatchDeps, DEFAULT_SENSOR_CONCURRENCY } from './deps.js';
import { addDeliveryCounts, type BatchReport, newReport } from './report.js';

/** Closes every open window of the given sensors (end of a replay). */
export function flushOpenWindows(deps: BatchDeps, sensorIds: readonly string[]): Promise<BatchReport> {
  return flushWhere(deps, sensorIds, () => true);
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
    takeOver?: (states: SensorState[], report: BatchReport) => Promise<void>;
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

async function flushWhere(
  deps: BatchDeps,
  sensorIds: readonly string[],
  shouldFlush: (state: SensorState) => boolean,
): Promise<BatchReport> {
  return foldEach(deps, sensorIds, (s) =>
    Object.keys(s.windows).length > 0 && shouldFlush(s)
      ? flushSensor(s, deps.config, deps.rules?.current())
      : unchangedFold(s),
  );
}

/** Commits `fold` of each sensor's state (re-run on the winner's state after a conflict). */
async function foldEach(deps: BatchDeps, sensorIds: readonly string[], fold: Fold): Promise<BatchReport> {
  const writesBefore = deps.counter.writes;
  const report = newReport(0, sensorIds.length);
  // A-R4 as for a stream batch: a flush evaluates window rules, with the rules as of now
  // (the idle sweeper, or a replay's flush, may run before any batch loaded them).
  if (deps.rules) {
    const refreshed = await deps.rules.refreshIfDue(Date.now());
    report.rulesInvalid = refreshed.invalid;
    report.rulesRefreshFailed = refreshed.failed ? 1 : 0;
  }
  const states = await deps.store.loadMany(sensorIds);
  const counts = emptyCounts();
  const withAlerts: SensorState[] = [];
  await runPool([...states.values()], deps.concurrency ?? DEFAULT_SENSOR_CONCURRENCY, async (state) => {
    if (state.version === 0) return;
    const after = await commitAndDeliver(deps, state, report, counts, fold);
    if (deps.delivered.needsAlerts(after)) withAlerts.push(after);
  });
  await deliverAlertPhase(deps, withAlerts, counts);
  addDeliveryCounts(report, counts);
  report.writeRequests = deps.counter.writes - writesBefore;
  return report;
}
