/**
 * Alarm mode in the fold: A-E1 evaluation order, A-E2 order of time, A-K1/A-K2 threshold
 * and delta alarms with clear bounds, A-L3 hysteresis, latching, A-L5 rule changes, and
 * that any split of a sensor's records into batches gives the same transitions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { RuleSet } from '../../functions/domain/rule-set.js';
import { newSensorState, type SensorRecord, type SensorState } from '../../functions/domain/state.js';
import { record } from './factories.js';

const hotAlarm = (extra: Record<string, unknown> = {}) => ({
  name: 'too-hot',
  type: 'threshold',
  metric: 'temperature',
  above: 35,
  mode: 'alarm',
  severity: 'critical',
  ...extra,
});
const cfg = (rules: unknown[]) => parseConfig({ rules });
const at = (r: SensorRecord, arrivalMs: number): SensorRecord => ({ ...r, arrivalMs });

/** Folds readings [event time, value] one record each, all in one batch; arrival = event time. */
function run(config: ReturnType<typeof cfg>, readings: [number, number][], state = newSensorState('s1')) {
  const records = readings.map(([t, v], i) => at(record('s1', t, v, i + 1), t));
  return foldSensorRecords(state, records, config);
}
const names = (ts: readonly Transition[] | undefined) => (ts ?? []).map((t) => `${t.transition}@${t.at}`);

