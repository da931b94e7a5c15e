/**
 * Per (sensor, metric, window) aggregates whose results do not depend on the order the
 * values arrived in.
 *
 * Floating-point addition is not associative, so a running `sum += v` (or Welford's
 * running mean) gives different last digits for different arrival orders, and
 * SEMANTICS.md promises order-independent results. Sums are therefore kept exactly, as
 * Shewchuk's non-overlapping partials (the algorithm behind Python's `math.fsum`), and
 * rounded once when a summary is taken: the summary is the correctly rounded value of
 * the exact sum, the same for every order. Squares are split exactly (Dekker's
 * product), so the variance also comes from exact sums.
 *
 * The numeric domain of metric values (docs/SEMANTICS.md, "Reading") is chosen so that
 * none of this can overflow, underflow or fail a write: a value is 0 or has a magnitude in
 * [MIN_METRIC_MAGNITUDE, MAX_METRIC_MAGNITUDE]. For any window of fewer than 2^53 values
 * (the most a count can hold exactly):
 * - |sum| <= 2^53 * 1e100 < 1e116 and n*Σx² <= 2^106 * 1e200 < 1e232: finite doubles, and
 *   within DynamoDB's largest magnitude (< 1e126);
 * - an exact sum of doubles is a multiple of the smallest ulp among them, ulp(1e-90) >
 *   2^-352, so a nonzero sum exceeds 2^-352 and a nonzero mean exceeds 2^-405 > 1e-122;
 *   n*Σx² - (Σx)² = Σ(xi - xj)² exceeds 2^-704 when nonzero, so a nonzero stddev exceeds
 *   2^-405 too: all within DynamoDB's smallest magnitude (1e-130), and every Dekker error
 *   term stays a normal double, so the products are exact;
 * - doubles have at most 17 significant digits (DynamoDB keeps 38), so each number is
 *   stored exactly once the document client writes doubles as they are (functions/lib/clients.ts).
 *
 * With percentiles configured, an aggregate also keeps a quantile sketch (./sketch/),
 * whose buckets are a function of the multiset of values too, so percentiles are as
 * order-free as the sums.
 */
import { percentiles } from './sketch/estimate.js';
import { addToSketch, mergeSketches, type QuantileSketch } from './sketch/sketch.js';
import { cloneStorableSketch, storable } from './sketch/stored.js';

/** The largest magnitude of a metric value (see the header). */
export const MAX_METRIC_MAGNITUDE = 1e100;
/** The smallest nonzero magnitude of a metric value; tinier values (subnormals) are refused. */
export const MIN_METRIC_MAGNITUDE = 1e-90;

/** True when `value` is in the numeric domain: 0 (or -0), or a magnitude in [1e-90, 1e100]. */
export function isMetricValue(value: number): boolean {
  const magnitude = Math.abs(value);
  return magnitude === 0 || (magnitude >= MIN_METRIC_MAGNITUDE && magnitude <= MAX_METRIC_MAGNITUDE);
}

export interface Aggregate {
  count: number;
  /** Exact sum of the values as non-overlapping partials, smallest magnitude first. */
  sum: number[];
  min: number;
  max: number;
  /** Exact sum of squares as partials; present when stddev is enabled. */
  sq?: number[];
  /**
   * Quantile sketch of the values; present when the metric has percentiles configured
   * (from the window's first value on: it always holds exactly `count` values).
   */
  q?: QuantileSketch;
}

export interface AggregateSummary {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  /** Sample standard deviation (n - 1); null below two values or when disabled. */
  stddev?: number | null;
  /** Percentile estimates (`p50`, `p99_9`), when configured: docs/SEMANTICS.md "Windows". */
  [percentile: `p${string}`]: number | null;
}

export function emptyAggregate(withSquares: boolean): Aggregate {
  return withSquares
    ? { count: 0, sum: [], min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, sq: [] }
    : { count: 0, sum: [], min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY };
}

/** Adds `x` exactly to the partials (Shewchuk's grow-expansion with zero elimination). */
export function addExact(partials: number[], x: number): void {
  let i = 0;
  for (let j = 0; j < partials.length; j++) {
    let y = partials[j]!;
    if (Math.abs(x) < Math.abs(y)) {
      const t = x;
      x = y;
      y = t;
    }
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) partials[i++] = lo;
    x = hi;
  }
  // As `length = i; push(x)`, without resizing when the count is unchanged (the usual case).
  if (i === partials.length) partials.push(x);
  else {
    partials[i] = x;
    if (partials.length !== i + 1) partials.length = i + 1;
  }
}

