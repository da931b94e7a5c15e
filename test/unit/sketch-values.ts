/**
 * Value generators for the sketch's property tests. The numeric domain is the one of
 * issue 13 as the numeric-config branch draws it (0, or a magnitude from 1e-90 to 1e100),
 * widened to 1e-100 so the sketch does not depend on where that bound settles.
 */
import fc from 'fast-check';
import {
  addToSketch,
  newSketch,
  type QuantileSketch,
  type SketchSpec,
} from '../../functions/domain/sketch/sketch.js';

export const DOMAIN_MIN = 1e-100;
export const DOMAIN_MAX = 1e100;

const magnitude = fc.oneof(
  fc.double({ min: DOMAIN_MIN, max: DOMAIN_MAX, noNaN: true }),
  // fc.double favours the ends of its range; this draws the exponent evenly too.
  fc
    .tuple(fc.double({ min: 1, max: 10, noNaN: true }), fc.integer({ min: -100, max: 99 }))
    .map(([m, e]) => Math.min(DOMAIN_MAX, Math.max(DOMAIN_MIN, m * 10 ** e))),
  fc.constantFrom(DOMAIN_MIN, DOMAIN_MAX, 1e-90, 1, 1e-50),
);

/** Any value of the numeric domain, zero and the bounds included. */
export const domainValue: fc.Arbitrary<number> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, -0) },
  { weight: 8, arbitrary: fc.tuple(magnitude, fc.boolean()).map(([m, neg]) => (neg ? -m : m)) },
);

/** Readings like a thermometer's: -40..60 with 0.1 resolution, some at full precision. */
export const sensorValue: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -400, max: 600 }).map((t) => t / 10),
  // Magnitudes below 1e-90 (subnormals among them) are outside the domain: read as 0.
  fc.double({ min: -40, max: 60, noNaN: true }).map((v) => (Math.abs(v) < 1e-90 ? 0 : v)),
);

/** The sketch of `values`, added in the order given. */
export function sketchOf(values: readonly number[], spec: SketchSpec): QuantileSketch {
  const s = newSketch(spec);
  for (const v of values) addToSketch(s, v);
  return s;
}
