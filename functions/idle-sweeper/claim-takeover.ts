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
import { comparePosition, parsePosition } from '../domain/record-position.js';
import { foldWithinBudget } from '../domain/sized-fold.js';
import type { SensorRecord, SensorState } from '../domain/state.js';
import { type DeliveryCounts, emptyCounts } from '../lib/effects.js';
import { runPool } from '../lib/pool.js';
import { readShardStretch } from '../lib/shard-reader.js';
import { deliverAlertPhase } from '../pipeline/alert-phase.js';
import { MAX_CATCH_UP_RECORDS } from '../pipeline/carried-state.js';
import { commitAndDeliver } from '../pipeline/commit.js';
import { decodeBatchWithSchemas } from '../pipeline/decode-batch.js';
import { type BatchDeps, DEFAULT_RECORDS_PER_COMMIT, DEFAULT_SENSOR_CONCURRENCY } from '../pipeline/deps.js';
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
  if (!deps.kinesis) throw new ClaimTakeoverConflictError('a claim takeover needs a Kinesis client');
  const fromByShard = new Map<string, string>();
  for (const { claim } of states) {
    const prev = fromByShard.get(claim!.shardId);
    if (prev === undefined || comparePosition(parsePosition(claim!.from), parsePosition(prev)) < 0) {
      fromByShard.set(claim!.shardId, claim!.from);
    }
  }
  const records = [];
  for (const [shardId, from] of fromByShard) {
    records.push(
      ...(await readShardStretch(deps.kinesis, {
        streamName,
        shardId,
        from,
        maxRecords: MAX_CATCH_UP_RECORDS,
      })),
    );
  }
  const { groups } = await decodeBatchWithSchemas({ Records: records }, deps.config.metrics, deps.avro);
  const counts = emptyCounts();
  const withAlerts: SensorState[] = [];
  await runPool([...states], deps.concurrency ?? DEFAULT_SENSOR_CONCURRENCY, async (state) => {
    try {
      const after = await catchUpAndRelease(
        deps,
        state,
        groups.get(state.sensorId)?.records ?? [],
        report,
        counts,
      );
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
  deps.logger?.warn('expired carried-state claims taken over', {
    sensors: states.length,
    recordsRead: records.length,
    shards: [...fromByShard.keys()],
  });
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
  const chunk = deps.maxRecordsPerCommit ?? DEFAULT_RECORDS_PER_COMMIT;
  let state = initial;
  for (let i = 0; i < records.length; ) {
    const part = records.slice(i, i + chunk);
    let consumed = part.length;
    // The claim stays until the end: a sweep that dies midway leaves it to the next one.
    state = await commitAndDeliver(
      deps,
      state,
      report,
      counts,
      (s) => {
        const sized = foldWithinBudget(s, part, deps.config, deps.commitTargetBytes, deps.rules?.current());
        consumed = sized.consumed;
        return sized.result;
      },
      { ...fenced, options: { versionOnly: true, claim } },
    );
    i += consumed;
  }
  report.caughtUp += records.length;
  const released = await deps.store.commit(state, state, { claim: null, versionOnly: true });
  report.checkpoints++;
  return released;
}
