/**
 * An alarm's stored state per (sensor, rule), kept in the sensor's state item beside its
 * windows (docs/SEMANTICS.md A-L1), in short keys: it is on every state item that has an
 * alarm-mode rule.
 */

import type { Severity } from '../rules/common.js';

/** The states of AWS IoT Events alarms. */
export const ALARM_STATES = [
  'NORMAL',
  'ACTIVE',
  'ACKNOWLEDGED',
  'LATCHED',
  'SNOOZE_DISABLED',
  'DISABLED',
] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

export type StateCode = 'N' | 'A' | 'K' | 'L' | 'S' | 'D';

export const STATE_CODE: Readonly<Record<AlarmState, StateCode>> = {
  NORMAL: 'N',
  ACTIVE: 'A',
  ACKNOWLEDGED: 'K',
  LATCHED: 'L',
  SNOOZE_DISABLED: 'S',
  DISABLED: 'D',
};
const STATE_OF = Object.fromEntries(Object.entries(STATE_CODE).map(([s, c]) => [c, s])) as Record<
  StateCode,
  AlarmState
>;

export function stateOf(entry: AlarmEntry): AlarmState {
  return STATE_OF[entry.st];
}

export interface AlarmEntry {
  st: StateCode;
  /** seq of the last published transition (0: none yet). */
  q: number;
  /** Open episode: since, last evaluated value, peak value, its time and its score. */
  si?: number;
  v?: number | null;
  pk?: number | null;
  pt?: number;
  ps?: number;
  /** Consecutive normal verdicts (towards clearAfter). */
  c?: number;
  /** snoozedUntil, while SNOOZE_DISABLED by a snooze. */
  su?: number;
  /** The last applied action ids (at most ACTION_IDS_KEPT). */
  ac?: string[];
  /** The rule as of the last transition (version if not 0, type, severity): RULE_REMOVED names it. */
  ver?: number;
  ty?: string;
  sv?: Severity;
}

/** Applied action ids remembered per alarm: a retried request is then harmless. */
export const ACTION_IDS_KEPT = 4;

export function newEntry(startDisabled: boolean): AlarmEntry {
  return { st: startDisabled ? 'D' : 'N', q: 0 };
}

export function alarmIdOf(rule: string, sensorId: string): string {
  // Rule names cannot contain '@' (rules/common.ts), so the first '@' splits the id.
  return `${rule}@${sensorId}`;
}

export function parseAlarmId(id: string): { rule: string; sensorId: string } | undefined {
  const at = id.indexOf('@');
  if (at <= 0 || at === id.length - 1) return undefined;
  return { rule: id.slice(0, at), sensorId: id.slice(at + 1) };
}

export function cloneEntry(entry: AlarmEntry): AlarmEntry {
  return entry.ac ? { ...entry, ac: entry.ac.slice() } : { ...entry };
}