describe('A-K1 threshold alarms, A-L3 clearing', () => {
  it('one ALARM when the value crosses, one RESOLVED when it is back, no alerts', () => {
    const r = run(cfg([hotAlarm()]), [
      [1_000, 20],
      [2_000, 40],
      [3_000, 41],
      [4_000, 20],
      [5_000, 21],
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@2000', 'RESOLVED@4000']);
    expect(r.effects.alerts).toEqual([]);
    expect(r.effects.transitions![1]).toMatchObject({
      sensorId: 's1',
      rule: 'too-hot',
      ruleVersion: 0,
      seq: 2,
      from: 'ACTIVE',
      state: 'NORMAL',
      since: 2_000,
      value: 20,
      peak: 41,
      peakAt: 3_000,
      clock: 'event',
      recordId: 'shardId-000000000000:4',
      detail: { above: 35 },
    });
  });

  it('clear.below: a value between it and the bound is neither and keeps the alarm', () => {
    const r = run(cfg([hotAlarm({ clear: { below: 30 } })]), [
      [1_000, 40],
      [2_000, 32],
      [3_000, 29],
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@1000', 'RESOLVED@3000']);
  });

  it('clearAfter counts consecutive normal readings; a band reading restarts it', () => {
    const r = run(cfg([hotAlarm({ clear: { below: 30 }, clearAfter: 2 })]), [
      [1_000, 40],
      [2_000, 20],
      [3_000, 32],
      [4_000, 20],
      [5_000, 20],
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@1000', 'RESOLVED@5000']);
  });

  it('latch: clearing goes to LATCHED, and a new breach reactivates the same episode', () => {
    const r = run(cfg([hotAlarm({ latch: true })]), [
      [1_000, 40],
      [2_000, 20],
      [3_000, 45],
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@1000', 'LATCHED@2000', 'ALARM@3000']);
    expect(r.effects.transitions![2]).toMatchObject({ since: 1_000, reactivated: true, peak: 45 });
  });

  it('refuses clear bounds on the wrong side, naming the field', () => {
    expect(() => cfg([hotAlarm({ clear: { below: 36 } })])).toThrowError(/rules\.0\.clear\.below/);
    expect(() => cfg([hotAlarm({ clear: { above: 1 } })])).toThrowError(/clear\.above needs `below`/);
  });
});

describe('A-K2 delta alarms', () => {
  const jump = { name: 'jump', type: 'delta', metric: 'temperature', maxDelta: 5, mode: 'alarm' } as const;
  it('compares with the rule’s last evaluated reading; clear.maxDelta is the clear bound', () => {
    const r = run(cfg([{ ...jump, clear: { maxDelta: 1 } }]), [
      [1_000, 20],
      [2_000, 30],
      [3_000, 32],
      [4_000, 32.5],
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@2000', 'RESOLVED@4000']);
    expect(r.effects.transitions![0]!.detail).toEqual({ previous: 20, maxDelta: 5 });
  });

  it('refuses clear.maxDelta above maxDelta', () => {
    expect(() => cfg([{ ...jump, clear: { maxDelta: 6 } }])).toThrowError(/rules\.0\.clear\.maxDelta/);
  });
});

describe('A-E2 Order of time for alarms', () => {
  it('a stateful rule skips a reading older than the newest it has evaluated', () => {
    const jump = { name: 'jump', type: 'delta', metric: 'temperature', maxDelta: 5, mode: 'alarm' } as const;
    const r = run(cfg([jump]), [
      [10_000, 20],
      [5_000, 90],
      [11_000, 21],
    ]);
    expect(r.effects.transitions).toBeUndefined();
    expect(r.state.rs?.jump).toEqual({ k: 'd', h: 11_000, s: { p: 21 } });
  });

  it('threshold: an older reading may raise, but never counts towards clearing', () => {
    const raise = run(cfg([hotAlarm()]), [
      [10_000, 20],
      [5_000, 40],
    ]);
    expect(names(raise.effects.transitions)).toEqual(['ALARM@5000']);
    const noClear = run(cfg([hotAlarm()]), [
      [10_000, 40],
      [5_000, 20],
    ]);
    expect(names(noClear.effects.transitions)).toEqual(['ALARM@10000']);
  });

  it('alert-mode rules and windows are unaffected by the alarm rules', () => {
    const both = cfg([hotAlarm(), { name: 'too-cold', type: 'threshold', metric: 'temperature', below: 5 }]);
    const r = run(both, [
      [1_000, 40],
      [2_000, 2],
    ]);
    expect(r.effects.alerts.map((a) => a.rule)).toEqual(['too-cold']);
    expect(names(r.effects.transitions)).toEqual(['ALARM@1000', 'RESOLVED@2000']);
  });
});

describe('A-E1 Evaluation order: a snooze that ended by the record’s arrival ends first', () => {
  it('SNOOZE_ENDED at snoozedUntil, then the reading’s own transition', () => {
    const snoozed: SensorState = {
      ...newSensorState('s1'),
      alarms: { 'too-hot': { st: 'S', q: 2, su: 50_000 } },
    };
    const config = cfg([hotAlarm()]);
    const during = foldSensorRecords(snoozed, [at(record('s1', 40_000, 40, 1), 40_000)], config);
    expect(during.effects.transitions).toBeUndefined();
    const after = foldSensorRecords(during.state, [at(record('s1', 45_000, 40, 2), 60_000)], config);
    expect(after.effects.transitions!.map((t) => [t.transition, t.at, t.seq])).toEqual([
      ['SNOOZE_ENDED', 50_000, 3],
      ['ALARM', 45_000, 4],
    ]);
  });
});

describe('A-L5 Rule changes', () => {
  it('an alarm whose rule no longer applies ends with RULE_REMOVED; its memory goes too', () => {
    const config = cfg([hotAlarm({ version: 3 })]);
    const active = run(config, [[1_000, 40]]);
    expect(active.state.alarms?.['too-hot']?.st).toBe('A');
    const gone = foldSensorRecords(
      active.state,
      [at(record('s1', 2_000, 40, 9), 2_500)],
      config,
      new RuleSet({ rules: [] }),
    );
    expect(gone.effects.transitions!.map((t) => [t.transition, t.at, t.state, t.ruleVersion, t.seq])).toEqual(
      [['RULE_REMOVED', 2_500, 'NORMAL', 3, 2]],
    );
    expect(gone.state.alarms).toBeUndefined();
    expect(gone.state.rs).toBeUndefined();
  });

  it('a new version keeps the alarm and messages carry the version that produced them', () => {
    const v1 = run(cfg([hotAlarm({ version: 1 })]), [[1_000, 40]]);
    const v2 = foldSensorRecords(
      v1.state,
      [at(record('s1', 2_000, 10, 2), 2_000)],
      cfg([hotAlarm({ version: 2 })]),
    );
    expect(v2.effects.transitions!.map((t) => [t.transition, t.ruleVersion])).toEqual([['RESOLVED', 2]]);
  });
});

describe('Chunking: any split into batches and any redelivery give the same transitions', () => {
  it('property', () => {
    const config = cfg([
      hotAlarm({ clear: { below: 30 }, clearAfter: 2 }),
      { name: 'jump', type: 'delta', metric: 'temperature', maxDelta: 8, mode: 'alarm', latch: true },
    ]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -5_000, max: 20_000 }), fc.integer({ min: 0, max: 60 })), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        (steps, cuts, redeliver) => {
          let ts = 1_000_000;
          const records = steps.map(([dt, v], i) => {
            ts += dt;
            return at(record('s1', ts, v, i + 1), 2_000_000 + i);
          });
          const whole = foldSensorRecords(newSensorState('s1'), records, config);
          let state = newSensorState('s1');
          const got: Transition[] = [];
          let i = 0;
          for (let c = 0; i < records.length; c++) {
            const size = cuts[c % cuts.length]!;
            const start = redeliver && i > 0 ? i - 1 : i;
            const r = foldSensorRecords(state, records.slice(start, i + size), config);
            got.push(...(r.effects.transitions ?? []));
            state = r.state;
            i += size;
          }
          expect(got).toEqual(whole.effects.transitions ?? []);
          expect(state.alarms).toEqual(whole.state.alarms);
        },
      ),
    );
  });
});
