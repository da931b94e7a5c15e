/**
 * Commits sized by the item they write, not only by their number of records
 * (docs/SEMANTICS.md "Bounds" B1): the most of a sensor's records whose fold keeps the
 * state's body within the commit target (bounds.ts). Closed windows wait in the outbox
 * until their commit is delivered, so a backlog of one sensor (days of readings in one
 * batch) is folded, committed and delivered a few hundred windows at a time.
 *
 * Any cut gives the same outputs as one fold (fold.ts: lateness and finality depend on the
 * watermark, not on which windows are still held), so sizing commits changes nothing but
 * how many there are.
 */
import { bodyBytes, COMMIT_TARGET_BYTES, stateBody } from './bounds.js';
import type { WindowpaneConfig } from './config.js';
import { foldSensorRecords } from './fold.js';
import type { RuleSet } from './rule-set.js';
import type { FoldResult, SensorRecord, SensorState } from './state.js';

export interface SizedFold {
  result: FoldResult;
  /** Records of the input this fold covers (a prefix); the rest go to the next commit. */
  consumed: number;
  /** UTF-8 size of the new state's body. */
  bytes: number;
}

/**
 * Folds the longest prefix of `records` (at least one record, `targetBytes` default
 * COMMIT_TARGET_BYTES) whose new state fits the target. One record is the smallest step:
 * its fold is returned even past the target, and the store takes it up to MAX_STATE_BYTES
 * (bounds.ts says why the margin holds one reading); past that it refuses it
 * (StateItemTooLargeError) and that sensor fails, alone.
 */
export function foldWithinBudget(
  state: SensorState,
  records: readonly SensorRecord[],
  config: WindowpaneConfig,
  targetBytes = COMMIT_TARGET_BYTES,
  ruleSet?: RuleSet,
): SizedFold {
  let n = records.length;
  for (;;) {
    const result = foldSensorRecords(
      state,
      n === records.length ? records : records.slice(0, n),
      config,
      ruleSet,
    );
    const bytes = bodyBytes(stateBody(result.state));
    if (bytes <= targetBytes || n <= 1) return { result, consumed: n, bytes };
    // The body grows about linearly with the records folded: aim under the target, and
    // always shorten, so this ends after a few folds.
    n = Math.max(1, Math.min(n - 1, Math.floor(((n * targetBytes) / bytes) * 0.9)));
  }
}
