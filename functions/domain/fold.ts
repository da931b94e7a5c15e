/**
 * The pure core: fold one sensor's records (in arrival order) into its state, producing
 * the effects that state change implies. No I/O, no clocks, no randomness: the same state
 * and records always give the same new state and the same effects, which is what makes a
 * retried batch harmless.
 *
 * A sensor's whole working state (watermark, applied sequence numbers, open windows,
 * previous values, recent alert buckets) lives in ONE item, so one conditional write
 * applies a batch atomically: there is no partially applied state to repair after a
 * crash. The effects of that write (final windows, alerts, late readings) are stored in
 * the same item as an outbox and delivered after the commit (see state-store.ts).
 */
import {
  type Aggregate,
  type AggregateSummary,
  addValue,
  emptyAggregate,
  mergeAggregate,
  summarize,
} from './aggregate.js';
import type { Rule, SessionWindowSpec, WindowpaneConfig, WindowSpec } from './config.js';
import type { Reading } from './reading.js';
import { type Alert, buildAlert, cooldownBucket, ruleFires } from './rules.js';
import { compareSequence } from './sequence.js';
import { assignWindows, isFinal, specId, type WindowBounds, windowKey } from './window.js';

/** A decoded reading with its position in the stream. */
export interface SensorRecord {
  shardId: string;
  /** Kinesis sequence number (decimal string, see sequence.ts). */
  sequence: string;
  reading: Reading;
}

export interface OpenWindow {
  spec: string;
  windowType: WindowSpec['type'];
  /** Fixed windows: their size. Sessions: grows with the session (end - start). */
  windowSizeMs: number;
  windowSlideMs?: number;
  windowGapMs?: number;
  start: number;
  end: number;
  aggs: Record<string, Aggregate>;
}

/** A window emitted once, when final. One item per (sensor, window), all metrics inside. */
export interface FinalWindow {
  sensorId: string;
  windowKey: string;
  windowType: WindowSpec['type'];
  windowSizeMs: number;
  /** Sliding windows only. */
  windowSlideMs?: number;
  /** Session windows only. */
  windowGapMs?: number;
  windowStart: number;
  windowEnd: number;
  metrics: Record<string, AggregateSummary>;
}

/** A window a late reading was left out of. */
export interface MissedWindow {
  windowType: WindowSpec['type'];
  spec: string;
  windowStart: number;
  windowEnd: number;
}

export interface LateReading {
  /** `<shardId>:<sequenceNumber>`: unique per record, so consumers can drop duplicates. */
  id: string;
  sensorId: string;
  timestamp: number;
  values: Record<string, number>;
  reason: 'window-final';
  /** The first window it missed (with one window definition, its only window). */
  windowStart: number;
  windowEnd: number;
  watermark: number | null;
  /** Every window it was left out of; it was aggregated into the others. */
  missedWindows: MissedWindow[];
}

export interface Outbox {
  results: FinalWindow[];
  alerts: Alert[];
  late: LateReading[];
}

export interface SensorState {
  sensorId: string;
  /** Optimistic-concurrency version of the stored item; 0 when never written. */
  version: number;
  /** Largest event time accepted so far (SEMANTICS.md: the sensor's watermark). */
  watermark: number | null;
  /** Every window ending at or before this was closed by a flush. */
  flushedThrough: number | null;
  /** Last applied sequence number per shard, least recently used shard first. */
  applied: Record<string, string>;
  windows: Record<string, OpenWindow>;
  /** Previous value per metric, in arrival order (for delta rules). */
  last: Record<string, number>;
  /** Recently fired cooldown buckets per rule (a bounded cache; the alert ledger is the truth). */
  fired: Record<string, number[]>;
  /** Effects of the last committed change, delivered after the commit. */
  outbox: Outbox;
  /**
   * Processing time of the last commit, set by the store (never by the fold: it is not
   * event time). The idle sweeper compares it with its timeout.
   */
  updatedAt?: number;
}

export interface FoldResult {
  state: SensorState;
  /** Records applied (not duplicates). */
  applied: number;
  /** Records skipped because their sequence number was already applied. */
  duplicates: number;
  /** Effects of this fold only (also in `state.outbox`). */
  effects: Outbox;
}

