/**
 * A window's sketch inside the sensor's state item. In memory the fold works on the
 * sketch itself; in the state body (JSON) it is its compact text (codec.ts: about 10
 * bytes + 2 per occupied bucket, x 4/3 as base64url), because the item has a size budget
 * and a sketch as plain JSON costs about four times that.
 *
 * `storable` gives a sketch a `toJSON` that returns its text, so `JSON.stringify` of a
 * whole state writes the text where the sketch is, with no second walk over the state;
 * `reviveSketches` turns the texts of a parsed body back into sketches. The property is
 * not enumerable, so comparisons and spreads see only the sketch's data.
 */
import type { Aggregate } from '../aggregate.js';
import { decodeSketch, encodeSketch } from './codec.js';
import { cloneSketch, newSketch, type QuantileSketch, type SketchSpec } from './sketch.js';

function sketchText(this: QuantileSketch): string {
  return encodeSketch(this);
}

/** `sketch`, whose JSON form is now its text. */
export function storable(sketch: QuantileSketch): QuantileSketch {
  Object.defineProperty(sketch, 'toJSON', { value: sketchText });
  return sketch;
}

export function newStorableSketch(spec: SketchSpec): QuantileSketch {
  return storable(newSketch(spec));
}

export function cloneStorableSketch(sketch: QuantileSketch): QuantileSketch {
  return storable(cloneSketch(sketch));
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
