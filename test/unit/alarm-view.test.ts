/**
 * The `npm start` terminal view shows every alarm with its state (the latest transition
 * seen on the alert topic), in the full screen and in the line view's periodic block.
 */
import { describe, expect, it } from 'vitest';
import { buildTransition } from '../../functions/domain/alarms/transition.js';
import type { LiveSnapshot } from '../../local/cli/monitor.js';
import { clock, describeAlarm, formatAlarms, renderScreen } from '../../local/cli/view.js';

/** The view's colour escapes (ESC [ ... m), stripped to compare text. */
const COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const ack = buildTransition(
  {
    sensorId: 's1',
    rule: 'too-hot',
    ruleVersion: 0,
    ruleType: 'threshold',
    severity: 'critical',
    metric: 'temperature',
    seq: 2,
  },
  {
    transition: 'ACKNOWLEDGED',
    from: 'ACTIVE',
    state: 'ACKNOWLEDGED',
    at: T0 + 5_000,
    clock: 'processing',
    since: T0,
    value: 41,
    peak: 42,
    peakAt: T0 + 1_000,
    by: 'alice',
  },
);
const active = buildTransition(
  {
    sensorId: 's2',
    rule: 'too-hot',
    ruleVersion: 0,
    ruleType: 'threshold',
    severity: 'critical',
    metric: 'temperature',
    seq: 1,
  },
  {
    transition: 'ALARM',
    from: 'NORMAL',
    state: 'ACTIVE',
    at: T0,
    clock: 'event',
    since: T0,
    value: 40,
    peak: 40,
    peakAt: T0,
  },
);

function snapshot(): LiveSnapshot {
  return {
    sent: 0,
    processed: 0,
    invalid: 0,
    late: 0,
    alerts: 0,
    windows: 0,
    throughput: 0,
    iteratorLagMs: 0,
    current: new Map(),
    recentWindows: [],
    recentAlerts: [],
    recentSetAside: [],
    alarms: new Map([
      [active.alarmId, active],
      [ack.alarmId, ack],
    ]),
  };
}

describe('npm start view: alarms with their states', () => {
  it('one line per alarm: id, state, since, value, the transition that set it and who', () => {
    expect(describeAlarm(ack)).toBe(
      `too-hot@s1  ACKNOWLEDGED  since ${clock(T0)}  value 41  (ACKNOWLEDGED by alice, seq 2)`,
    );
  });

  it('the line view lists them in id order', () => {
    expect(formatAlarms(snapshot(), 0).map((l) => l.replace(/^\[[^\]]*\] /, ''))).toEqual([
      `alarm   too-hot@s1  ACKNOWLEDGED  since ${clock(T0)}  value 41  (ACKNOWLEDGED by alice, seq 2)`,
      `alarm   too-hot@s2  ACTIVE  since ${clock(T0)}  value 40  (ALARM, seq 1)`,
    ]);
  });

  it('the full screen has an ALARMS section with both', () => {
    const text = renderScreen(snapshot(), 'h', 0, { columns: 200, rows: 60 }).map((l) =>
      l.replace(COLOUR, ''),
    );
    const at = text.findIndex((l) => l.startsWith('ALARMS'));
    expect(at).toBeGreaterThan(0);
    expect(text.slice(at + 1, at + 3)).toEqual([
      `too-hot@s1  ACKNOWLEDGED  since ${clock(T0)}  value 41  (ACKNOWLEDGED by alice, seq 2)`,
      `too-hot@s2  ACTIVE  since ${clock(T0)}  value 40  (ALARM, seq 1)`,
    ]);
  });
});