/** At most this many shards are remembered per sensor; older lineage is long drained. */
const MAX_REMEMBERED_SHARDS = 16;
/** Recent buckets cached per rule before falling back to the alert ledger. */
const MAX_FIRED_BUCKETS = 32;

export function emptyOutbox(): Outbox {
  return { results: [], alerts: [], late: [] };
}

export function newSensorState(sensorId: string): SensorState {
  return {
    sensorId,
    version: 0,
    watermark: null,
    flushedThrough: null,
    applied: {},
    windows: {},
    last: {},
    fired: {},
    outbox: emptyOutbox(),
  };
}

export function isOutboxEmpty(outbox: Outbox): boolean {
  return outbox.results.length === 0 && outbox.alerts.length === 0 && outbox.late.length === 0;
}

/**
 * A private copy to fold into (the input stays untouched, so a retry can reuse it). Hand
 * written because it is on the hot path: structuredClone was half the fold's time. The
 * outbox is not copied: every fold replaces it.
 */
function cloneState(state: SensorState): SensorState {
  const windows: Record<string, OpenWindow> = {};
  for (const key in state.windows) {
    const w = state.windows[key]!;
    const aggs: Record<string, Aggregate> = {};
    for (const metric in w.aggs) {
      const a = w.aggs[metric]!;
      aggs[metric] = a.sq
        ? { count: a.count, sum: a.sum.slice(), min: a.min, max: a.max, sq: a.sq.slice() }
        : { count: a.count, sum: a.sum.slice(), min: a.min, max: a.max };
    }
    windows[key] = { ...w, aggs };
  }
  const fired: Record<string, number[]> = {};
  for (const rule in state.fired) fired[rule] = state.fired[rule]!.slice();
  const copy: SensorState = {
    sensorId: state.sensorId,
    version: state.version,
    watermark: state.watermark,
    flushedThrough: state.flushedThrough,
    applied: { ...state.applied },
    windows,
    last: { ...state.last },
    fired,
    outbox: state.outbox,
  };
  if (state.updatedAt !== undefined) copy.updatedAt = state.updatedAt;
  return copy;
}

interface CompiledRules {
  byMetric: Map<string, Rule[]>;
  /** Per fixed (tumbling/sliding) definition: its id and a one-entry window-key cache. */
  fixed: Map<WindowSpec, { id: string; lastStart: number; lastKey: string }>;
}

const compiledCache = new WeakMap<WindowpaneConfig, CompiledRules>();

function compile(config: WindowpaneConfig): CompiledRules {
  let compiled = compiledCache.get(config);
  if (!compiled) {
    const byMetric = new Map<string, Rule[]>();
    for (const rule of config.rules) {
      const list = byMetric.get(rule.metric) ?? [];
      list.push(rule);
      byMetric.set(rule.metric, list);
    }
    const fixed = new Map<WindowSpec, { id: string; lastStart: number; lastKey: string }>();
    for (const spec of config.windows) {
      if (spec.type !== 'session') fixed.set(spec, { id: specId(spec), lastStart: Number.NaN, lastKey: '' });
    }
    compiled = { byMetric, fixed };
    compiledCache.set(config, compiled);
  }
  return compiled;
}

/**
 * Folds `records` (one sensor, arrival order) into a copy of `state`. Records whose
 * sequence number is not above the last applied one of their shard are duplicates
 * (a retried or redelivered batch) and change nothing.
 */
