/**
 * A window's sketch inside the sensor's state item. In memory the fold works on the
 * sketch itself; in the state body (JSON) it is its compact text (codec.ts: about 10
 * bytes + 2 per occupied bucket, x 4/3 as base64url), because the item has a size budget
 * and a sketch as plain JSON costs about four times that.
 *
 * A stored sketch has a `toJSON` (on its class, so not an own property: comparisons and
 * spreads see only the sketch's data) that returns its text, so `JSON.stringify` of a
 * whole state writes the text where the sketch is, with no second walk over the state;
 * `reviveSketches` turns the texts of a parsed body back into sketches.
 */
import type { Aggregate } from '../aggregate.js';
import { decodeSketch, encodeSketch } from './codec.js';
import type { QuantileSketch, SketchSpec } from './sketch.js';

/** A sketch whose JSON form is its text; otherwise plain sketch data. */
class StoredSketch implements QuantileSketch {
  constructor(
    readonly spec: SketchSpec,
    public keys: number[],
    public counts: number[],
  ) {}

  toJSON(): string {
    return encodeSketch(this);
  }
}

/** `sketch`'s data as a sketch whose JSON form is its text (the arrays are shared, not copied). */
export function storable(sketch: QuantileSketch): QuantileSketch {
  return new StoredSketch(sketch.spec, sketch.keys, sketch.counts);
}

export function newStorableSketch(spec: SketchSpec): QuantileSketch {
  return new StoredSketch(spec, [], []);
}

export function cloneStorableSketch(sketch: QuantileSketch): QuantileSketch {
  return new StoredSketch(sketch.spec, sketch.keys.slice(), sketch.counts.slice());
}

/** What a parsed state body holds where an aggregate had a sketch: its text. */
type StoredAggregate = Omit<Aggregate, 'q'> & { q?: QuantileSketch | string };

/**
 * Decodes, in place, the sketch texts of every aggregate of the windows of a parsed
 * state body. A text that is not a sketch throws SketchDecodeError (the state is not
 * folded into on a guess).
 */
export function reviveSketches(windows: Record<string, { aggs: Record<string, Aggregate> }>): void {
  for (const key in windows) {
    const aggs = windows[key]!.aggs as Record<string, StoredAggregate>;
    for (const metric in aggs) {
      const agg = aggs[metric]!;
      if (typeof agg.q === 'string') agg.q = storable(decodeSketch(agg.q));
    }
  }
}
