/**
 * Pattern rules in the fold: A-K6 n-of-m, A-K7 sequence and A-K8 absence (its reading
 * side: a gap in event time reveals the silence, the next reading resolves it), their
 * parameters refused with the field named, and that any cut of a sensor's records into
 * batches, with the state through JSON between them, gives the same transitions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { stateBody } from '../../functions/domain/bounds.js';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { MAX_N_OF_M_COUNT } from '../../functions/domain/rules/kinds/n-of-m.js';
import { newSensorState, type SensorRecord, type SensorState } from '../../functions/domain/state.js';
import { decodeStateBody } from '../../functions/domain/state-codec.js';
import { record } from './factories.js';

const cfg = (rules: unknown[]) => parseConfig({ rules });
const at = (r: SensorRecord, arrivalMs: number): SensorRecord => ({ ...r, arrivalMs });
const burst = (extra: Record<string, unknown> = {}) => ({
  name: 'burst',
  type: 'n-of-m',
  metric: 'temperature',
  above: 30,
  count: 3,
  withinMs: 10_000,
  ...extra,
});
/** `{ then: condition }`: the sequence kind's field name (A-K7); never a function, so never a thenable. */
// biome-ignore lint/suspicious/noThenProperty: the rule field is named `then`.
const thenOf = (condition: unknown) => ({ then: condition });
const surge = (extra: Record<string, unknown> = {}) => ({
  name: 'surge',
  type: 'sequence',
  metric: 'temperature',
  first: { below: 10 },
  ...thenOf({ above: 30 }),
  withinMs: 5_000,
  ...extra,
});
const silent = (extra: Record<string, unknown> = {}) => ({
  name: 'sensor-silent',
  type: 'absence',
  metric: 'temperature',
  silentForMs: 60_000,
  ...extra,
});

