/**
 * Reading back what a carried state's claim says a stored body lacks (docs/SEMANTICS.md
 * "Carried state"): the records of the claimed sensors from each claim's record on its
 * shard. Three callers: a batch of a carried state that meets another state's claim
 * (CS5), a batch without carried state that meets a claim (carried state turned off with
 * claims left, CS7), and the idle sweeper taking an expired claim over (CS6).
 */

import { WindowpaneError } from '../domain/errors.js';
import type { RuleSet } from '../domain/rule-set.js';
import { compareSequence } from '../domain/sequence.js';
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

export interface ClaimedRecords {
  /** Per sensor, the records its stored body may lack, in stream order (parents first). */
  records: Map<string, SensorRecord[]>;
  /** Sensors whose stretch could not be read, with the error: they fail alone. */
  failed: Map<string, Error>;
  /** Records read from the stream. */
  read: number;
}

/** One shard read of a catch-up, and from where on each of its sensors wants its records. */
interface ShardRead {
  shardId: string;
  from?: string;
  before?: string;
  /** Sensor → first sequence it wants from this shard ('' : all of them). */
  wants: Map<string, string>;
}

/**
 * The records of `claimed` sensors (each with a claim) their stored bodies may lack, per
 * sensor. The shards are read page by page and only the claimed sensors' records are
 * kept, so a catch-up over a window of a full shard holds no more than those sensors'
 * records. Each sensor takes its records from its claim's record on its claim's shard,
 * and, when that is not this shard, from this shard's start: other shards (parents) are
 * read before this one. A shard that cannot be read fails only the sensors that need it.
 */
export async function readClaimedRecords(
  deps: BatchDeps,
  claimed: readonly SensorState[],
  stretch: CatchUpStretch,
): Promise<ClaimedRecords> {
  if (!deps.kinesis)
    throw new CatchUpUnavailableError('a catch-up needs a Kinesis client (BatchDeps.kinesis)');
  const stream = {
    ...(stretch.streamArn ? { streamArn: stretch.streamArn } : {}),
    ...(stretch.streamName ? { streamName: stretch.streamName } : {}),
  };
  const records = new Map<string, SensorRecord[]>();
  const failed = new Map<string, Error>();
  let read = 0;
  for (const plan of shardReads(claimed, stretch.here)) {
    const wanted = [...plan.wants.keys()].filter((id) => !failed.has(id));
    if (wanted.length === 0) continue;
    const kept = new Map<string, SensorRecord[]>();
    try {
      const pages = readShardStretch(deps.kinesis, {
        ...stream,
        shardId: plan.shardId,
        ...(plan.from !== undefined ? { from: plan.from } : {}),
        ...(plan.before !== undefined ? { before: plan.before } : {}),
        maxRecords: MAX_CATCH_UP_RECORDS,
        ...(deps.catchUpPageLimit !== undefined ? { pageLimit: deps.catchUpPageLimit } : {}),
      });
      for await (const page of pages) {
        read += page.length;
        const { groups } = await decodeBatchWithSchemas({ Records: page }, deps.config.metrics, deps.avro);
        for (const [id, group] of groups) {
          const from = plan.wants.get(id);
          if (from === undefined || failed.has(id)) continue;
          const mine =
            from === '' ? group.records : group.records.filter((r) => compareSequence(r.sequence, from) >= 0);
          if (mine.length === 0) continue;
          const list = kept.get(id);
          if (list) list.push(...mine);
          else kept.set(id, [...mine]);
        }
      }
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const id of wanted) {
        failed.set(id, error);
        records.delete(id);
      }
      deps.logger?.error('a catch-up could not read a shard; the sensors that need it fail', {
        shardId: plan.shardId,
        sensors: wanted.length,
        error: { name: error.name, message: error.message },
      });
      continue;
    }
    for (const [id, list] of kept) {
      const before = records.get(id);
      if (before) before.push(...list);
      else records.set(id, list);
    }
  }
  deps.logger?.warn('claimed sensors caught up from the stream', {
    sensors: claimed.length,
    recordsRead: read,
    shards: [...new Set(claimed.map((s) => s.claim!.shardId))],
  });
  return { records, failed, read };
}

/** What a catch-up reads: the claims' other shards first, each from its earliest claim, then this one. */
function shardReads(claimed: readonly SensorState[], here: CatchUpStretch['here']): ShardRead[] {
  const reads = new Map<string, ShardRead>();
  for (const s of claimed) {
    const c = s.claim!;
    const plan = reads.get(c.shardId) ?? { shardId: c.shardId, wants: new Map<string, string>() };
    if (plan.from === undefined || compareSequence(c.from, plan.from) < 0) plan.from = c.from;
    plan.wants.set(s.sensorId, c.from);
    reads.set(c.shardId, plan);
  }
  if (!here) return [...reads.values()];
  const others = [...reads.values()].filter((r) => r.shardId !== here.shardId);
  const mine = reads.get(here.shardId) ?? { shardId: here.shardId, wants: new Map<string, string>() };
  if (here.before !== undefined) mine.before = here.before;
  // A sensor claimed on another shard needs all of this one before the batch.
  const fromStart = claimed.filter((s) => s.claim!.shardId !== here.shardId);
  if (fromStart.length > 0) {
    delete mine.from;
    for (const s of fromStart) mine.wants.set(s.sensorId, '');
  }
  return mine.wants.size > 0 ? [...others, mine] : others;
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
