/**
 * A mergeable quantile sketch (DDSketch's design) whose state is a function of the
 * multiset of values folded in: any arrival order, and any split into sketches merged
 * later, gives the same buckets, bit for bit.
 *
 * Every value has a bucket id on one integer line ordered like the values: 0 for zero,
 * +(index + KEY_OFFSET) for a positive value, -(index + KEY_OFFSET) for a negative one
 * (index from ./mapping.ts, of |v|). The sketch is the sorted list of non-empty bucket ids
 * with their counts. At most `maxBuckets` are kept: beyond that, the lowest buckets are
 * added into the lowest one kept. Whatever the order, the result is the same: the
 * maxBuckets - 1 highest ids exact, and the maxBuckets-th highest holding every count at or
 * below it (the threshold only ever rises, so collapsing early or late lands in the same
 * bucket; the same holds for a merge, whose threshold is that of the union).
 *
 * This is why the sketch was written here rather than taken from @datadog/sketches-js
 * 2.1.1 (issue 17): its merge ignores the negative store (its own issue 22), its
 * collapsing store double-counts the bin at the collapse boundary (so bucket counts
 * depend on arrival order), and its protobuf form is over 1 KB for one value.
 */
import { WindowpaneError } from '../errors.js';
import { bucketIndex, multiplierFor } from './mapping.js';

/** Bucket ids of positive values start above this; |index| < 3.8e6 for every double at alpha >= 1e-4. */
export const KEY_OFFSET = 2 ** 22;

export const DEFAULT_ACCURACY = 0.01;
export const DEFAULT_MAX_BUCKETS = 128;
export const MIN_ACCURACY = 0.0001;
export const MAX_ACCURACY = 0.1;
export const MIN_BUCKETS = 16;
export const MAX_BUCKETS = 2048;

/**
 * Buckets are built for 0.9 alpha, not alpha: the 0.1 alpha left over is room for the
 * estimate to be a short decimal (./estimate.ts), at most 1 + ceil(log10(6 / alpha))
 * significant digits (4 at 1 %), for about 11 % more buckets.
 */
export const BUCKET_SHARE = 0.9;

/** Accuracy and bucket limit, with the mapping's multiplier computed once. */
export interface SketchSpec {
  /** The relative accuracy alpha (a multiple of 1e-6). */
  readonly accuracy: number;
  /** alpha in millionths: what the encoding carries. */
  readonly accuracyPpm: number;
  readonly maxBuckets: number;
  readonly multiplier: number;
}

export interface QuantileSketch {
  readonly spec: SketchSpec;
  /** Non-empty bucket ids, ascending. */
  keys: number[];
  /** counts[i] values fell in (or were collapsed into) keys[i]; every count >= 1. */
  counts: number[];
}

export class SketchConfigError extends WindowpaneError {}
export class SketchMergeError extends WindowpaneError {}
export class SketchValueError extends WindowpaneError {}

const specs = new Map<string, SketchSpec>();

/**
 * The spec for an accuracy and bucket limit, validated; the same object for the same
 * arguments, so specs compare by identity.
 */
export function sketchSpec(options: { accuracy?: number; maxBuckets?: number } = {}): SketchSpec {
  const accuracy = options.accuracy ?? DEFAULT_ACCURACY;
  const maxBuckets = options.maxBuckets ?? DEFAULT_MAX_BUCKETS;
  if (!(accuracy >= MIN_ACCURACY && accuracy <= MAX_ACCURACY)) {
    throw new SketchConfigError(
      `percentileAccuracy must be from ${MIN_ACCURACY} to ${MAX_ACCURACY}, got ${accuracy}`,
    );
  }
  const accuracyPpm = Math.round(accuracy * 1e6);
  if (accuracyPpm / 1e6 !== accuracy) {
    throw new SketchConfigError(`percentileAccuracy must be a multiple of 0.000001, got ${accuracy}`);
  }
  if (!Number.isInteger(maxBuckets) || maxBuckets < MIN_BUCKETS || maxBuckets > MAX_BUCKETS) {
    throw new SketchConfigError(
      `percentileMaxBuckets must be an integer from ${MIN_BUCKETS} to ${MAX_BUCKETS}, got ${maxBuckets}`,
    );
  }
  const id = `${accuracyPpm}/${maxBuckets}`;
  let spec = specs.get(id);
  if (spec === undefined) {
    spec = Object.freeze({
      accuracy,
      accuracyPpm,
      maxBuckets,
      multiplier: multiplierFor(accuracy * BUCKET_SHARE),
    });
    specs.set(id, spec);
  }
  return spec;
}

