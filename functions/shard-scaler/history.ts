/**
 * The scaler's memory of its own operations, kept in a tag on the stream itself.
 *
 * Kinesis does not report when a stream was last resharded, yet the decision needs the
 * operations of the last 24 hours (10 a day at most) and the time of the last one
 * (cooldowns). A tag keeps that history with the stream it describes: no extra table, and
 * it survives redeploys of the scaler. Ten entries of `epochSeconds:from:to` fit in a tag
 * value (256 characters; letters, digits, spaces and `_ . : / = + - @` only).
 */
import { DAY_MS, KINESIS_MAX_OPERATIONS_PER_DAY, type ScalingOperation } from './decide.js';

export const HISTORY_TAG_KEY = 'windowpane:scaling-history';
export const TAG_VALUE_MAX_LENGTH = 256;

const ENTRY = /^(\d{1,12}):(\d{1,5}):(\d{1,5})$/;

export interface ParsedHistory {
  operations: ScalingOperation[];
  /** Entries that could not be read (a hand-edited tag): ignored, reported by the caller. */
  malformed: string[];
}

export function parseHistory(value: string | undefined): ParsedHistory {
  const operations: ScalingOperation[] = [];
  const malformed: string[] = [];
  for (const entry of (value ?? '').split(/\s+/).filter((e) => e !== '')) {
    const m = ENTRY.exec(entry);
    if (!m) {
      malformed.push(entry);
      continue;
    }
    operations.push({ at: Number(m[1]) * 1_000, from: Number(m[2]), to: Number(m[3]) });
  }
  operations.sort((a, b) => a.at - b.at);
  return { operations, malformed };
}

/**
 * The tag value after recording `op`: only the last 24 hours are kept (older operations no
 * longer count against Kinesis's daily limit), newest last, at most the daily limit.
 */
export function formatHistory(history: readonly ScalingOperation[], op: ScalingOperation): string {
  const kept = [...history, op]
    .filter((o) => o.at > op.at - DAY_MS)
    .sort((a, b) => a.at - b.at)
    .slice(-KINESIS_MAX_OPERATIONS_PER_DAY);
  return kept.map((o) => `${Math.floor(o.at / 1_000)}:${o.from}:${o.to}`).join(' ');
}