/** The correctly rounded value of the exact sum held by the partials. */
export function roundExact(partials: readonly number[]): number {
  let n = partials.length;
  if (n === 0) return 0;
  let hi = partials[--n]!;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = partials[--n]!;
    hi = x + y;
    const yr = hi - x;
    lo = y - yr;
    if (lo !== 0) break;
  }
  // Half-way case: make the rounding of hi + lo honour the rest of the partials.
  if (n > 0 && ((lo < 0 && (partials[n - 1] ?? 0) < 0) || (lo > 0 && (partials[n - 1] ?? 0) > 0))) {
    const y = lo * 2;
    const x = hi + y;
    const yr = x - hi;
    if (y === yr) hi = x;
  }
  return hi;
}

const SPLITTER = 134_217_729; // 2^27 + 1, Veltkamp's split for doubles

/** Adds a*b exactly: the rounded product plus its exact rounding error (Dekker). */
function addProductExact(partials: number[], a: number, b: number): void {
  const p = a * b;
  const c = SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  const d = SPLITTER * b;
  const bh = d - (d - b);
  const bl = b - bh;
  const err = al * bl - (p - ah * bh - al * bh - ah * bl);
  addExact(partials, p);
  if (err !== 0) addExact(partials, err);
}

/** Folds one value in; `value` is in the numeric domain. Mutates `agg` (callers own a private copy). */
export function addValue(agg: Aggregate, value: number): void {
  // -0 and 0 are the same reading; without this, min/max would keep whichever came first.
  const v = value === 0 ? 0 : value;
  agg.count += 1;
  addExact(agg.sum, v);
  if (v < agg.min) agg.min = v;
  if (v > agg.max) agg.max = v;
  if (agg.sq) addProductExact(agg.sq, v, v);
  if (agg.q) addToSketch(agg.q, v);
}

/** A copy sharing nothing mutable with `a` (copy-on-write folds; hand written for speed). */
export function cloneAggregate(a: Aggregate): Aggregate {
  const copy: Aggregate = a.sq
    ? { count: a.count, sum: a.sum.slice(), min: a.min, max: a.max, sq: a.sq.slice() }
    : { count: a.count, sum: a.sum.slice(), min: a.min, max: a.max };
  if (a.q) copy.q = cloneStorableSketch(a.q);
  return copy;
}

/**
 * The summary of a final window's aggregate; `quantiles` (ascending) are the metric's
 * configured percentiles, estimated when the aggregate kept a sketch.
 */
export function summarize(agg: Aggregate, quantiles?: readonly number[]): AggregateSummary {
  const sum = roundExact(agg.sum);
  const mean = agg.count > 0 ? sum / agg.count : 0;
  const summary: AggregateSummary = { count: agg.count, sum, min: agg.min, max: agg.max, mean };
  if (agg.sq) {
    if (agg.count < 2) {
      summary.stddev = null;
    } else {
      // n*Σx² - (Σx)² from exact partials: no catastrophic cancellation, order-independent.
      const num: number[] = [];
      for (const q of agg.sq) addProductExact(num, q, agg.count);
      for (const a of agg.sum) for (const b of agg.sum) addProductExact(num, -a, b);
      const variance = Math.max(0, roundExact(num)) / (agg.count * (agg.count - 1));
      summary.stddev = Math.sqrt(variance);
    }
  }
  if (agg.q && quantiles)
    Object.assign(summary, percentiles(agg.q, quantiles, { min: agg.min, max: agg.max }));
  return summary;
}

/** Adds everything `from` holds into `into` (session merges); exact, so order-free. */
export function mergeAggregate(into: Aggregate, from: Aggregate): void {
  into.count += from.count;
  for (const p of from.sum) addExact(into.sum, p);
  if (from.min < into.min) into.min = from.min;
  if (from.max > into.max) into.max = from.max;
  if (into.sq && from.sq) for (const q of from.sq) addExact(into.sq, q);
  mergeSketchInto(into, from);
}

/**
 * `into.q` becomes the sketch of both value sets. An empty `into` takes a copy of `from`'s
 * sketch, so a session keeps the accuracy its readings were bucketed with across a change
 * of configuration. Where no sketch can hold both (`from` kept none, or was bucketed at
 * another accuracy), `into` keeps none: the window then reports no percentiles, rather
 * than percentiles of some of its values.
 */
function mergeSketchInto(into: Aggregate, from: Aggregate): void {
  if (!into.q || from.count === 0) return;
  if (!from.q) {
    delete into.q;
  } else if (into.q.keys.length === 0) {
    into.q = cloneStorableSketch(from.q);
  } else if (into.q.spec.accuracyPpm !== from.q.spec.accuracyPpm) {
    delete into.q;
  } else {
    into.q = storable(mergeSketches(into.q, from.q));
  }
}