export function newSketch(spec: SketchSpec): QuantileSketch {
  return { spec, keys: [], counts: [] };
}

/** A copy that shares nothing mutable with `sketch` (for copy-on-write folds). */
export function cloneSketch(sketch: QuantileSketch): QuantileSketch {
  return { spec: sketch.spec, keys: sketch.keys.slice(), counts: sketch.counts.slice() };
}

/** The bucket id of a finite value under `spec` (see the header). */
export function bucketId(value: number, spec: SketchSpec): number {
  if (value > 0) return bucketIndex(value, spec.multiplier) + KEY_OFFSET;
  if (value < 0) return -(bucketIndex(-value, spec.multiplier) + KEY_OFFSET);
  return 0;
}

/** Number of values folded in. */
export function sketchCount(sketch: QuantileSketch): number {
  let n = 0;
  for (const c of sketch.counts) n += c;
  return n;
}

/** Folds one finite value in. Mutates `sketch`. */
export function addToSketch(sketch: QuantileSketch, value: number): void {
  if (!Number.isFinite(value)) throw new SketchValueError(`a sketch takes finite values, got ${value}`);
  const id = bucketId(value, sketch.spec);
  const { keys, counts } = sketch;
  // Binary search: the first position whose id is >= id.
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  if (keys[lo] === id) {
    counts[lo]! += 1;
    return;
  }
  if (lo === 0 && keys.length === sketch.spec.maxBuckets) {
    // Below the lowest bucket kept while full: it would be collapsed straight into it.
    counts[0]! += 1;
    return;
  }
  keys.splice(lo, 0, id);
  counts.splice(lo, 0, 1);
  if (keys.length > sketch.spec.maxBuckets) collapse(sketch, sketch.spec.maxBuckets);
}

/**
 * The sketch of the union of the values of `a` and `b` (session merges); neither is
 * changed. Both must have the same accuracy; the smaller bucket limit of the two applies,
 * so the merge is commutative even across a change of configuration.
 */
export function mergeSketches(a: QuantileSketch, b: QuantileSketch): QuantileSketch {
  if (a.spec.accuracyPpm !== b.spec.accuracyPpm) {
    throw new SketchMergeError(`cannot merge sketches of accuracy ${a.spec.accuracy} and ${b.spec.accuracy}`);
  }
  const spec = a.spec.maxBuckets <= b.spec.maxBuckets ? a.spec : b.spec;
  const keys: number[] = [];
  const counts: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.keys.length || j < b.keys.length) {
    const ka = i < a.keys.length ? a.keys[i]! : Number.POSITIVE_INFINITY;
    const kb = j < b.keys.length ? b.keys[j]! : Number.POSITIVE_INFINITY;
    if (ka < kb) {
      keys.push(ka);
      counts.push(a.counts[i++]!);
    } else if (kb < ka) {
      keys.push(kb);
      counts.push(b.counts[j++]!);
    } else {
      keys.push(ka);
      counts.push(a.counts[i++]! + b.counts[j++]!);
    }
  }
  const merged: QuantileSketch = { spec, keys, counts };
  if (keys.length > spec.maxBuckets) collapse(merged, spec.maxBuckets);
  return merged;
}

/** Adds the lowest buckets into the lowest one of the `limit` highest. */
function collapse(sketch: QuantileSketch, limit: number): void {
  const excess = sketch.keys.length - limit;
  let moved = 0;
  for (let i = 0; i < excess; i++) moved += sketch.counts[i]!;
  sketch.counts[excess]! += moved;
  sketch.keys.splice(0, excess);
  sketch.counts.splice(0, excess);
}
