/**
 * Session windows (as in Flink and Kafka Streams): a reading opens `[t, t + gap)` and
 * merges with every open session of the sensor that overlaps it, so a reading that
 * bridges two sessions joins them into one. If the resulting session is already final
 * the reading is late for this definition. Open sessions never overlap each other, so
 * one pass finds every merge.
 */
import { mergeAggregate } from '../aggregate.js';
import type { Reading } from '../reading.js';
import type { OpenWindow, SensorState } from '../state.js';
import { isFinal, type WindowBounds, windowKey } from './assign.js';
import {
  addMissed,
  addToWindow,
  newAggregate,
  type Placement,
  type PlacementContext,
  type SessionDefinition,
} from './placement.js';

/** Folds `reading` into the sensor's sessions of one definition, recording where it went. */
export function foldIntoSession(
  state: SensorState,
  def: SessionDefinition,
  reading: Reading,
  ctx: PlacementContext,
  placement: Placement,
): void {
  const { id } = def;
  const { gapMs } = def.spec;
  const ts = reading.timestamp;
  const bounds: WindowBounds = { start: ts, end: ts + gapMs };
  const merging: string[] = [];
  for (const key in state.windows) {
    const w = state.windows[key]!;
    if (w.spec !== id || !(ts < w.end && w.start < ts + gapMs)) continue;
    // A final session is no longer open (it may wait in state for the end of the fold):
    // merging into it would reopen a window whose result is due, and make the outcome
    // depend on where a batch or a commit was cut.
    if (isFinal(w.end, state.watermark, ctx.allowedLatenessMs, state.flushedThrough)) continue;
    merging.push(key);
    if (w.start < bounds.start) bounds.start = w.start;
    if (w.end > bounds.end) bounds.end = w.end;
  }
  if (isFinal(bounds.end, state.watermark, ctx.allowedLatenessMs, state.flushedThrough)) {
    addMissed(placement, {
      windowType: 'session',
      spec: id,
      windowStart: bounds.start,
      windowEnd: bounds.end,
    });
    return;
  }
  const session: OpenWindow = {
    spec: id,
    windowType: 'session',
    windowSizeMs: bounds.end - bounds.start,
    windowGapMs: gapMs,
    start: bounds.start,
    end: bounds.end,
    aggs: {},
  };
  for (const key of merging.sort()) {
    const old = state.windows[key]!;
    for (const metric in old.aggs) {
      let agg = session.aggs[metric];
      if (!agg) {
        agg = newAggregate(metric, ctx);
        session.aggs[metric] = agg;
      }
      mergeAggregate(agg, old.aggs[metric]!);
    }
    delete state.windows[key];
  }
  addToWindow(session, reading.values, ctx);
  state.windows[windowKey(id, bounds.start)] = session;
  placement.opened += 1 - merging.length;
  placement.accepted = true;
}