export function foldSensorRecords(
  state: SensorState,
  records: readonly SensorRecord[],
  config: WindowpaneConfig,
): FoldResult {
  const next = cloneState(state);
  const effects = emptyOutbox();
  const { byMetric, fixed } = compile(config);
  const lateness = config.allowedLatenessMs;
  // Last applied sequence number per shard; a Map keeps least-recently-used order cheaply.
  const appliedByShard = new Map(Object.entries(next.applied));
  let applied = 0;
  let duplicates = 0;

  for (const record of records) {
    const lastApplied = appliedByShard.get(record.shardId);
    if (lastApplied !== undefined && compareSequence(record.sequence, lastApplied) <= 0) {
      duplicates++;
      continue;
    }
    applied++;
    const { reading } = record;
    const ts = reading.timestamp;

    // Lateness is per window (as in Flink): the reading is left out of every window that
    // was already final before it arrived and folded into the others. The decisions use
    // the watermark from before this reading.
    let missed: MissedWindow[] | undefined;
    let accepted = false;
    for (const spec of config.windows) {
      if (spec.type === 'session') {
        const outcome = foldIntoSession(next, spec, reading, lateness, config.stddev);
        if (outcome === true) accepted = true;
        else {
          missed ??= [];
          missed.push(outcome);
        }
        continue;
      }
      const f = fixed.get(spec)!;
      for (const w of assignWindows(spec, ts)) {
        if (isFinal(w.end, next.watermark, lateness, next.flushedThrough)) {
          missed ??= [];
          missed.push({ windowType: spec.type, spec: f.id, windowStart: w.start, windowEnd: w.end });
          continue;
        }
        // Readings of one sensor in a batch fall in few windows: reuse the last key.
        if (f.lastStart !== w.start) {
          f.lastStart = w.start;
          f.lastKey = windowKey(f.id, w.start);
        }
        const key = f.lastKey;
        const id = f.id;
        let open = next.windows[key];
        if (!open) {
          open = {
            spec: id,
            windowType: spec.type,
            windowSizeMs: spec.sizeMs,
            start: w.start,
            end: w.end,
            aggs: {},
          };
          if (spec.type === 'sliding') open.windowSlideMs = spec.slideMs;
          next.windows[key] = open;
        }
        addReading(open, reading.values, config.stddev);
        accepted = true;
      }
    }

    // Rules run on every valid reading, late ones included, in arrival order.
    const late = missed !== undefined;
    for (const metric in reading.values) {
      const value = reading.values[metric]!;
      const rules = byMetric.get(metric);
      if (rules) {
        const previous = next.last[metric];
        for (const rule of rules) {
          if (!ruleFires(rule, value, previous)) continue;
          const bucket = cooldownBucket(ts, rule.cooldownMs);
          let fired = next.fired[rule.name];
          if (!fired) {
            fired = [];
            next.fired[rule.name] = fired;
          }
          if (fired.includes(bucket)) continue;
          fired.push(bucket);
          if (fired.length > MAX_FIRED_BUCKETS) {
            fired.sort((a, b) => a - b);
            fired.shift();
          }
          effects.alerts.push(buildAlert(rule, reading.sensorId, value, ts, previous, late));
        }
      }
      next.last[metric] = value;
    }

    if (missed !== undefined) {
      effects.late.push({
        id: `${record.shardId}:${record.sequence}`,
        sensorId: reading.sensorId,
        timestamp: ts,
        values: reading.values,
        reason: 'window-final',
        windowStart: missed[0]!.windowStart,
        windowEnd: missed[0]!.windowEnd,
        watermark: next.watermark,
        missedWindows: missed,
      });
    }
    if (accepted && (next.watermark === null || ts > next.watermark)) next.watermark = ts;

    appliedByShard.delete(record.shardId);
    appliedByShard.set(record.shardId, record.sequence);
  }

  if (applied > 0) {
    next.applied = Object.fromEntries(appliedByShard);
    pruneShards(next);
    effects.results.push(...takeFinalWindows(next, lateness, false));
  }
  next.outbox = effects;
  return { state: next, applied, duplicates, effects };
}

/**
 * Closes every open window of the sensor (end of a replay, or an idle sensor): they are
 * emitted as final, and any later reading for a window ending at or before the latest
 * closed end is late.
 */
export function flushSensor(state: SensorState): FoldResult {
  const next = cloneState(state);
  const results = takeFinalWindows(next, 0, true);
  for (const r of results) {
    if (next.flushedThrough === null || r.windowEnd > next.flushedThrough) next.flushedThrough = r.windowEnd;
  }
  const effects: Outbox = { results, alerts: [], late: [] };
  next.outbox = effects;
  return { state: next, applied: 0, duplicates: 0, effects };
}

function addReading(open: OpenWindow, values: Record<string, number>, withSquares: boolean): void {
  for (const metric in values) {
    let agg = open.aggs[metric];
    if (!agg) {
      agg = emptyAggregate(withSquares);
      open.aggs[metric] = agg;
    }
    addValue(agg, values[metric]!);
  }
}

