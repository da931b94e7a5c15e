/**
 * The dashboard's contracts: what a data source reports (`DashboardSource` pushing
 * `DashboardEvent`s into a sink), what an alarm looks like on the page (`AlarmView`),
 * and the actions the page may take on one (`AlarmActions`, implemented by the alarms
 * module: the page's buttons call the same function as `npm run alarms -- ack|snooze`).
 *
 * Sources run on the server only: AWS clients and credentials never reach the page, which
 * receives the bounded, downsampled view the store keeps (store.ts).
 */

import type { Alert } from '../../functions/domain/rules.js';
import type { FinalWindow, LateReading } from '../../functions/domain/state.js';
import type { InvalidRecordMessage } from '../../functions/lib/effects.js';
import type { WindowStats } from '../cli/monitor.js';

/**
 * The newest open (not yet final) window of a sensor, for its first metric. A deployed
 * stack's comes from the state table: `asOf` is when that state was committed, and
 * `carried` says a carried state held the sensor then (SEMANTICS.md CS2), so readings
 * since are in Lambda's tumbling-window state until the window's checkpoint writes them.
 */
export type OpenWindowView = WindowStats & { sensorId: string; asOf?: number; carried?: boolean };

/** How often a deployed stack's state table is read for open windows, by default. */
export const DEFAULT_OPEN_POLL_MS = 15_000;

/**
 * One alarm of the alarm lifecycle (issue 10) as the page shows it. `state` is the
 * alarms module's own state name (NORMAL, ACTIVE, ACKNOWLEDGED, ...), shown as given.
 */
export interface AlarmView {
  id: string;
  sensorId: string;
  rule: string;
  ruleVersion?: number;
  state: string;
  /** The transition that led to `state` (ALARM, ACKNOWLEDGED, RULE_REMOVED, ...). */
  transition?: string;
  /** The alarm's transition count (A-L4): a lower one than the store holds is older news. */
  seq?: number;
  severity?: string;
  /** When the alarm entered its current state, epoch ms. */
  since: number;
  value?: number;
  peak?: number;
  /** Who acknowledged or snoozed it, and their note. */
  by?: string;
  note?: string;
  snoozedUntil?: number;
}

/**
 * What the page's acknowledge and snooze buttons call (through POST /api/alarms/...). The
 * alarms module implements it with the function its CLI uses; without an implementation
 * the page hides the buttons. The new state reaches the page the way every state does,
 * from the source, so the page never shows a change the alarm store did not make.
 */
export interface AlarmActions {
  ack(id: string, note: string, who: string): Promise<void>;
  snooze(id: string, forMs: number, who: string): Promise<void>;
}

/** The pipeline's health at one moment (local pipeline; a deployed stack may report none). */
export interface HealthSample {
  at: number;
  /** Records processed per second, recently. */
  throughput: number;
  /** Largest MillisBehindLatest of recent batches. */
  iteratorAgeMs: number;
  /** Records per batch of the batches invoked since the previous sample. */
  batchSizes: number[];
  counters: Record<string, number>;
  /** Chaos mode: injected faults by kind, and their total. */
  chaos?: { total: number; faults: Record<string, number> };
}

export type DashboardEvent =
  | { kind: 'window'; window: FinalWindow }
  | { kind: 'open'; open: OpenWindowView }
  | { kind: 'alert'; alert: Alert }
  | { kind: 'alarm'; alarm: AlarmView }
  | { kind: 'late'; at: number; late: LateReading }
  | { kind: 'invalid'; at: number; invalid: InvalidRecordMessage }
  | { kind: 'health'; health: HealthSample };

export interface DashboardSink {
  push(events: readonly DashboardEvent[]): void;
}

export interface DashboardSource {
  /** One line for the page's header: what is being watched. */
  readonly label: string;
  /** What this source can report, so the page hides the panels it never fills. */
  readonly provides: ReadonlyArray<'windows' | 'open' | 'alerts' | 'alarms' | 'setAside' | 'health'>;
  /** Starts pushing events into `sink`; resolves once the initial load was pushed. */
  start(sink: DashboardSink): Promise<void>;
  /** Stops reading; idempotent. The source's owner closes what it was given. */
  stop(): Promise<void>;
}
