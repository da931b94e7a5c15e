/**
 * Percentiles (issue 17, clause drafted for SEMANTICS.md): a window's sketch is a
 * function of the multiset of its values. Any arrival order, and any split into sketches
 * merged later (sessions), gives the same buckets, including when the bucket limit
 * collapses the lowest buckets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addToSketch,
  bucketId,
  cloneSketch,
  mergeSketches,
  newSketch,
  type QuantileSketch,
  SketchMergeError,
  SketchValueError,
  sketchCount,
  sketchSpec,
} from '../../functions/domain/sketch/sketch.js';
import { domainValue, sensorValue, sketchOf } from './sketch-values.js';

// A failure still fails; this only bounds the shrinking, minutes on a loaded machine.
fc.configureGlobal({ interruptAfterTimeLimit: 20_000 });

const WIDE = sketchSpec({ accuracy: 0.01, maxBuckets: 2048 });
/** The smallest limit: values spread over the numeric domain collapse almost always. */
const TIGHT = sketchSpec({ accuracy: 0.01, maxBuckets: 16 });
const FINE = sketchSpec({ accuracy: 0.0001, maxBuckets: 64 });

function state(s: QuantileSketch) {
  return { spec: s.spec, keys: s.keys, counts: s.counts };
}

/**
 * Same spec, same buckets, same counts. A boolean, not an expect: a failing expect
 * formats a diff on every shrinking step, which takes minutes on a loaded machine.
 */
function same(a: QuantileSketch, b: QuantileSketch): boolean {
  return a.spec === b.spec && JSON.stringify([a.keys, a.counts]) === JSON.stringify([b.keys, b.counts]);
}

/** A list of values and a permutation of it (sorted by random keys: shrinks well). */
const permuted = (value: fc.Arbitrary<number>) =>
  fc.array(fc.tuple(value, fc.nat()), { maxLength: 200, size: 'max' }).map((pairs) => {
    const values = pairs.map(([v]) => v);
    const shuffled = [...pairs].sort((x, y) => x[1] - y[1]).map(([v]) => v);
    return [values, shuffled] as const;
  });

/** A list of values cut into parts (each value goes to one part). */
const partitioned = (value: fc.Arbitrary<number>) =>
  fc.array(fc.tuple(value, fc.nat({ max: 4 })), { maxLength: 200, size: 'max' }).map((pairs) => {
    const parts: number[][] = [[], [], [], [], []];
    for (const [v, p] of pairs) parts[p]!.push(v);
    return { all: pairs.map(([v]) => v), parts };
  });

describe.each([
  { name: 'sensor-like values, no collapse', spec: WIDE, value: sensorValue },
  { name: 'values over the whole numeric domain, no collapse', spec: WIDE, value: domainValue },
  { name: 'values over the whole numeric domain, collapsing at 16 buckets', spec: TIGHT, value: domainValue },
  { name: 'sensor-like values at accuracy 1e-4, collapsing at 64 buckets', spec: FINE, value: sensorValue },
])('Percentiles: the sketch does not depend on arrival order ($name)', ({ spec, value }) => {
  it('any permutation of the values gives the same buckets and counts', () => {
    fc.assert(
      fc.property(permuted(value), ([a, b]) => {
        return same(sketchOf(b, spec), sketchOf(a, spec));
      }),
    );
  });

  it('merge(sketch(A), sketch(B)) equals sketch(A ∪ B), in either order', () => {
    fc.assert(
      fc.property(partitioned(value), ({ all, parts }) => {
        const whole = sketchOf(all, spec);
        const [a, b] = [sketchOf(parts[0]!, spec), sketchOf(parts.slice(1).flat(), spec)];
        return same(mergeSketches(a, b), whole) && same(mergeSketches(b, a), whole);
      }),
    );
  });

  it('merging many parts in any shape equals the sketch of all the values', () => {
    fc.assert(
      fc.property(partitioned(value), ({ all, parts }) => {
        const whole = sketchOf(all, spec);
        const sketches = parts.map((p) => sketchOf(p, spec));
        const leftFold = sketches.reduce((acc, s) => mergeSketches(acc, s));
        const rightFold = sketches.reduceRight((acc, s) => mergeSketches(s, acc));
        const pairwise = mergeSketches(
          mergeSketches(sketches[0]!, sketches[3]!),
          mergeSketches(mergeSketches(sketches[4]!, sketches[1]!), sketches[2]!),
        );
        return same(leftFold, whole) && same(rightFold, whole) && same(pairwise, whole);
      }),
    );
  });

  it('adding values after a merge equals adding them before it', () => {
    fc.assert(
      fc.property(partitioned(value), ({ all, parts }) => {
        const merged = mergeSketches(sketchOf(parts[0]!, spec), sketchOf(parts[1]!, spec));
        for (const v of parts.slice(2).flat()) addToSketch(merged, v);
        return same(merged, sketchOf(all, spec));
      }),
    );
  });
});