/** Readings [event time, value], one record each, one batch; arrival = event time. */
function run(config: ReturnType<typeof cfg>, readings: [number, number][], state = newSensorState('s1')) {
  const records = readings.map(([t, v], i) => at(record('s1', t, v, i + 1), t));
  return foldSensorRecords(state, records, config);
}
const names = (ts: readonly Transition[] | undefined) => (ts ?? []).map((t) => `${t.transition}@${t.at}`);
const refusal = (rule: Record<string, unknown>) => {
  try {
    cfg([rule]);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
};

describe('A-K6 n-of-m: count breaching readings within withinMs of event time', () => {
  it('ALARM at the count-th breach in the span, RESOLVED when fewer than count remain', () => {
    const r = run(cfg([burst()]), [
      [1_000, 40],
      [2_000, 20],
      [3_000, 41],
      [9_000, 42], // third breach within 10 s of the first: ALARM
      [11_000, 20], // the span is [1000, 11000]: 1000 is still in it, 3 remain
      [11_500, 20], // the breach at 1000 has left the span: 2 remain
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@9000', 'RESOLVED@11500']);
    expect(r.effects.transitions![0]).toMatchObject({
      ruleType: 'n-of-m',
      value: 42,
      peak: 42,
      detail: { inSpan: 3, count: 3, withinMs: 10_000 },
    });
    expect(r.effects.alerts).toEqual([]);
  });

  it('breaches spread wider than withinMs never raise it', () => {
    const r = run(cfg([burst()]), [
      [0, 40],
      [6_000, 40],
      [12_000, 40],
      [18_000, 40],
    ]);
    expect(names(r.effects.transitions)).toEqual([]);
  });

  it('a breach exactly withinMs before still counts (the span is [t - withinMs, t])', () => {
    const r = run(cfg([burst()]), [
      [0, 40],
      [5_000, 40],
      [10_000, 40],
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@10000']);
  });

  it('clear.count: band while clear.count or more remain, normal below it', () => {
    const r = run(cfg([burst({ clear: { count: 2 } })]), [
      [0, 40],
      [1_000, 40],
      [2_000, 40], // ALARM
      [10_500, 20], // 0 left the span: 2 remain (1000, 2000): band
      [11_500, 20], // 1 remains: normal
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@2000', 'RESOLVED@11500']);
  });

  it('below: the condition may be either bound', () => {
    const r = run(cfg([burst({ above: undefined, below: 0, count: 2 })]), [
      [0, -1],
      [1_000, -2],
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@1000']);
  });

  it('keeps at most count timestamps whatever the number of breaches', () => {
    const readings: [number, number][] = Array.from({ length: 50 }, (_, i) => [i * 100, 40]);
    const r = run(cfg([burst()]), readings);
    expect((r.state.rs!.burst!.s as { b: number[] }).b).toEqual([4_700, 4_800, 4_900]);
  });

  it.each([
    [{ count: 0 }, /rules\.0\.count/],
    [{ count: MAX_N_OF_M_COUNT + 1 }, /rules\.0\.count/],
    [{ withinMs: 10 }, /rules\.0\.withinMs/],
    [{ clear: { count: 4 } }, /rules\.0\.clear\.count: clear\.count must be at most count/],
    [{ above: undefined }, /needs `above`, `below` or both/],
    [{ mode: 'alert' }, /rules\.0\.mode: an n-of-m rule .* mode alarm only/],
  ])('refuses %j naming the field', (extra, message) => {
    expect(refusal(burst(extra))).toMatch(message);
  });
});

describe('A-K6 bounds: the kind state is bounded and counted in the body (B1)', () => {
  it('B5: as many n-of-m rules of count 100 as the rule-state budget admits (19) keep under 50 KB of state after any number of breaches, and a 20th is refused', () => {
    // Each declares 16 + 100 x 25 bytes (an event time of up to 24 characters and a comma).
    expect(() =>
      cfg(
        Array.from({ length: 20 }, (_, i) =>
          burst({ name: `burst-${String(i).padStart(2, '0')}`, count: 100 }),
        ),
      ),
    ).toThrowError(/rules\.19: rule "burst-19" does not fit in a sensor's rule-state budget/);
    const rules = Array.from({ length: 19 }, (_, i) =>
      burst({ name: `burst-${String(i).padStart(2, '0')}`, count: 100 }),
    );
    const t0 = Date.UTC(2026, 0, 1);
    const readings: [number, number][] = Array.from({ length: 300 }, (_, i) => [t0 + i * 10, 40]);
    const r = run(cfg(rules), readings);
    const rs = JSON.stringify(r.state.rs);
    expect(Object.keys(r.state.rs!)).toHaveLength(19);
    expect(Buffer.byteLength(rs)).toBeLessThan(50_000);
    expect(Buffer.byteLength(rs)).toBeGreaterThan(19 * 100 * 13); // the timestamps are there
    // The body holds them (packed, state-codec.ts) and reads them back as they were.
    const body = stateBody(r.state);
    expect(Buffer.byteLength(body)).toBeGreaterThan(19 * 100 * 13);
    expect(decodeStateBody(r.state.sensorId, r.state.version, body).rs).toEqual(r.state.rs);
  });
});

describe('A-K7 sequence: first, then within withinMs', () => {
  it('ALARM when then follows first within withinMs; RESOLVED on a reading meeting neither', () => {
    const r = run(cfg([surge()]), [
      [1_000, 5], // first
      [3_000, 35], // then, 2 s later: ALARM
      [4_000, 36], // then again (first still within the span): the episode goes on
      [5_000, 20], // neither: RESOLVED
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@3000', 'RESOLVED@5000']);
    expect(r.effects.transitions![0]).toMatchObject({
      ruleType: 'sequence',
      value: 35,
      detail: { firstAt: 1_000, elapsedMs: 2_000, withinMs: 5_000 },
    });
    expect(r.effects.transitions![1]).toMatchObject({ peak: 36, peakAt: 4_000 });
  });

  it('then too late, or then without a first, raises nothing', () => {
    const r = run(cfg([surge()]), [
      [0, 35],
      [1_000, 5],
      [6_001, 35],
    ]);
    expect(names(r.effects.transitions)).toEqual([]);
  });

  it('a reading meeting first or then keeps the alarm (band); clearAfter counts readings meeting neither', () => {
    const r = run(cfg([surge({ clearAfter: 2 })]), [
      [0, 5],
      [1_000, 35], // ALARM
      [2_000, 20], // neither: 1
      [3_000, 5], // first: band, the count restarts
      [20_000, 20], // neither: 1
      [21_000, 20], // neither: 2, RESOLVED
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@1000', 'RESOLVED@21000']);
  });

  it.each([
    [{ first: {} }, /rules\.0\.first: a condition needs `above`, `below` or both/],
    [thenOf({ above: 'x' }), /rules\.0\.then\.above/],
    [thenOf({ abov: 1 }), /rules\.0\.then/],
    [{ withinMs: 0 }, /rules\.0\.withinMs/],
    [{ mode: 'alert' }, /rules\.0\.mode/],
  ])('refuses %j naming the field', (extra, message) => {
    expect(refusal(surge(extra))).toMatch(message);
  });
});

describe('A-K8 absence, the reading side: a gap in event time reveals the silence it ends', () => {
  it('a reading more than silentForMs after the previous: ALARM at previous + silentForMs, RESOLVED at it', () => {
    const r = run(cfg([silent()]), [
      [0, 20],
      [30_000, 20],
      [100_000, 21], // 70 s after 30000: silent from 90000
      [110_000, 21],
    ]);
    expect(names(r.effects.transitions)).toEqual(['ALARM@90000', 'RESOLVED@100000']);
    const [alarm, resolved] = r.effects.transitions!;
    expect(alarm).toMatchObject({
      ruleType: 'absence',
      clock: 'event',
      value: null,
      since: 90_000,
      recordId: 'shardId-000000000000:3',
      detail: { lastReadingAt: 30_000, silentForMs: 60_000, silentMs: 70_000 },
    });
    expect(resolved).toMatchObject({ value: 21, since: 90_000, peak: null, peakAt: 90_000 });
  });

  it('exactly silentForMs between readings is not a silence', () => {
    expect(
      names(
        run(cfg([silent()]), [
          [0, 1],
          [60_000, 1],
        ]).effects.transitions,
      ),
    ).toEqual([]);
  });

  it('sd: the processing time the sweeper looks again is the last arrival + silentForMs', () => {
    const r = run(cfg([silent()]), [
      [0, 20],
      [5_000, 20],
    ]);
    expect(r.state.sd).toBe(65_000);
    // The rule gone (A-L5): nothing left for the sweeper.
    const later = foldSensorRecords(r.state, [at(record('s1', 6_000, 1, 9), 6_000)], cfg([]));
    expect(later.state.sd).toBeUndefined();
  });

  it.each([
    [{ silentForMs: 999 }, /rules\.0\.silentForMs/],
    [{ silentForMs: 8 * 86_400_000 }, /rules\.0\.silentForMs/],
    [{ mode: 'alert' }, /rules\.0\.mode: an absence rule is raised by the idle sweeper/],
    [{ above: 3 }, /above/],
  ])('refuses %j naming the field', (extra, message) => {
    expect(refusal(silent(extra))).toMatch(message);
  });
});

describe('Pattern rules: any cut into batches, with the state through JSON between them, gives the same transitions', () => {
  it('property', () => {
    const config = cfg([
      burst({ clear: { count: 2 } }),
      surge({ clearAfter: 2 }),
      silent({ silentForMs: 5_000 }),
    ]);
    const roundTrip = (s: SensorState): SensorState => JSON.parse(JSON.stringify(s));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -2_000, max: 8_000 }), fc.integer({ min: 0, max: 40 })), {
          minLength: 1,
          maxLength: 50,
        }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        (steps, cuts, redeliver) => {
          let ts = 1_000_000;
          const records = steps.map(([dt, v], i) => {
            ts += dt;
            return at(record('s1', ts, v, i + 1), 2_000_000 + i * 1_000);
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
            state = roundTrip(r.state);
            i += size;
          }
          expect(got).toEqual(whole.effects.transitions ?? []);
          expect(state.alarms).toEqual(whole.state.alarms);
          expect(state.rs).toEqual(whole.state.rs);
          expect(state.sd).toEqual(whole.state.sd);
        },
      ),
    );
  });
});
