/**
 * A sensor's working state and the effects a change of it produces: the plain data the
 * fold (fold.ts) reads and writes, and the store (functions/lib/state-store.ts) keeps.
 *
 * A sensor's whole working state (watermark, applied sequence numbers, open windows,
 * previous values, recent alert buckets) lives in ONE item, so one conditional write
 * applies a batch atomically: there is no partially applied state to repair after a
 * crash. The effects of that write (final windows, alerts, late readings) are stored in
 * the same item as an outbox and delivered after the commit.
 */
import { type Aggregate, type AggregateSummary, cloneAggregate } from './aggregate.js';
import type { AlarmAction } from './alarms/control.js';
import { type AlarmEntry, cloneEntry } from './alarms/entry.js';
import type { Transition } from './alarms/transition.js';
import type { WindowSpec } from './config.js';
import type { Reading } from './reading.js';
import type { Alert } from './rules.js';

/** Where a record sits in the stream, and when it arrived. */
export interface RecordPlace {
  shardId: string;
  /** Kinesis sequence number (decimal string, see sequence.ts). */
  sequence: string;
  /**
   * Index of the user record in its KPL aggregate (record-position.ts); absent for a
   * record that is not an aggregate (sub-index 0).
   */
  subIndex?: number;
  /**
   * When the record reached the stream (Kinesis approximateArrivalTimestamp), epoch ms.
   * Part of the record, so the same on every retry: the fold's only processing-time clock.
   */
  arrivalMs?: number;
}

/** A decoded reading with its position in the stream. */
export interface ReadingRecord extends RecordPlace {
  reading: Reading;
  action?: undefined;
}

/** A control record (docs/SEMANTICS.md A-C1): an alarm action in the sensor's order. */
export interface ActionRecord extends RecordPlace {
  action: AlarmAction;
  reading?: undefined;
}

/** One record of a sensor, in arrival order: a reading or an alarm action. */
export type SensorRecord = ReadingRecord | ActionRecord;

/**
 * What became of one alarm action (A-C3): applied (with its transition's id), already
 * applied (a repeat of a recent actionId), or refused with the reason. The alarms
 * projection keeps it so the CLI can tell the user.
 */
export interface ActionOutcome {
  actionId: string;
  alarmId: string;
  sensorId: string;
  action: AlarmAction['type'];
  by: string;
  outcome: 'applied' | 'already-applied' | 'refused';
  /** refused: why (the state named, or the rule unknown). */
  reason?: string;
  /** applied: the transition it caused. */
  transitionId?: string;
  /** `<shardId>:<sequenceNumber>` of the control record. */
  recordId: string;
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
  /** Alarm transitions (absent when none, so states without alarms keep their bytes). */
  transitions?: Transition[];
  /** What became of the alarm actions folded (absent when none). */
  actions?: ActionOutcome[];
}

/** An alarm-mode rule's memory for one sensor (A-E2, A-L5). */
export interface RuleMemory {
  /** The kind's stateKey when the state was made: a change starts it afresh. */
  k: string;
  /** The largest event time the rule has evaluated (its high-water mark). */
  h: number | null;
  /** The kind's state, if it keeps one. */
  s?: unknown;
}

export interface SensorState {
  sensorId: string;
  /** Optimistic-concurrency version of the stored item; 0 when never written. */
  version: number;
  /** Largest event time accepted so far (SEMANTICS.md: the sensor's watermark). */
  watermark: number | null;
  /** Every window ending at or before this was closed by a flush. */
  flushedThrough: number | null;
  /**
   * Last applied position per shard, least recently used shard first: a sequence number,
   * or `<sequenceNumber>.<subIndex>` after a user record of a KPL aggregate (record-position.ts).
   */
  applied: Record<string, string>;
  windows: Record<string, OpenWindow>;
  /** Previous value per metric, in arrival order (for delta rules). */
  last: Record<string, number>;
  /** Recently fired cooldown buckets per rule (a bounded cache; the alert ledger is the truth). */
  fired: Record<string, number[]>;
  /** Effects of the last committed change, delivered after the commit. */
  outbox: Outbox;
  /** Alarms per alarm-mode rule name (absent when the sensor has none). */
  alarms?: Record<string, AlarmEntry>;
  /** Alarm-mode rules' memory per rule name. */
  rs?: Record<string, RuleMemory>;
  /**
   * Processing time from which the idle sweeper has an alarm to raise (absence, A-K8);
   * set by the fold from the kinds' `sweep.dueAt`, absent when there is none.
   */
  sd?: number;
  /**
   * Processing time of the last commit, set by the store (never by the fold: it is not
   * event time). The idle sweeper compares it with its timeout.
   */
  updatedAt?: number;
  /**
   * Set by the store when the item is claimed by a carried state (SEMANTICS.md "Carried
   * state"): the stored body may lack records applied since. Never part of the body.
   */
  claim?: CarryClaim;
}

/**
 * A carried state's claim on a sensor's item: who carries the sensor (`by`, the carried
 * state's id), from which record on which shard its applied records are not checkpointed
 * (`from`, a sequence number on `shardId`), and until when the claim is live (processing
 * time, epoch ms: the end of the Lambda window plus a grace).
 */
export interface CarryClaim {
  by: string;
  shardId: string;
  from: string;
  until: number;
}

/** A state change: the new state and the effects it implies. */
export interface FoldResult {
  state: SensorState;
  /** Records applied (not duplicates). */
  applied: number;
  /** Records skipped because their sequence number was already applied. */
  duplicates: number;
  /** Effects of this fold only (also in `state.outbox`). */
  effects: Outbox;
  /** Open windows closed early because the sensor reached `maxOpenWindows` (bounds.ts). */
  finalisedEarly: number;
  /**
   * Commit the state though no record was applied and nothing is to be delivered: the
   * sweeper found a stale `sd` (its rule gone), which would otherwise list the sensor on
   * every sweep.
   */
  rewrite?: true;
}

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
  return (
    outbox.results.length === 0 &&
    outbox.alerts.length === 0 &&
    outbox.late.length === 0 &&
    (outbox.transitions?.length ?? 0) === 0 &&
    (outbox.actions?.length ?? 0) === 0
  );
}

/** "Nothing to do": the state as it is, no records applied, no effects. */
export function unchangedFold(state: SensorState): FoldResult {
  return { state, applied: 0, duplicates: 0, effects: emptyOutbox(), finalisedEarly: 0 };
}

/**
 * A private copy to fold into (the input stays untouched, so a retry can reuse it). Hand
 * written because it is on the hot path: structuredClone was half the fold's time. The
 * outbox is not copied: every fold replaces it.
 */
export function cloneState(state: SensorState): SensorState {
  const windows: Record<string, OpenWindow> = {};
  for (const key in state.windows) {
    const w = state.windows[key]!;
    const aggs: Record<string, Aggregate> = {};
    for (const metric in w.aggs) aggs[metric] = cloneAggregate(w.aggs[metric]!);
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
  if (state.claim !== undefined) copy.claim = state.claim;
  if (state.sd !== undefined) copy.sd = state.sd;
  if (state.alarms) {
    const alarms: Record<string, AlarmEntry> = {};
    for (const rule in state.alarms) alarms[rule] = cloneEntry(state.alarms[rule]!);
    copy.alarms = alarms;
  }
  // Kind states are replaced, never changed in place (rules/kind.ts), so a shallow copy will do.
  if (state.rs) {
    const rs: Record<string, RuleMemory> = {};
    for (const rule in state.rs) rs[rule] = { ...state.rs[rule]! };
    copy.rs = rs;
  }
  return copy;
}