describe('Percentiles: the bucket limit keeps the highest buckets and collapses the rest into the lowest kept', () => {
  it('keeps at most maxBuckets buckets and every value is counted', () => {
    fc.assert(
      fc.property(fc.array(domainValue, { maxLength: 200, size: 'max' }), (values) => {
        const s = sketchOf(values, TIGHT);
        return s.keys.length <= TIGHT.maxBuckets && sketchCount(s) === values.length;
      }),
    );
  });

  it('is the maxBuckets - 1 highest buckets exact and the rest in the maxBuckets-th', () => {
    fc.assert(
      fc.property(fc.array(domainValue, { minLength: 1, maxLength: 200, size: 'max' }), (values) => {
        const ids = values.map((v) => bucketId(v, TIGHT));
        const distinct = [...new Set(ids)].sort((x, y) => x - y);
        const kept = distinct.slice(-TIGHT.maxBuckets);
        const floor = kept[0]!;
        const expected = kept.map((k) => ids.filter((id) => (k === floor ? id <= k : id === k)).length);
        const s = sketchOf(values, TIGHT);
        return JSON.stringify([s.keys, s.counts]) === JSON.stringify([kept, expected]);
      }),
    );
  });

  it('collapses in these tests: 100 values a factor 1.5 apart need 100 buckets', () => {
    const values = Array.from({ length: 100 }, (_, i) => 1.5 ** (i - 50));
    const s = sketchOf(values, TIGHT);
    expect(s.keys.length).toBe(16);
    expect(s.counts[0]).toBe(85);
    expect(state(sketchOf([...values].reverse(), TIGHT))).toEqual(state(s));
  });

  it('merging sketches of different limits applies the smaller one, either way round', () => {
    const values = Array.from({ length: 100 }, (_, i) => (i % 2 ? -1 : 1) * 1.5 ** (i - 50));
    const wide = sketchOf(values.slice(0, 60), sketchSpec({ accuracy: 0.01, maxBuckets: 128 }));
    const tight = sketchOf(values.slice(60), TIGHT);
    expect(state(mergeSketches(wide, tight))).toEqual(state(sketchOf(values, TIGHT)));
    expect(state(mergeSketches(tight, wide))).toEqual(state(sketchOf(values, TIGHT)));
  });
});

describe('Percentiles: sketch values and merges are checked', () => {
  it('orders buckets like the values: negatives, then zero, then positives', () => {
    const ids = [-1e100, -3, -1e-90, 0, 1e-90, 3, 1e100].map((v) => bucketId(v, WIDE));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
    expect(bucketId(-0, WIDE)).toBe(0);
  });

  it('refuses NaN and infinities, naming the value', () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(() => addToSketch(newSketch(WIDE), v)).toThrow(SketchValueError);
      expect(() => addToSketch(newSketch(WIDE), v)).toThrow(String(v));
    }
  });

  it('refuses to merge sketches of different accuracies', () => {
    const a = sketchOf([1], WIDE);
    const b = sketchOf([1], FINE);
    expect(() => mergeSketches(a, b)).toThrow(SketchMergeError);
    expect(() => mergeSketches(a, b)).toThrow('accuracy 0.01 and 0.0001');
  });

  it('merges leave their arguments unchanged; a clone shares nothing mutable', () => {
    const a = sketchOf([1, 2, 3], WIDE);
    const b = sketchOf([3, 4], WIDE);
    const before = [cloneSketch(a), cloneSketch(b)].map(state);
    mergeSketches(a, b);
    expect([a, b].map(state)).toEqual(before);
    const c = cloneSketch(a);
    addToSketch(c, 1e6);
    expect(state(a)).toEqual(before[0]);
  });
});
