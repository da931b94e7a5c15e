/**
 * The quantile estimator of the sketch, as the percentiles clause of the contract (issue 17,
 * for docs/SEMANTICS.md "Windows") states it:
 *
 * - rank: nearest rank, k = max(1, ceil(q * n)) with q * n the binary64 product, so q = 0
 *   is the smallest value, q = 1 the largest, and no interpolation between values;
 * - bucket: the one where the running count, from the lowest bucket up, first reaches k,
 *   i.e. the bucket of the k-th smallest value;
 * - value: the decimal with the fewest significant digits that is within alpha of every
 *   value the bucket can hold, then clamped to the window's [min, max] when given.
 *
 * The estimate is therefore within alpha (relative) of the exact k-th smallest value,
 * and exactly 0 when that value is 0, for every quantile whose bucket was not collapsed.
 */
import { bucketBounds } from './mapping.js';
import {
  KEY_OFFSET,
  type QuantileSketch,
  SketchConfigError,
  type SketchSpec,
  SketchValueError,
} from './sketch.js';

/**
 * The feasible interval is taken for a hair less than alpha, so that a value rounded to
 * the far side of a bucket edge (1e-12 relative at most) is still within alpha.
 */
const FEASIBLE = 1 - 1e-7;

export interface ValueRange {
  min: number;
  max: number;
}

/** The 1-based nearest rank of quantile `q` among `n` values. */
export function nearestRank(q: number, n: number): number {
  return Math.max(1, Math.ceil(q * n));
}

/**
 * The estimate for every value of bucket `id`: the shortest decimal c with
 * hi * (1 - alpha') <= c <= lo * (1 + alpha'), which is within alpha' of every v in (lo, hi].
 */
export function bucketEstimate(id: number, spec: SketchSpec): number {
  if (id === 0) return 0;
  const sign = id < 0 ? -1 : 1;
  const { lo, hi } = bucketBounds(sign * id - KEY_OFFSET, spec.multiplier);
  const alpha = spec.accuracy * FEASIBLE;
  const low = hi * (1 - alpha);
  // No value exceeds the largest double, and an estimate must not either.
  const high = Math.min(lo * (1 + alpha), Number.MAX_VALUE);
  const mid = low / 2 + high / 2;
  for (let digits = 1; digits <= 17; digits++) {
    const c = Number(mid.toPrecision(digits));
    if (c >= low && c <= high) return sign * c;
  }
  return sign * mid;
}

function checkQuantile(q: number): void {
  if (!(q >= 0 && q <= 1)) throw new SketchValueError(`a quantile is from 0 to 1, got ${q}`);
}

/**
 * The estimate of quantile `q` (see the header), or null for an empty sketch. `range`,
 * the exact min and max of the same values, keeps estimates inside what was seen.
 */
export function quantile(sketch: QuantileSketch, q: number, range?: ValueRange): number | null {
  checkQuantile(q);
  let n = 0;
  for (const c of sketch.counts) n += c;
  if (n === 0) return null;
  const k = nearestRank(q, n);
  let seen = 0;
  let i = 0;
  while (i < sketch.counts.length - 1) {
    seen += sketch.counts[i]!;
    if (seen >= k) break;
    i++;
  }
  const estimate = bucketEstimate(sketch.keys[i]!, sketch.spec);
  if (range === undefined) return estimate;
  return Math.min(Math.max(estimate, range.min), range.max);
}

/**
 * The output field of quantile `q`: `p` and the percentage, `_` for its decimal point
 * (0.5 -> p50, 0.999 -> p99_9, 1 -> p100). At most four decimals of a percent.
 */
export function percentileName(q: number): string {
  checkQuantile(q);
  const micro = Math.round(q * 1e6);
  if (micro / 1e6 !== q) {
    throw new SketchConfigError(
      `a percentile has at most 4 decimals of a percent (6 of a quantile), got ${q}`,
    );
  }
  return `p${String(micro / 1e4).replace('.', '_')}`;
}

/** `{ p50: ..., p90: ... }` for the quantiles `qs`, each as `quantile` gives it. */
export function percentiles(
  sketch: QuantileSketch,
  qs: readonly number[],
  range?: ValueRange,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const q of qs) out[percentileName(q)] = quantile(sketch, q, range);
  return out;
}
