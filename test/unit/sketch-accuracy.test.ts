/**
 * Percentiles (issue 17, clause drafted for SEMANTICS.md): the estimate of quantile
 * q is within alpha (relative) of the exact nearest-rank percentile of the same values,
 * exactly 0 when that value is 0, and a short decimal; only quantiles in collapsed
 * buckets may be above it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketEstimate,
  nearestRank,
  percentileName,
  percentiles,
  quantile,
} from '../../functions/domain/sketch/estimate.js';
import {
  bucketId,
  newSketch,
  SketchConfigError,
  SketchValueError,
  sketchSpec,
} from '../../functions/domain/sketch/sketch.js';
import { domainValue, sensorValue, sketchOf } from './sketch-values.js';

fc.configureGlobal({ interruptAfterTimeLimit: 20_000 });

const QUANTILES = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

/** The exact nearest-rank percentile: the k-th smallest value, k = max(1, ceil(q * n)). */
function exactPercentile(sorted: readonly number[], q: number): number {
  // Written out rather than calling nearestRank, so that the property checks it too.
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

function ascending(values: readonly number[]): number[] {
  return values.map((v) => (v === 0 ? 0 : v)).sort((a, b) => a - b);
}

function withinAlpha(estimate: number | null, exact: number, alpha: number): boolean {
  if (estimate === null) return false;
  if (exact === 0) return Object.is(estimate, 0);
  return Math.abs(estimate - exact) <= alpha * Math.abs(exact);
}

function significantDigits(v: number): number {
  const [mantissa] = Math.abs(v).toExponential().split('e');
  return mantissa!.replace('.', '').length;
}

const quantileArb = fc.oneof(fc.constantFrom(...QUANTILES), fc.double({ min: 0, max: 1, noNaN: true }));

describe.each([0.01, 0.0001, 0.05, 0.1])(
  'Percentiles: estimates at accuracy %s are within alpha',
  (alpha) => {
    // 2048 buckets never collapse these (at most 200 values, so at most 200 buckets).
    const spec = sketchSpec({ accuracy: alpha, maxBuckets: 2048 });
    const values = (value: fc.Arbitrary<number>) =>
      fc.array(value, { minLength: 1, maxLength: 200, size: 'max' });

    it.each([
      { name: 'sensor-like values', value: sensorValue },
      { name: 'values over the numeric domain, negatives and zero included', value: domainValue },
    ])('of the exact nearest-rank percentile ($name)', ({ value }) => {
      fc.assert(
        fc.property(values(value), fc.array(quantileArb, { minLength: 1, maxLength: 12 }), (vs, qs) => {
          const s = sketchOf(vs, spec);
          const sorted = ascending(vs);
          const range = { min: sorted[0]!, max: sorted[sorted.length - 1]! };
          return qs.every((q) => {
            const exact = exactPercentile(sorted, q);
            const clamped = quantile(s, q, range);
            return (
              withinAlpha(quantile(s, q), exact, alpha) &&
              withinAlpha(clamped, exact, alpha) &&
              clamped! >= range.min &&
              clamped! <= range.max
            );
          });
        }),
      );
    });

    it('as a decimal of at most 1 + ceil(log10(6 / alpha)) significant digits', () => {
      const most = 1 + Math.ceil(Math.log10(6 / alpha));
      fc.assert(
        fc.property(domainValue, (v) => significantDigits(bucketEstimate(bucketId(v, spec), spec)) <= most),
      );
    });

    it('at the numeric domain bounds and beyond, to the largest double', () => {
      for (const v of [1e100, -1e100, 1e-90, -1e-90, 1e-100, -1e-100, Number.MAX_VALUE, -Number.MAX_VALUE]) {
        for (const q of QUANTILES) expect(withinAlpha(quantile(sketchOf([v], spec), q), v, alpha)).toBe(true);
      }
      expect(withinAlpha(quantile(sketchOf([1e100, 1e-100, -1e100], spec), 0.5), 1e-100, alpha)).toBe(true);
    });
  },
);

describe('Percentiles: the estimator on small windows', () => {
  const spec = sketchSpec();

  it('an empty sketch has no percentiles (null)', () => {
    expect(quantile(newSketch(spec), 0.5)).toBeNull();
    expect(percentiles(newSketch(spec), [0.5, 0.99])).toEqual({ p50: null, p99: null });
  });

  it('one value: every percentile within alpha, and the value itself when clamped to [min, max]', () => {
    const s = sketchOf([21.37], spec);
    for (const q of QUANTILES) {
      expect(withinAlpha(quantile(s, q), 21.37, 0.01)).toBe(true);
      expect(quantile(s, q, { min: 21.37, max: 21.37 })).toBe(21.37);
    }
  });

  it('zero is exactly 0 (never -0), between the negatives and the positives', () => {
    const s = sketchOf([-0, 0, -5, 5, 0], spec);
    expect(Object.is(quantile(s, 0.5), 0)).toBe(true);
    expect(quantile(s, 0)).toBeLessThan(0);
    expect(quantile(s, 1)).toBeGreaterThan(0);
  });

  it('uses the nearest rank, k = max(1, ceil(q * n)) in binary64, with no interpolation', () => {
    expect([0, 0.1, 0.5, 0.9, 0.95, 1].map((q) => nearestRank(q, 10))).toEqual([1, 1, 5, 9, 10, 10]);
    expect([0.29, 0.95, 0.99].map((q) => nearestRank(q, 100))).toEqual([29, 95, 99]);
    expect(nearestRank(0.99, 60)).toBe(60);
    // Ten values far apart: each percentile is the estimate of one of them, never between.
    const values = Array.from({ length: 10 }, (_, i) => 10 ** i);
    const s = sketchOf(values, sketchSpec({ accuracy: 0.0001 }));
    expect(quantile(s, 0.5)).toBeCloseTo(1e4, -1);
    expect(quantile(s, 0.51)).toBeCloseTo(1e5, -2);
  });

  it('refuses a quantile outside [0, 1]', () => {
    for (const q of [-0.1, 1.5, Number.NaN]) {
      expect(() => quantile(sketchOf([1], spec), q)).toThrow(SketchValueError);
    }
  });
});

describe('Percentiles: with the bucket limit reached, only the collapsed low tail may be overestimated', () => {
  const spec = sketchSpec({ accuracy: 0.01, maxBuckets: 16 });

  it('quantiles above the lowest kept bucket are within alpha; the others are never underestimated', () => {
    fc.assert(
      fc.property(
        fc.array(domainValue, { minLength: 1, maxLength: 200, size: 'max' }),
        quantileArb,
        (vs, q) => {
          const s = sketchOf(vs, spec);
          const sorted = ascending(vs);
          const exact = exactPercentile(sorted, q);
          const estimate = quantile(s, q)!;
          if (bucketId(exact, spec) > s.keys[0]!) return withinAlpha(estimate, exact, 0.01);
          return estimate >= exact - 0.01 * Math.abs(exact);
        },
      ),
    );
  });
});

describe('Percentiles: configuration of the sketch and names of the outputs', () => {
  it('names percentiles p50, p99_9, p100', () => {
    expect([0, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.0001, 1].map(percentileName)).toEqual([
      'p0',
      'p50',
      'p90',
      'p99',
      'p99_9',
      'p99_99',
      'p0_01',
      'p100',
    ]);
    expect(() => percentileName(0.123_456_7)).toThrow(SketchConfigError);
  });

  it.each([
    [{ accuracy: 0 }, 'percentileAccuracy must be from 0.0001 to 0.1, got 0'],
    [{ accuracy: 0.5 }, 'percentileAccuracy must be from 0.0001 to 0.1, got 0.5'],
    [{ accuracy: 0.012_345_6 }, 'percentileAccuracy must be a multiple of 0.000001'],
    [{ maxBuckets: 8 }, 'percentileMaxBuckets must be an integer from 16 to 2048, got 8'],
    [{ maxBuckets: 100.5 }, 'percentileMaxBuckets must be an integer from 16 to 2048, got 100.5'],
  ])('refuses %o, naming the key', (options, message) => {
    expect(() => sketchSpec(options)).toThrow(SketchConfigError);
    expect(() => sketchSpec(options)).toThrow(message);
  });

  it('gives the same spec object for the same settings (defaults: 0.01, 128 buckets)', () => {
    expect(sketchSpec({ accuracy: 0.01, maxBuckets: 128 })).toBe(sketchSpec());
    expect(sketchSpec()).toMatchObject({ accuracy: 0.01, accuracyPpm: 10_000, maxBuckets: 128 });
  });
});
