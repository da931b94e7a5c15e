/**
 * A-K8 absence, the sweeper side: the idle sweeper's pure fold (domain/sweep.ts) raises a
 * silence once processing time passes the last arrival + silentForMs, at the event time
 * last reading + silentForMs; the next reading resolves it; nothing is raised twice,
 * whichever of the sweeper and the reading's gap saw the silence first.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { newSensorState, type SensorRecord, type SensorState } from '../../functions/domain/state.js';
import { isSweepDue, sweepSensor } from '../../functions/domain/sweep.js';
import { record } from './factories.js';

const silentFor = 60_000;
const config = parseConfig({
  rules: [{ name: 'sensor-silent', type: 'absence', metric: 'temperature', silentForMs: silentFor }],
});
/** Event time t, arriving `lag` ms of processing time later. */
const rec = (t: number, seq: number, lag = 500): SensorRecord => ({
  ...record('s1', t, 20, seq),
  arrivalMs: t + lag,
});
const names = (ts: readonly Transition[] | undefined) => (ts ?? []).map((t) => `${t.transition}@${t.at}`);
const sweep = (s: SensorState, nowMs: number) => sweepSensor(s, config, undefined, { flush: false, nowMs });

function heard(): SensorState {
  return foldSensorRecords(newSensorState('s1'), [rec(1_000, 1), rec(2_000, 2)], config).state;
}

describe('A-K8 absence: raised by the idle sweeper, resolved by the next reading', () => {
  it('is due once processing time passes the last arrival + silentForMs', () => {
    const s = heard();
    expect(s.sd).toBe(2_500 + silentFor);
    expect(isSweepDue(s, 2_500 + silentFor)).toBe(false);
    const early = sweep(s, 2_500 + silentFor);
    expect(early.state).toBe(s);
    expect(early.effects.transitions).toBeUndefined();
  });

  it('the sweep raises ALARM at the last event time + silentForMs (clock event, no record), then nothing is due', () => {
    const swept = sweep(heard(), 2_500 + silentFor + 1);
    expect(names(swept.effects.transitions)).toEqual([`ALARM@${2_000 + silentFor}`]);
    const [alarm] = swept.effects.transitions!;
    expect(alarm).toMatchObject({
      alarmId: 'sensor-silent@s1',
      ruleType: 'absence',
      from: 'NORMAL',
      state: 'ACTIVE',
      clock: 'event',
      since: 2_000 + silentFor,
      value: null,
      detail: { lastReadingAt: 2_000, silentForMs: silentFor },
    });
    expect(alarm!.recordId).toBeUndefined();
    expect(swept.state.outbox.transitions).toEqual(swept.effects.transitions);
    expect(swept.state.sd).toBeUndefined();
    // Sweeping again (a retried sweep, a second sweeper) finds nothing to do.
    expect(sweep(swept.state, 10 * silentFor).effects.transitions).toBeUndefined();
  });

  it('the next reading resolves it, once, and the sweeper looks again from its arrival', () => {
    const swept = sweep(heard(), 200_000).state;
    const back = foldSensorRecords(swept, [rec(300_000, 3), rec(301_000, 4)], config);
    expect(names(back.effects.transitions)).toEqual(['RESOLVED@300000']);
    expect(back.effects.transitions![0]).toMatchObject({
      since: 62_000,
      value: 20,
      recordId: 'shardId-000000000000:3',
    });
    expect(back.state.sd).toBe(301_500 + silentFor);
  });

  it('a reading within silentForMs of event time after a sweep-raised silence still resolves it (processing time saw the silence)', () => {
    const swept = sweep(heard(), 200_000).state;
    const back = foldSensorRecords(swept, [rec(3_000, 3, 190_000)], config);
    expect(names(back.effects.transitions)).toEqual(['RESOLVED@3000']);
  });

  it('a sensor that never sent a reading under the rule is not due (no state to measure from)', () => {
    const s = foldSensorRecords(newSensorState('s1'), [rec(1_000, 1)], parseConfig({ rules: [] })).state;
    expect(s.sd).toBeUndefined();
  });

  it('a snooze over the silence: due at its end, SNOOZE_ENDED then ALARM', () => {
    const s = heard();
    s.alarms = { 'sensor-silent': { st: 'S', q: 1, su: 500_000 } };
    const sd = foldSensorRecords(s, [rec(3_000, 3)], config).state;
    expect(sd.sd).toBe(500_000);
    const swept = sweep(sd, 500_001);
    expect(names(swept.effects.transitions)).toEqual(['SNOOZE_ENDED@500000', `ALARM@${3_000 + silentFor}`]);
  });

  it("flush and raise in one sweep: the idle sensor's windows and its silence in one commit", () => {
    const s = heard();
    const swept = sweepSensor(s, config, undefined, { flush: true, nowMs: 200_000 });
    expect(swept.effects.results.length).toBeGreaterThan(0);
    expect(names(swept.effects.transitions)).toEqual(['ALARM@62000']);
    expect(swept.state.windows).toEqual({});
  });

  it('property: whenever the sweeps run, each silence gives at most one ALARM and the next reading one RESOLVED', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 150_000 }), fc.integer({ min: 0, max: 3 })), {
          minLength: 1,
          maxLength: 30,
        }),
        (steps) => {
          let state = newSensorState('s1');
          let t = 0;
          const all: Transition[] = [];
          steps.forEach(([dt, sweeps], i) => {
            // Sweeps at evenly spread processing times within the gap, then the reading.
            for (let k = 1; k <= sweeps; k++) {
              const r = sweep(state, t + 500 + Math.floor((dt * k) / (sweeps + 1)));
              all.push(...(r.effects.transitions ?? []));
              state = JSON.parse(JSON.stringify(r.state));
            }
            t += dt;
            const r = foldSensorRecords(state, [rec(t, i + 1)], config);
            all.push(...(r.effects.transitions ?? []));
            state = JSON.parse(JSON.stringify(r.state));
          });
          // Strictly alternating ALARM, RESOLVED, with consecutive seq.
          expect(all.map((x) => x.transition)).toEqual(
            all.map((_, i) => (i % 2 === 0 ? 'ALARM' : 'RESOLVED')),
          );
          expect(all.map((x) => x.seq)).toEqual(all.map((_, i) => i + 1));
          // One episode per gap over silentForMs (arrival lags event time by a constant here).
          const silences = steps.slice(1).filter(([dt]) => dt > silentFor).length;
          expect(all.length).toBe(2 * silences);
        },
      ),
    );
  });
});

describe('A-K8 absence: a due sensor whose rule is gone', () => {
  it('the sweep drops the stale sd and asks for the state to be written, raising nothing', () => {
    const s = heard();
    const swept = sweepSensor(s, parseConfig({ rules: [] }), undefined, { flush: false, nowMs: 200_000 });
    expect(swept.effects.transitions).toBeUndefined();
    expect(swept.state.sd).toBeUndefined();
    expect(swept.rewrite).toBe(true);
    // Nothing stale: nothing to write.
    expect(
      sweepSensor(swept.state, config, undefined, { flush: false, nowMs: 300_000 }).rewrite,
    ).toBeUndefined();
  });
});
