/**
 * The idle sweeper's takeover of a carried state's expired claim (docs/SEMANTICS.md
 * "Carried state" CS6). A claim is a lease: a carried state renews it before it folds a
 * sensor whose claim is about to end, so a claim that ended more than CLAIM_TAKEOVER_MS
 * ago belongs to a carried state that is gone (a parent shard's last window, a state
 * lost mid-window) and whose sensor has not read since. Left alone, the sensor would keep
 * its open windows, and its next reading would have to read the shard back from a record
 * that may by then be past the stream's retention.
 *
 * The takeover reads the claim's shard back from the claim's record to the shard's end
 * or tip, folds the sensor's records onto the stored state (those already applied are
 * duplicates), commits it with the claim kept, then releases the claim. A later sweep
 * flushes the sensor's windows when it is idle, as any other.
 */

import { WindowpaneError } from '../domain/errors.js';
import type { SensorRecord, SensorState } from '../domain/state.js';
import { type DeliveryCounts, emptyCounts } from '../lib/effects.js';
import { runPool } from '../lib/pool.js';
import { deliverAlertPhase } from '../pipeline/alert-phase.js';
import { foldClaimedRecords, readClaimedRecords } from '../pipeline/catch-up.js';
import { type BatchDeps, DEFAULT_SENSOR_CONCURRENCY } from '../pipeline/deps.js';
import { addDeliveryCounts, type BatchReport } from '../pipeline/report.js';

/** The stored state moved while the sweeper took its claim over: the next sweep tries again. */
export class ClaimTakeoverConflictError extends WindowpaneError {}

/** Catches up and releases the claims of `states` (all expired); counts into `report`. */
export async function takeOverClaims(
  deps: BatchDeps,
  states: readonly SensorState[],
  streamName: string,
  report: BatchReport,
): Promise<void> {
  if (states.length === 0) return;
  const { records: behind, failed: unread, read } = await readClaimedRecords(deps, states, { streamName });
  const counts = emptyCounts();
  const withAlerts: SensorState[] = [];
  await runPool([...states], deps.concurrency ?? DEFAULT_SENSOR_CONCURRENCY, async (state) => {
    try {
      // Its shard could not be read: this sensor waits for the next sweep, the others go on.
      const cannotRead = unread.get(state.sensorId);
      if (cannotRead) throw cannotRead;
      const after = await catchUpAndRelease(deps, state, behind.get(state.sensorId) ?? [], report, counts);
      if (deps.delivered.needsAlerts(after)) withAlerts.push(after);
    } catch (err) {
      report.failedSensors++;
      deps.logger?.error('claim takeover failed; the next sweep tries again', {
        sensorId: state.sensorId,
        error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
      });
    }
  });
  await deliverAlertPhase(deps, withAlerts, counts);
  addDeliveryCounts(report, counts);
  deps.logger?.warn('carried-state claims taken over', { sensors: states.length, recordsRead: read });
}

async function catchUpAndRelease(
  deps: BatchDeps,
  initial: SensorState,
  records: readonly SensorRecord[],
  report: BatchReport,
  counts: DeliveryCounts,
): Promise<SensorState> {
  const claim = initial.claim!;
  const fenced = {
    resolveConflict: (mine: SensorState): SensorState => {
      throw new ClaimTakeoverConflictError(
        `state of sensor "${mine.sensorId}" changed during the takeover of its claim by ${claim.by}`,
      );
    },
  };
  // The claim stays until the end: a sweep that dies midway leaves it to the next one.
  const state = await foldClaimedRecords(
    deps,
    initial,
    records,
    { report, counts, ruleSet: deps.rules?.current() },
    fenced.resolveConflict,
  );
  const released = await deps.store.commit(state, state, { claim: null, versionOnly: true });
  report.checkpoints++;
  return released;
}
