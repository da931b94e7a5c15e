/**
 * What placing one reading into a sensor's windows shares across window types: the
 * window definitions of a config compiled once (in config order, which is the order a
 * late reading lists the windows it missed), the outcome of placing one reading, and
 * adding a reading's values to an open window. The types themselves are in fixed.ts
 * (tumbling and sliding) and sessions.ts.
 */
import { type Aggregate, addValue, emptyAggregate } from '../aggregate.js';
import type {
  SessionWindowSpec,
  SlidingWindowSpec,
  TumblingWindowSpec,
  WindowpaneConfig,
} from '../config.js';
import type { PercentilePlan } from '../percentile-config.js';
import { newStorableSketch } from '../sketch/stored.js';
import type { MissedWindow, OpenWindow } from '../state.js';
import { specId } from './assign.js';

/** A tumbling or sliding definition, with a one-entry cache of its last window key. */
export interface FixedDefinition {
  kind: 'fixed';
  spec: TumblingWindowSpec | SlidingWindowSpec;
  id: string;
  /** Readings of one sensor in a batch fall in few windows: the last start and its key. */
  lastStart: number;
  lastKey: string;
}

export interface SessionDefinition {
  kind: 'session';
  spec: SessionWindowSpec;
  id: string;
}

export type WindowDefinition = FixedDefinition | SessionDefinition;

/** Where one reading went. Reset for every reading; `missed` is allocated only when late. */
export interface Placement {
  /** Folded into at least one window: it may advance the watermark. */
  accepted: boolean;
  /** The windows it was left out of because they were already final. */
  missed: MissedWindow[] | undefined;
  /** Change in the number of open windows (new ones minus sessions merged away). */
  opened: number;
}

/** What every window type needs besides the state and the reading. */
export interface PlacementContext {
  allowedLatenessMs: number;
  /** Keep sums of squares (config `stddev`). */
  withSquares: boolean;
  /** Keep a sketch for the metrics with percentiles; absent when none are configured. */
  percentiles?: PercentilePlan | undefined;
}

/** The config's window definitions with their ids (the fold compiles them once per config). */
export function compileWindows(config: WindowpaneConfig): WindowDefinition[] {
  return config.windows.map(
    (spec): WindowDefinition =>
      spec.type === 'session'
        ? { kind: 'session', spec, id: specId(spec) }
        : { kind: 'fixed', spec, id: specId(spec), lastStart: Number.NaN, lastKey: '' },
  );
}

/** Clears the outcome before the next reading (one object serves a whole fold). */
export function resetPlacement(placement: Placement): void {
  placement.accepted = false;
  placement.missed = undefined;
  placement.opened = 0;
}

export function addMissed(placement: Placement, missed: MissedWindow): void {
  if (placement.missed === undefined) placement.missed = [missed];
  else placement.missed.push(missed);
}

/** A new, empty aggregate of `metric` with the parts the config asks for. */
export function newAggregate(metric: string, ctx: PlacementContext): Aggregate {
  const agg = emptyAggregate(ctx.withSquares);
  if (ctx.percentiles?.byMetric[metric]) agg.q = newStorableSketch(ctx.percentiles.spec);
  return agg;
}

/** Adds every value of a reading to the window's aggregates (creating them on first use). */
export function addToWindow(open: OpenWindow, values: Record<string, number>, ctx: PlacementContext): void {
  for (const metric in values) {
    let agg = open.aggs[metric];
    if (!agg) {
      agg = newAggregate(metric, ctx);
      open.aggs[metric] = agg;
    }
    addValue(agg, values[metric]!);
  }
}
