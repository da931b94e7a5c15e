/**
 * Text of the live console: one line per event for logs and pipes, and a full screen
 * redrawn in place for a terminal. Pure formatting over a `LiveSnapshot`.
 */

import type { Transition } from '../../functions/domain/alarms/transition.js';
import { kindOf } from '../../functions/domain/rules/registry.js';
import type { Alert } from '../../functions/domain/rules.js';
import type { FinalWindow } from '../../functions/domain/state.js';
import type { LiveEvent, LiveSnapshot, WindowStats } from './monitor.js';

/** Event time as local wall-clock time (the simulator's event time is "now"). */
export function clock(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

export function elapsed(ms: number): string {
  return `${(ms / 1000).toFixed(1).padStart(6)}s`;
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

function range(start: number, end: number): string {
  return `${clock(start)}-${clock(end)}`;
}

export function describeFinalWindow(w: FinalWindow): string {
  const parts = Object.entries(w.metrics).map(
    ([metric, s]) => `${metric} count ${s.count} mean ${num(s.mean)} min ${num(s.min)} max ${num(s.max)}`,
  );
  return `${w.sensorId} ${w.windowType} ${range(w.windowStart, w.windowEnd)} ${parts.join('; ')}`;
}

export function describeAlert(a: Alert): string {
  const cause = kindOf(a.ruleType).describeAlert(a);
  return `${a.severity} ${a.rule} ${a.sensorId} ${a.metric} ${num(a.value)}${cause} at ${clock(a.timestamp)}${a.late ? ' (late reading)' : ''}`;
}

export function describeTransition(t: Transition): string {
  const value = t.value === null ? '' : ` ${t.metric ?? ''} ${num(t.value)}`;
  const who = t.by ? ` by ${t.by}${t.note ? ` (${t.note})` : ''}` : '';
  return `${t.severity} ${t.alarmId} ${t.transition} ${t.from} -> ${t.state}${value} at ${clock(t.at)}${who}`;
}

function preview(base64: string): string {
  const text = Buffer.from(base64, 'base64').toString('utf8').replace(/\s+/g, ' ');
  return JSON.stringify(text.length > 50 ? `${text.slice(0, 50)}...` : text);
}

/** One line per event, for the line view. */
export function formatEvent(e: LiveEvent, sinceStartMs: number): string {
  const t = `[${elapsed(sinceStartMs)}]`;
  switch (e.kind) {
    case 'window':
      return `${t} window  ${describeFinalWindow(e.window)}`;
    case 'alert':
      return `${t} alert   ${describeAlert(e.alert)}`;
    case 'alarm':
      return `${t} alarm   ${describeTransition(e.transition)}`;
    case 'late':
      return `${t} late    ${e.late.sensorId} reading at ${clock(e.late.timestamp)}: window ${range(e.late.windowStart, e.late.windowEnd)} was already final`;
    case 'invalid':
      return `${t} invalid ${e.invalid.reason} (key ${e.invalid.partitionKey}): ${preview(e.invalid.data)}`;
  }
}

export function formatCounters(s: LiveSnapshot): string {
  return (
    `sent ${s.sent}, processed ${s.processed}, readings ${Math.max(0, s.processed - s.invalid)}, ` +
    `invalid ${s.invalid}, late ${s.late}, alerts ${s.alerts}, windows ${s.windows}, ` +
    `throughput ${s.throughput.toFixed(1)} records/s, iterator lag ${Math.round(s.iteratorLagMs)} ms`
  );
}

export function describeCurrent(sensorId: string, w: WindowStats): string {
  return `${sensorId} ${range(w.start, w.end)} ${w.metric} count ${w.count} mean ${num(w.mean)} min ${num(w.min)} max ${num(w.max)}`;
}

/** Lines for the line view's periodic "current windows" block (at most `max` sensors). */
export function formatCurrent(s: LiveSnapshot, sinceStartMs: number, max = 10): string[] {
  const t = `[${elapsed(sinceStartMs)}]`;
  const entries = [...s.current.entries()];
  const lines = entries.slice(0, max).map(([id, w]) => `${t} current ${describeCurrent(id, w)}`);
  if (entries.length > max) lines.push(`${t} current ... and ${entries.length - max} more sensors`);
  return lines;
}

/** One alarm and its state: `too-hot@s1  ACKNOWLEDGED  since 12:00:01  value 41  (ACKNOWLEDGED by alice)`. */
export function describeAlarm(t: Transition): string {
  const who = t.by ? ` by ${t.by}` : '';
  const since = t.since !== null ? `  since ${clock(t.since)}` : '';
  const removed = t.transition === 'RULE_REMOVED' ? '  (rule removed)' : '';
  const value = t.value === null ? '-' : num(t.value);
  return `${t.alarmId}  ${t.state}${since}  value ${value}${removed}  (${t.transition}${who}, seq ${t.seq})`;
}

/** The alarms with their states, in id order (the line view prints them with the current windows). */
export function formatAlarms(s: LiveSnapshot, sinceStartMs: number, max = 10): string[] {
  const t = `[${elapsed(sinceStartMs)}]`;
  const alarms = [...s.alarms.values()].sort((a, b) =>
    a.alarmId < b.alarmId ? -1 : a.alarmId > b.alarmId ? 1 : 0,
  );
  const lines = alarms.slice(0, max).map((a) => `${t} alarm   ${describeAlarm(a)}`);
  if (alarms.length > max) lines.push(`${t} alarm   ... and ${alarms.length - max} more alarms`);
  return lines;
}

// ---------------------------------------------------------------------------------------
// Full screen (TTY)
// ---------------------------------------------------------------------------------------

const ESC = '\x1b[';
export const ANSI = {
  home: `${ESC}H`,
  clearScreen: `${ESC}2J`,
  clearLine: `${ESC}K`,
  clearBelow: `${ESC}J`,
  hideCursor: `${ESC}?25l`,
  showCursor: `${ESC}?25h`,
  bold: (t: string) => `${ESC}1m${t}${ESC}0m`,
  dim: (t: string) => `${ESC}2m${t}${ESC}0m`,
  red: (t: string) => `${ESC}31m${t}${ESC}0m`,
  yellow: (t: string) => `${ESC}33m${t}${ESC}0m`,
};

function pad(text: string, width: number): string {
  return text.length >= width ? text.slice(0, width) : text + ' '.repeat(width - text.length);
}

/** The whole screen as lines (no escapes except colour); the caller positions them. */
export function renderScreen(
  s: LiveSnapshot,
  header: string,
  sinceStartMs: number,
  size: { columns: number; rows: number },
): string[] {
  const lines: string[] = [];
  lines.push(ANSI.bold(header));
  lines.push(
    `up ${elapsed(sinceStartMs).trim()}   throughput ${s.throughput.toFixed(1)} records/s   iterator lag ${Math.round(s.iteratorLagMs)} ms   Ctrl-C to stop`,
  );
  lines.push(
    `records sent ${s.sent}  processed ${s.processed}  readings ${Math.max(0, s.processed - s.invalid)}  ` +
      `invalid ${s.invalid}  late ${s.late}  alerts ${s.alerts}  final windows ${s.windows}`,
  );
  lines.push('');
  lines.push(
    ANSI.bold(`${pad('CURRENT WINDOW (open)', 24)}${pad('window', 20)}count     mean      min      max`),
  );
  const sensors = [...s.current.entries()];
  // Leave room for the other sections on small terminals.
  const maxSensors = Math.max(3, Math.floor((size.rows - 12) / 3));
  for (const [id, w] of sensors.slice(0, maxSensors)) {
    lines.push(
      `${pad(id, 24)}${pad(range(w.start, w.end), 20)}${String(w.count).padStart(5)}` +
        `${num(w.mean).padStart(9)}${num(w.min).padStart(9)}${num(w.max).padStart(9)}`,
    );
  }
  if (sensors.length > maxSensors)
    lines.push(ANSI.dim(`... and ${sensors.length - maxSensors} more sensors`));
  if (sensors.length === 0) lines.push(ANSI.dim('(waiting for the first readings)'));
  lines.push('');
  const rest = Math.max(2, Math.floor((size.rows - lines.length - 6) / 3));
  lines.push(ANSI.bold('FINAL WINDOWS (newest first)'));
  for (const w of s.recentWindows.slice(0, rest)) lines.push(describeFinalWindow(w));
  if (s.recentWindows.length === 0) lines.push(ANSI.dim('(none yet)'));
  if (s.alarms.size > 0) {
    lines.push(ANSI.bold('ALARMS (state; npm run alarms -- ack|snooze|... ID)'));
    const alarms = [...s.alarms.values()].sort((a, b) =>
      a.alarmId < b.alarmId ? -1 : a.alarmId > b.alarmId ? 1 : 0,
    );
    for (const a of alarms.slice(0, rest)) {
      const text = describeAlarm(a);
      lines.push(
        a.state === 'ACTIVE' || a.state === 'LATCHED'
          ? ANSI.red(text)
          : a.state === 'NORMAL'
            ? text
            : ANSI.yellow(text),
      );
    }
    if (alarms.length > rest) lines.push(ANSI.dim(`... and ${alarms.length - rest} more alarms`));
  }
  lines.push(ANSI.bold('ALERTS via SNS (newest first)'));
  for (const a of s.recentAlerts.slice(0, rest)) {
    const text = describeAlert(a);
    lines.push(a.severity === 'critical' ? ANSI.red(text) : ANSI.yellow(text));
  }
  if (s.recentAlerts.length === 0) lines.push(ANSI.dim('(none yet)'));
  lines.push(ANSI.bold('LATE AND INVALID RECORDS (newest first)'));
  for (const e of s.recentSetAside.slice(0, rest))
    lines.push(formatEvent(e, sinceStartMs).replace(/^\[[^\]]*\] /, ''));
  if (s.recentSetAside.length === 0) lines.push(ANSI.dim('(none yet)'));
  return lines.slice(0, Math.max(1, size.rows - 1)).map((l) => truncate(l, size.columns));
}

/** Cuts a line to `columns` visible characters, keeping colour escapes intact. */
function truncate(line: string, columns: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i);
      if (end > i) {
        out += line.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    if (visible >= columns) continue;
    out += line[i];
    visible++;
  }
  return out;
}
