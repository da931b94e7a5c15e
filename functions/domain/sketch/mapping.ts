/**
 * The index mapping of windowpane's quantile sketch: which bucket a value falls in, and
 * the value range each bucket covers, for a relative accuracy alpha.
 *
 * DDSketch's logarithmic mapping puts v in bucket ceil(log_gamma(v)). Math.log is not
 * required to be correctly rounded, so a value at a bucket edge could land in different
 * buckets on different engines, and a window's sketch would then depend on where it was
 * folded. This mapping uses only +, -, *, / and the bits of the double, all exact or
 * correctly rounded in IEEE 754, so every engine (and a reference in another language)
 * computes the same bucket for the same value.
 *
 * It approximates log2 piecewise: for v = 2^e * (1 + m), m in [0, 1), f(v) = e + P(m) with
 * P(m) = A m^3 + B m^2 + C m (the cubic interpolation of DDSketch's
 * CubicallyInterpolatedMapping: P(0) = 0, P(1) = 1, P' > 0, so f is continuous and
 * increasing). Bucket i holds the values with ceil(f(v) * multiplier) = i. The slope of
 * ln(v) against f is at most 7/10 (the minimum of (1 + m) P'(m) is 10/7, at m = 0 and
 * m = 2/3), so a bucket spans a ratio hi/lo <= exp(0.7 / multiplier). With multiplier =
 * 0.7 / ln(gamma), gamma = (1 + alpha) / (1 - alpha), every bucket has hi/lo <= gamma, and
 * some value within alpha of every value in the bucket exists. It costs about 1 % more
 * buckets than the exact logarithm.
 */

const A = 6 / 35;
const B = -3 / 5;
const C = 10 / 7;

/**
 * Buckets are made narrower than the guarantee needs by this factor, so that the rounding
 * of f(v) * multiplier (a few ulps of numbers below 4e6, about 1e-12 relative in value)
 * can never put an estimate outside alpha: the margin is alpha * 1e-6 >= 1e-10.
 */
const MARGIN = 1 + 1e-6;

/** Scratch views of one double, for exact exponent and mantissa extraction. */
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
// Index of the 32-bit word holding sign, exponent and the top of the mantissa.
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

const TWO_64 = 2 ** 64;
const TWO_MINUS_64 = 2 ** -64;

/** ln((1 + a) / (1 - a)) = 2 atanh(a) by its series: exact operations only, so portable. */
export function lnGamma(alpha: number): number {
  const a2 = alpha * alpha;
  let term = alpha;
  let sum = 0;
  for (let k = 1; k < 200; k += 2) {
    const next = sum + term / k;
    if (next === sum) break;
    sum = next;
    term *= a2;
  }
  return 2 * sum;
}

/** Bucket multiplier for relative accuracy alpha (see the header and MARGIN). */
export function multiplierFor(alpha: number): number {
  return (0.7 * MARGIN) / lnGamma(alpha);
}

/**
 * f(v) = e + P(m) for a positive finite v: exact exponent and mantissa from the bits.
 * Subnormals are scaled into the normal range first, so f is defined for every v > 0.
 */
export function approxLog2(v: number): number {
  let shift = 0;
  if (v < 2.2250738585072014e-308) {
    v *= TWO_64;
    shift = 64;
  }
  f64[0] = v;
  const hi = u32[HI]!;
  const e = (hi >>> 20) - 1023 - shift;
  u32[HI] = (hi & 0x000fffff) | 0x3ff00000;
  const m = f64[0]! - 1;
  return e + ((A * m + B) * m + C) * m;
}

/** The bucket index of a positive finite value. */
export function bucketIndex(v: number, multiplier: number): number {
  return Math.ceil(approxLog2(v) * multiplier);
}

/** 2^e for an integer e, built exactly (Infinity above the double range). */
function pow2(e: number): number {
  if (e > 1023) return Number.POSITIVE_INFINITY;
  if (e < -1022) return pow2(e + 64) * TWO_MINUS_64;
  u32[HI] = (e + 1023) << 20;
  u32[1 - HI] = 0;
  return f64[0]!;
}

/** The inverse of f: the v > 0 with f(v) = y (Newton on P, fixed steps, so deterministic). */
function inverseApproxLog2(y: number): number {
  const e = Math.floor(y);
  const t = y - e;
  // P is increasing and concave on [0, 1] with P(m) >= m, so Newton from m = t lands left
  // of the root on its first step and then climbs to it quadratically.
  let m = t;
  for (let i = 0; i < 8; i++) {
    const p = ((A * m + B) * m + C) * m - t;
    const dp = (3 * A * m + 2 * B) * m + C;
    m -= p / dp;
  }
  if (m < 0) m = 0;
  if (m > 1) m = 1;
  return (1 + m) * pow2(e);
}

/** The values of bucket `index`: lo < v <= hi (up to rounding at the edges), hi finite. */
export function bucketBounds(index: number, multiplier: number): { lo: number; hi: number } {
  const lo = inverseApproxLog2((index - 1) / multiplier);
  const hi = inverseApproxLog2(index / multiplier);
  return { lo, hi: Math.min(hi, Number.MAX_VALUE) };
}
