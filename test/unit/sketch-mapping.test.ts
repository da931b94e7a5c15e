/**
 * Percentiles (issue 17, clause drafted for SEMANTICS.md): the sketch's index
 * mapping. Every bucket spans a value ratio of at most gamma = (1 + alpha) / (1 - alpha),
 * holds the values that map to it, and is computed with exact arithmetic only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  approxLog2,
  bucketBounds,
  bucketIndex,
  lnGamma,
  multiplierFor,
} from '../../functions/domain/sketch/mapping.js';

const ACCURACIES = [0.0001, 0.001, 0.01, 0.02, 0.05, 0.1];

/** Any positive double from the smallest normal to the largest. */
const positiveNormal = fc.double({ min: 2.2250738585072014e-308, max: Number.MAX_VALUE, noNaN: true });

describe('Percentiles: the bucket of a value is computed from its bits with exact arithmetic', () => {
  it('ln(gamma) by series agrees with Math.log1p to a few ulps', () => {
    for (const alpha of ACCURACIES) {
      const exact = Math.log1p((2 * alpha) / (1 - alpha));
      expect(Math.abs(lnGamma(alpha) - exact) / exact).toBeLessThan(1e-15);
    }
  });

  it('f(v) is exact at powers of two and close to log2 between them', () => {
    for (const e of [-1074, -1022, -300, -1, 0, 1, 52, 1023]) expect(approxLog2(2 ** e)).toBe(e);
    fc.assert(
      fc.property(positiveNormal, (v) => {
        expect(Math.abs(approxLog2(v) - Math.log2(v))).toBeLessThan(0.012);
      }),
    );
  });

  it('f is non-decreasing in v (sampled pairs and neighbouring doubles)', () => {
    fc.assert(
      fc.property(positiveNormal, positiveNormal, (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(approxLog2(lo)).toBeLessThanOrEqual(approxLog2(hi));
      }),
    );
    for (const v of [1, 1.5, 1.999999, 3, 1e-90, 1e100]) {
      const next = v * (1 + Number.EPSILON);
      expect(approxLog2(v)).toBeLessThanOrEqual(approxLog2(next));
    }
  });

  it('maps subnormals too, in order below the smallest normal', () => {
    expect(approxLog2(5e-324)).toBe(-1074);
    expect(approxLog2(1e-310)).toBeLessThan(approxLog2(2.2250738585072014e-308));
  });
});

describe.each(ACCURACIES)('Percentiles: buckets at accuracy %s', (alpha) => {
  const multiplier = multiplierFor(alpha);
  const gamma = (1 + alpha) / (1 - alpha);

  it('every bucket spans a ratio of at most gamma and holds the values mapped to it', () => {
    fc.assert(
      fc.property(positiveNormal, (v) => {
        const { lo, hi } = bucketBounds(bucketIndex(v, multiplier), multiplier);
        expect(hi / lo).toBeLessThanOrEqual(gamma);
        // The edges come from an inverse computed in floating point: allow 1e-12.
        expect(v).toBeGreaterThan(lo * (1 - 1e-12));
        expect(v).toBeLessThanOrEqual(hi * (1 + 1e-12));
      }),
      { numRuns: 2_000 },
    );
  });

  it('adjacent buckets meet: the upper edge of one is the lower edge of the next', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Math.ceil(-1_000 * multiplier), max: Math.floor(1_000 * multiplier) }),
        (i) => {
          expect(bucketBounds(i, multiplier).hi).toBe(bucketBounds(i + 1, multiplier).lo);
        },
      ),
    );
  });

  it('the top bucket is capped at the largest double', () => {
    const top = bucketIndex(Number.MAX_VALUE, multiplier);
    expect(bucketBounds(top, multiplier).hi).toBe(Number.MAX_VALUE);
  });
});
