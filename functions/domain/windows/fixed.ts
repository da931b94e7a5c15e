/**
 * Tumbling and sliding windows (docs/SEMANTICS.md "Windows"): a reading belongs to every
 * window of the definition that contains its timestamp (one for tumbling, size / slide
 * for sliding). Lateness is per window, as in Flink: the reading is left out of each
 * window that is already final and folded into the others.
 */
import type { Reading } from '../reading.js';
import type { SensorState } from '../state.js';
import { assignWindows, isFinal, windowKey } from './assign.js';
import {
  addMissed,
  addToWindow,
  type FixedDefinition,
  type Placement,
  type PlacementContext,
} from './placement.js';

/** Folds `reading` into the open windows of one fixed definition, recording where it went. */
export function foldIntoFixed(
  state: SensorState,
  def: FixedDefinition,
  reading: Reading,
  ctx: PlacementContext,
  placement: Placement,
): void {
  const { spec } = def;
  if (spec.type === 'tumbling') {
    // assignTumbling's one window, without allocating it.
    const start = Math.floor(reading.timestamp / spec.sizeMs) * spec.sizeMs;
    foldIntoWindow(state, def, reading, ctx, placement, start, start + spec.sizeMs);
    return;
  }
  for (const w of assignWindows(spec, reading.timestamp)) {
    foldIntoWindow(state, def, reading, ctx, placement, w.start, w.end);
  }
}

function foldIntoWindow(
  state: SensorState,
  def: FixedDefinition,
  reading: Reading,
  ctx: PlacementContext,
  placement: Placement,
  start: number,
  end: number,
): void {
  const { spec, id } = def;
  if (isFinal(end, state.watermark, ctx.allowedLatenessMs, state.flushedThrough)) {
    addMissed(placement, { windowType: spec.type, spec: id, windowStart: start, windowEnd: end });
    return;
  }
  if (def.lastStart !== start) {
    def.lastStart = start;
    def.lastKey = windowKey(id, start);
  }
  const key = def.lastKey;
  let open = state.windows[key];
  if (!open) {
    open = {
      spec: id,
      windowType: spec.type,
      windowSizeMs: spec.sizeMs,
      start,
      end,
      aggs: {},
    };
    if (spec.type === 'sliding') open.windowSlideMs = spec.slideMs;
    state.windows[key] = open;
    placement.opened++;
  }
  addToWindow(open, reading.values, ctx);
  placement.accepted = true;
}