/**
 * Session windows (as in Flink and Kafka Streams): a reading opens `[t, t + gap)` and
 * merges with every open session of the sensor that overlaps it, so a reading that
 * bridges two sessions joins them into one. If the resulting session is already final
 * the reading is late for this definition. Returns true when folded in, else the window
 * it missed. Open sessions never overlap each other, so one pass finds every merge.
 */
function foldIntoSession(
  state: SensorState,
  spec: SessionWindowSpec,
  reading: Reading,
  lateness: number,
  withSquares: boolean,
): true | MissedWindow {
  const id = specId(spec);
  const ts = reading.timestamp;
  const bounds: WindowBounds = { start: ts, end: ts + spec.gapMs };
  const merging: string[] = [];
  for (const key in state.windows) {
    const w = state.windows[key]!;
    if (w.spec !== id || !(ts < w.end && w.start < ts + spec.gapMs)) continue;
    merging.push(key);
    if (w.start < bounds.start) bounds.start = w.start;
    if (w.end > bounds.end) bounds.end = w.end;
  }
  if (isFinal(bounds.end, state.watermark, lateness, state.flushedThrough)) {
    return { windowType: 'session', spec: id, windowStart: bounds.start, windowEnd: bounds.end };
  }
  const session: OpenWindow = {
    spec: id,
    windowType: 'session',
    windowSizeMs: bounds.end - bounds.start,
    windowGapMs: spec.gapMs,
    start: bounds.start,
    end: bounds.end,
    aggs: {},
  };
  for (const key of merging.sort()) {
    const old = state.windows[key]!;
    for (const metric in old.aggs) {
      let agg = session.aggs[metric];
      if (!agg) {
        agg = emptyAggregate(withSquares);
        session.aggs[metric] = agg;
      }
      mergeAggregate(agg, old.aggs[metric]!);
    }
    delete state.windows[key];
  }
  addReading(session, reading.values, withSquares);
  state.windows[windowKey(id, bounds.start)] = session;
  return true;
}

function takeFinalWindows(state: SensorState, lateness: number, all: boolean): FinalWindow[] {
  const finals: FinalWindow[] = [];
  for (const key of Object.keys(state.windows).sort()) {
    const open = state.windows[key]!;
    if (!all && !isFinal(open.end, state.watermark, lateness, state.flushedThrough)) continue;
    const metrics: Record<string, AggregateSummary> = {};
    for (const metric of Object.keys(open.aggs).sort()) metrics[metric] = summarize(open.aggs[metric]!);
    const final: FinalWindow = {
      sensorId: state.sensorId,
      windowKey: key,
      windowType: open.windowType,
      windowSizeMs: open.windowSizeMs,
      windowStart: open.start,
      windowEnd: open.end,
      metrics,
    };
    if (open.windowSlideMs !== undefined) final.windowSlideMs = open.windowSlideMs;
    if (open.windowGapMs !== undefined) final.windowGapMs = open.windowGapMs;
    finals.push(final);
    delete state.windows[key];
  }
  return finals;
}

function pruneShards(state: SensorState): void {
  const shards = Object.keys(state.applied);
  for (let i = 0; i < shards.length - MAX_REMEMBERED_SHARDS; i++) delete state.applied[shards[i]!];
}

/** One line of `windows.jsonl` per metric of a final window (the replay contract). */
export interface WindowLine extends AggregateSummary {
  sensorId: string;
  metric: string;
  windowType: WindowSpec['type'];
  windowSizeMs: number;
  windowSlideMs?: number;
  windowGapMs?: number;
  windowStart: number;
  windowEnd: number;
}

/** Tumbling lines carry exactly the contract's fields; sliding add the slide, sessions the gap. */
export function windowLines(final: FinalWindow): WindowLine[] {
  return Object.entries(final.metrics).map(([metric, s]) => ({
    sensorId: final.sensorId,
    metric,
    windowType: final.windowType,
    windowSizeMs: final.windowSizeMs,
    ...(final.windowSlideMs !== undefined ? { windowSlideMs: final.windowSlideMs } : {}),
    ...(final.windowGapMs !== undefined ? { windowGapMs: final.windowGapMs } : {}),
    windowStart: final.windowStart,
    windowEnd: final.windowEnd,
    ...s,
  }));
}
