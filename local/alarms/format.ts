/**
 * How alarms read in a terminal (`npm run alarms`, the `npm start` view): one line per
 * alarm or transition, times in ISO-8601 UTC so every machine prints the same.
 */
import type { Transition } from '../../functions/domain/alarms/transition.js';
import type { AlarmRow } from './projection.js';

const iso = (ms: number | null | undefined) => (typeof ms === 'number' ? new Date(ms).toISOString() : '-');
const num = (v: number | null | undefined) => (typeof v === 'number' ? String(v) : '-');

/** `too-hot@s1  ACKNOWLEDGED  since ... value 41 peak 42  (ACKNOWLEDGED by alice at ..., seq 2)` */
export function alarmLine(a: AlarmRow): string {
  const who = a.by ? ` by ${a.by}` : '';
  const until = a.snoozedUntil !== undefined ? ` until ${iso(a.snoozedUntil)}` : '';
  const gone = a.transition === 'RULE_REMOVED' ? ' (rule removed)' : '';
  return (
    `${a.alarmId.padEnd(28)} ${a.state.padEnd(15)} ${a.severity.padEnd(8)} ` +
    `since ${iso(a.since)}  value ${num(a.value)}  peak ${num(a.peak)}${until}${gone}  ` +
    `(${a.transition}${who} at ${iso(a.at)}, seq ${a.seq})`
  );
}

/** `2026-...Z  ACKNOWLEDGED  too-hot@s1  ACTIVE -> ACKNOWLEDGED  by alice "note"  seq 2` */
export function transitionLine(t: Transition): string {
  const who = t.by ? `  by ${t.by}` : '';
  const note = t.note ? ` "${t.note}"` : '';
  const until = t.snoozedUntil !== undefined ? `  until ${iso(t.snoozedUntil)}` : '';
  return (
    `${iso(t.at)}  ${t.transition.padEnd(12)}  ${t.alarmId}  ${t.from} -> ${t.state}` +
    `${who}${note}${until}  value ${num(t.value)}  seq ${t.seq}`
  );
}
