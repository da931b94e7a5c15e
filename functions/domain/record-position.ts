/**
 * A user record's position in its shard, for the exactly-once fence when Kinesis records
 * may be KPL aggregates: the Kinesis sequence number plus the index of the user record
 * inside its aggregate (KCL calls it the sub-sequence number). All user records of one
 * aggregate share the sequence number, so the sequence number alone cannot tell the
 * second reading of sensor A in an aggregate from a redelivery of the first.
 *
 * The fence (per sensor, per shard, as in fold.ts) keeps the last applied position and
 * applies a record only when its position is strictly after it, in the order
 * (sequenceNumber, subIndex). This is enough because the positions a shard delivers only
 * grow: Kinesis orders records by sequence number and the de-aggregator emits user records
 * in index order, so a retried, bisected or redelivered batch, or a batch split over
 * several commits of one sensor (maxRecordsPerCommit may cut an aggregate in two), finds
 * exactly the user records not yet applied after the fence.
 *
 * A record that is not an aggregate has sub-index 0 and is written as its bare sequence
 * number, so the stored fence of every sensor fed by plain records is unchanged (and a
 * stored bare number reads back as sub-index 0). A user record of an aggregate is written
 * `<sequenceNumber>.<subIndex>`. A shard never holds an aggregate and a plain record under
 * one sequence number, so (S, 0) names the same record in both spellings.
 */
import { WindowpaneError } from './errors.js';
import { checkSequence, compareSequence, padSequence } from './sequence.js';

export interface RecordPosition {
  /** Kinesis sequence number (decimal string, see sequence.ts). */
  sequence: string;
  /** Index in the KPL aggregate; 0 for a record that is not an aggregate. */
  subIndex: number;
}

/**
 * Largest sub-index accepted: an aggregate is one Kinesis record (at most 10 MiB) and a
 * user record takes at least 4 bytes of it, so real indexes stay far below 2^32. Ten
 * digits also fix the width of the padded form.
 */
export const MAX_SUB_INDEX = 4_294_967_295;
const SUB_INDEX_WIDTH = 10;

export class InvalidRecordPositionError extends WindowpaneError {
  constructor(value: string, why: string) {
    super(`not a record position (${why}): "${value.slice(0, 160)}"`);
  }
}

export function position(sequence: string, subIndex = 0): RecordPosition {
  checkSequence(sequence);
  if (!Number.isInteger(subIndex) || subIndex < 0 || subIndex > MAX_SUB_INDEX) {
    throw new InvalidRecordPositionError(`${sequence}.${subIndex}`, `sub-index must be 0..${MAX_SUB_INDEX}`);
  }
  return { sequence, subIndex };
}

/** Order of two positions: by sequence number, then by sub-index. */
export function comparePosition(a: RecordPosition, b: RecordPosition): number {
  return compareSequence(a.sequence, b.sequence) || a.subIndex - b.subIndex;
}

/** `S` for sub-index 0, `S.k` otherwise (the form kept in a sensor's state). */
export function formatPosition(p: RecordPosition): string {
  return p.subIndex === 0 ? p.sequence : `${p.sequence}.${p.subIndex}`;
}

/** Reads what `formatPosition` wrote; a bare sequence number is sub-index 0. */
export function parsePosition(text: string): RecordPosition {
  const dot = text.indexOf('.');
  if (dot < 0) return position(checkedSequence(text, text));
  const sub = text.slice(dot + 1);
  // Canonical digits only, so one position has one spelling: "S.0" and "S.01" are refused.
  if (!/^[1-9]\d{0,9}$/.test(sub)) {
    throw new InvalidRecordPositionError(text, 'sub-index must be a positive decimal without leading zeros');
  }
  return position(checkedSequence(text.slice(0, dot), text), Number(sub));
}

/**
 * The fence: true when a record at `candidate` was already applied, given the last applied
 * position of its shard (undefined when nothing from that shard was applied yet).
 */
export function isAlreadyApplied(candidate: RecordPosition, lastApplied: string | undefined): boolean {
  return lastApplied !== undefined && isAppliedAt(candidate.sequence, candidate.subIndex, lastApplied);
}

/**
 * `isAlreadyApplied` for the fold's hot path, without a position object per record: a
 * fence kept as a bare sequence number (every sensor fed by plain records) is compared
 * without parsing.
 */
export function isAppliedAt(sequence: string, subIndex: number, lastApplied: string): boolean {
  if (lastApplied.indexOf('.') < 0) {
    const c = compareSequence(sequence, lastApplied);
    return c < 0 || (c === 0 && subIndex === 0);
  }
  return comparePosition({ sequence, subIndex }, parsePosition(lastApplied)) <= 0;
}

/**
 * Fixed-width form for a stored attribute: the padded sequence number (sequence.ts) and,
 * for a sub-index above 0, `.` and ten digits. Plain string order of padded forms is the
 * order of positions (a shorter equal prefix sorts first), and plain records keep the
 * padded form they have today.
 */
export function padPosition(p: RecordPosition): string {
  const seq = padSequence(p.sequence);
  return p.subIndex === 0 ? seq : `${seq}.${String(p.subIndex).padStart(SUB_INDEX_WIDTH, '0')}`;
}

function checkedSequence(sequence: string, whole: string): string {
  try {
    return checkSequence(sequence);
  } catch {
    throw new InvalidRecordPositionError(whole, 'sequence number must be 1-129 digits without leading zeros');
  }
}
