/**
 * Reading back what a carried state's claim says a stored body lacks (docs/SEMANTICS.md
 * "Carried state"): the records of the claimed sensors from each claim's record on its
 * shard. Three callers: a batch of a carried state that meets another state's claim
 * (CS5), a batch without carried state that meets a claim (carried state turned off with
 * claims left, CS7), and the idle sweeper taking an expired claim over (CS6).
 */

import { WindowpaneError } from '../domain/errors.js';
import { comparePosition, parsePosition } from '../domain/record-position.js';
import type { RuleSet } from '../domain/rule-set.js';
import { foldWithinBudget } from '../domain/sized-fold.js';
import type { SensorRecord, SensorState } from '../domain/state.js';
import type { DeliveryCounts } from '../lib/effects.js';
import { readShardStretch } from '../lib/shard-reader.js';
import { MAX_CATCH_UP_RECORDS } from './carried-state.js';
import { type CarriedCommit, commitAndDeliver } from './commit.js';
import { decodeBatchWithSchemas } from './decode-batch.js';
import { type BatchDeps, DEFAULT_RECORDS_PER_COMMIT } from './deps.js';
import type { BatchReport } from './report.js';

/** A catch-up cannot be made with what the caller has (no Kinesis client). */
export class CatchUpUnavailableError extends WindowpaneError {}

export interface CatchUpStretch {
  /** The stream, by ARN (a batch's event) or by name (the idle sweeper). */
  streamArn?: string;
  streamName?: string;
  /**
   * The shard of the batch being processed, and its first record: a claim on this shard
   * is read to just before it; a claim on another shard (a parent) is read to that
   * shard's end, then this shard from its start to just before it. Absent (the sweeper):
   * each claim's shard is read to its end or tip.
   */
  here?: { shardId: string; before?: string };
}

/** The records of `claimed` sensors (each with a claim) their stored bodies may lack, per sensor. */
export async function readClaimedRecords(
  deps: BatchDeps,
  claimed: readonly SensorState[],
  stretch: CatchUpStretch,
): Promise<{ records: Map<string, SensorRecord[]>; read: number }> {
  if (!deps.kinesis)
    throw new CatchUpUnavailableError('a catch-up needs a Kinesis client (BatchDeps.kinesis)');
  const ids = new Set(claimed.map((s) => s.sensorId));
  const fromByShard = new Map<string, string>();
  for (const s of claimed) {
    const c = s.claim!;
    const prev = fromByShard.get(c.shardId);
    if (prev === undefined || comparePosition(parsePosition(c.from), parsePosition(prev)) < 0) {
      fromByShard.set(c.shardId, c.from);
    }
  }
  const stream = {
    ...(stretch.streamArn ? { streamArn: stretch.streamArn } : {}),
    ...(stretch.streamName ? { streamName: stretch.streamName } : {}),
  };
  const here = stretch.here;
  const before = here?.before !== undefined ? { before: here.before } : {};
  const raw = [];
  let readHereFromStart = false;
  for (const [shardId, from] of fromByShard) {
    const isHere = shardId === here?.shardId;
    raw.push(
      ...(await readShardStretch(deps.kinesis, {
        ...stream,
        shardId,
        from,
        ...(isHere ? before : {}),
        maxRecords: MAX_CATCH_UP_RECORDS,
      })),
    );
    if (here && !isHere) readHereFromStart = true;
  }
  if (here && readHereFromStart && !fromByShard.has(here.shardId)) {
    raw.push(
      ...(await readShardStretch(deps.kinesis, {
        ...stream,
        shardId: here.shardId,
        ...before,
        maxRecords: MAX_CATCH_UP_RECORDS,
      })),
    );
  }
  const { groups } = await decodeBatchWithSchemas({ Records: raw }, deps.config.metrics, deps.avro);
  const records = new Map<string, SensorRecord[]>();
  for (const [id, g] of groups) if (ids.has(id)) records.set(id, g.records);
  deps.logger?.warn('claimed sensors caught up from the stream', {
    sensors: claimed.length,
    recordsRead: raw.length,
    shards: [...fromByShard.keys()],
  });
  return { records, read: raw.length };
}

/**
 * Folds a claimed sensor's read-back `records` onto its stored state in commits that keep
 * the claim as it is (fenced on the version): until the last of them, the stored body may
 * still lack records from the claim's record on, so a failure midway leaves the claim for
 * the next attempt, which finds the records already applied as duplicates. Returns the
 * state, still claimed; the caller's next commit releases or renews the claim.
 */
export async function foldClaimedRecords(
  deps: BatchDeps,
  initial: SensorState,
  records: readonly SensorRecord[],
  counted: { report: BatchReport; counts: DeliveryCounts; ruleSet: RuleSet | undefined },
  resolveConflict: CarriedCommit['resolveConflict'],
): Promise<SensorState> {
  const claim = initial.claim!;
  const chunk = deps.maxRecordsPerCommit ?? DEFAULT_RECORDS_PER_COMMIT;
  let state = initial;
  for (let i = 0; i < records.length; ) {
    const part = records.slice(i, i + chunk);
    let consumed = part.length;
    state = await commitAndDeliver(
      deps,
      state,
      counted.report,
      counted.counts,
      (s) => {
        const sized = foldWithinBudget(s, part, deps.config, deps.commitTargetBytes, counted.ruleSet);
        consumed = sized.consumed;
        return sized.result;
      },
      { options: { versionOnly: true, claim }, resolveConflict },
    );
    i += consumed;
  }
  counted.report.caughtUp += records.length;
  return { ...state, claim };
}
