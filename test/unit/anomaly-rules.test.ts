/**
 * The anomaly kinds in mode alarm: A-K3 zscore, A-K4 ewma, A-K5 rate (warm-up, clearing
 * and hysteresis, zero deviation, equal timestamps, parameter validation naming the
 * field, alarm mode only), and their state's bound (Bounds B5).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { ConfigError, parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import type { Evaluation, EvaluationContext } from '../../functions/domain/rules/kind.js';
import { type EwmaRule, ewma } from '../../functions/domain/rules/kinds/ewma.js';
import { type RateRule, rate } from '../../functions/domain/rules/kinds/rate.js';
import {
  MAX_ZSCORE_WINDOW,
  type ZscoreRule,
  type ZscoreState,
  zscore,
} from '../../functions/domain/rules/kinds/zscore.js';
import { kindOf, type Rule, RuleSchema } from '../../functions/domain/rules/registry.js';
import { newSensorState, type SensorRecord } from '../../functions/domain/state.js';
import { record } from './factories.js';

const parseRule = <R extends Rule>(raw: Record<string, unknown>) =>
  RuleSchema.parse({ name: 'r', metric: 'temperature', ...raw }) as R;
const zRule = (extra: Record<string, unknown> = {}) =>
  parseRule<ZscoreRule>({ type: 'zscore', window: { count: 20 }, threshold: 3, minCount: 5, ...extra });
const eRule = (extra: Record<string, unknown> = {}) =>
  parseRule<EwmaRule>({ type: 'ewma', alpha: 0.2, k: 3, minCount: 5, ...extra });
const rRule = (extra: Record<string, unknown> = {}) =>
  parseRule<RateRule>({ type: 'rate', above: 2, ...extra });

/** Runs readings [event time, value] through a kind's evaluate, threading the state. */
function evaluateAll<R extends Rule, S>(
  kind: { evaluate(rule: R, s: S | undefined, x: number, at: EvaluationContext): Evaluation<S> },
  rule: R,
  readings: readonly [number, number][],
): Evaluation<S>[] {
  let state: S | undefined;
  return readings.map(([t, x]) => {
    const e = kind.evaluate(rule, state, x, { t });
    state = e.state;
    return e;
  });
}
const verdicts = (es: readonly Evaluation<unknown>[]) => es.map((e) => e.verdict);
/** Readings 1 s apart alternating 19 and 21: mean 20, sample deviation sqrt(10/9) for 10. */
const steady = (n: number, from = 0): [number, number][] =>
  Array.from({ length: n }, (_, i) => [(from + i) * 1_000, i % 2 === 0 ? 19 : 21]);

function issuesOf(raw: Record<string, unknown>): string {
  try {
    parseConfig({ rules: [{ name: 'r', metric: 'temperature', ...raw }] });
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.join('\n');
    throw e;
  }
  return '';
}

describe('A-K3 zscore', () => {
  it('warm-up: readings are only remembered until the window holds minCount', () => {
    const es = evaluateAll(zscore, zRule(), [...steady(5), [5_000, 1_000]]);
    expect(verdicts(es)).toEqual(['skip', 'skip', 'skip', 'skip', 'skip', 'breach']);
    expect(es[4]!.detail).toEqual({ count: 4, minCount: 5 });
  });

  it('breaches beyond threshold deviations of the previous readings, with z, mean and stddev', () => {
    const es = evaluateAll(zscore, zRule(), [...steady(10), [10_000, 26]]);
    const last = es.at(-1)!;
    expect(last.verdict).toBe('breach');
    expect(last.detail.mean).toBe(20);
    expect(last.detail.stddev).toBeCloseTo(Math.sqrt(10 / 9), 12);
    expect(last.detail.z).toBeCloseTo(6 / Math.sqrt(10 / 9), 12);
    expect(last.score).toBe(last.detail.z);
    expect(last.detail).toMatchObject({ count: 10, threshold: 3 });
  });

  it('direction: above ignores a drop, below ignores a rise, both sees either', () => {
    const drop: [number, number][] = [...steady(10), [10_000, 10]];
    expect(evaluateAll(zscore, zRule({ direction: 'above' }), drop).at(-1)!.verdict).toBe('normal');
    expect(evaluateAll(zscore, zRule({ direction: 'below' }), drop).at(-1)!.verdict).toBe('breach');
    expect(evaluateAll(zscore, zRule(), drop).at(-1)!.verdict).toBe('breach');
    const rise: [number, number][] = [...steady(10), [10_000, 30]];
    expect(evaluateAll(zscore, zRule({ direction: 'below' }), rise).at(-1)!.verdict).toBe('normal');
  });

  it('clear: between clear and threshold is band (hysteresis), at or under clear is normal', () => {
    const rule = zRule({ threshold: 3, clear: 1 });
    // stddev sqrt(10/9) ~ 1.054: 22.2 is z ~ 2.09, between clear and threshold; 21 is z ~ 0.95.
    const band = evaluateAll(zscore, rule, [...steady(10), [10_000, 22.2]]).at(-1)!;
    expect(band.verdict).toBe('band');
    const normal = evaluateAll(zscore, rule, [...steady(10), [10_000, 21]]).at(-1)!;
    expect(normal.verdict).toBe('normal');
  });

  it('stddev 0: the same value is normal (z 0), any other breaches with z null and the largest score', () => {
    const flat: [number, number][] = Array.from({ length: 6 }, (_, i) => [i * 1_000, 0.1]);
    const same = evaluateAll(zscore, zRule(), [...flat, [6_000, 0.1]]).at(-1)!;
    expect(same).toMatchObject({ verdict: 'normal', score: 0, detail: { z: 0, stddev: 0, mean: 0.1 } });
    const off = evaluateAll(zscore, zRule(), [...flat, [6_000, 0.1000001]]).at(-1)!;
    expect(off).toMatchObject({ verdict: 'breach', score: Number.MAX_VALUE, detail: { z: null, stddev: 0 } });
    expect(evaluateAll(zscore, zRule({ direction: 'below' }), [...flat, [6_000, 0.2]]).at(-1)!.verdict).toBe(
      'normal',
    );
  });

  it('count window: holds the last count readings, oldest dropped', () => {
    const es = evaluateAll(zscore, zRule({ window: { count: 3 }, minCount: 2 }), [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
    ]);
    expect(es.at(-1)!.state).toEqual({ v: [2, 3, 4] });
  });

  it('span window: readings within spanMs before the reading, capped at maxCount', () => {
    const rule = zRule({ window: { spanMs: 10_000, maxCount: 4 }, minCount: 2 });
    const es = evaluateAll(zscore, rule, [
      [0, 1],
      [5_000, 2],
      [10_000, 3],
      [11_000, 4],
    ]);
    // At 10 s the reading of 0 s is exactly spanMs old: out. At 11 s: 5 s and 10 s remain.
    expect(es[2]!.detail.count).toBe(1);
    expect(es[3]!.detail.count).toBe(2);
    expect(es.at(-1)!.state).toEqual({ v: [2, 3, 4], t: [5_000, 10_000, 11_000] });
    const capped = evaluateAll(zscore, rule, steady(8)).at(-1)!.state as ZscoreState;
    expect(capped.v).toHaveLength(4);
    expect(capped.t).toEqual([4_000, 5_000, 6_000, 7_000]);
  });

  it('validation names the field', () => {
    expect(issuesOf({ type: 'zscore', window: { count: 1 }, threshold: 3 })).toMatch(
      /rules\.0\.window\.count: /,
    );
    expect(issuesOf({ type: 'zscore', window: { count: MAX_ZSCORE_WINDOW + 1 }, threshold: 3 })).toMatch(
      /rules\.0\.window\.count: .*500/,
    );
    expect(issuesOf({ type: 'zscore', window: { count: 5, spanMs: 1_000 }, threshold: 3 })).toMatch(
      /rules\.0\.window: a zscore window has exactly one of `count` and `spanMs`/,
    );
    expect(issuesOf({ type: 'zscore', window: { count: 5, maxCount: 5 }, threshold: 3 })).toMatch(
      /rules\.0\.window\.maxCount: maxCount caps a `spanMs` window only/,
    );
    expect(issuesOf({ type: 'zscore', window: { count: 5 }, threshold: 0 })).toMatch(/rules\.0\.threshold: /);
    expect(issuesOf({ type: 'zscore', window: { count: 5 }, threshold: 3, clear: 4 })).toMatch(
      /rules\.0\.clear: clear must be at most threshold/,
    );
    expect(issuesOf({ type: 'zscore', window: { count: 5 }, threshold: 3, minCount: 6 })).toMatch(
      /rules\.0\.minCount: minCount must be at most/,
    );
    expect(issuesOf({ type: 'zscore', window: { count: 5 }, threshold: 3, direction: 'up' })).toMatch(
      /rules\.0\.direction: /,
    );
    expect(issuesOf({ type: 'zscore', window: { spanMs: 500 }, threshold: 3 })).toMatch(
      /rules\.0\.window\.spanMs: /,
    );
  });

  it('changing the window restarts the state (A-L5); changing the threshold does not', () => {
    expect(zscore.stateKey(zRule())).not.toBe(zscore.stateKey(zRule({ window: { count: 21 } })));
    expect(zscore.stateKey(zRule())).toBe(zscore.stateKey(zRule({ threshold: 4 })));
    expect(zscore.stateKey(zRule({ window: { spanMs: 60_000 } }))).not.toBe(
      zscore.stateKey(zRule({ window: { spanMs: 60_000, maxCount: 100 } })),
    );
  });
});

describe('A-K4 ewma', () => {
  it('warm-up: the first minCount readings are only folded in', () => {
    const es = evaluateAll(ewma, eRule(), [...steady(5), [5_000, 100]]);
    expect(verdicts(es)).toEqual(['skip', 'skip', 'skip', 'skip', 'skip', 'breach']);
  });

  it('breach beyond k EW deviations; the mean and variance follow West’s update', () => {
    const rule = eRule({ alpha: 0.5, minCount: 2 });
    const es = evaluateAll(ewma, rule, [
      [0, 10],
      [1_000, 12],
      [2_000, 30],
    ]);
    // After 10 then 12: m = 11, v = 0.5 * (0 + 2 * 1) = 1; 30 is 19 from 11, beyond 3 * 1.
    expect(es[1]!.state).toEqual({ m: 11, v: 1, n: 2, t: 1_000 });
    expect(es[2]).toMatchObject({
      verdict: 'breach',
      score: 19,
      detail: { mean: 11, stddev: 1, deviation: 19, k: 3 },
    });
  });

  it('maxDeviation alone: an absolute distance from the mean', () => {
    const rule = eRule({ alpha: 0.5, k: undefined, maxDeviation: 5, minCount: 1 });
    const es = evaluateAll(ewma, rule, [
      [0, 10],
      [1_000, 14],
      [2_000, 30],
    ]);
    expect(verdicts(es)).toEqual(['skip', 'normal', 'breach']);
    expect(es[2]!.detail).toEqual({ mean: 12, stddev: 2, deviation: 18, maxDeviation: 5 });
  });

  it('clear: within clear.k is normal, between clear.k and k is band', () => {
    const rule = eRule({ alpha: 0.5, minCount: 2, k: 3, clear: { k: 1 } });
    const base: [number, number][] = [
      [0, 10],
      [1_000, 12],
    ];
    expect(evaluateAll(ewma, rule, [...base, [2_000, 13]]).at(-1)!.verdict).toBe('band');
    expect(evaluateAll(ewma, rule, [...base, [2_000, 11.5]]).at(-1)!.verdict).toBe('normal');
  });

  it('stddev 0: the mean itself is normal, any other value breaches k', () => {
    const flat: [number, number][] = Array.from({ length: 6 }, (_, i) => [i * 1_000, 7]);
    expect(evaluateAll(ewma, eRule(), [...flat, [6_000, 7]]).at(-1)!.verdict).toBe('normal');
    expect(evaluateAll(ewma, eRule(), [...flat, [6_000, 7.001]]).at(-1)).toMatchObject({
      verdict: 'breach',
      detail: { stddev: 0 },
    });
  });

  it('halfLifeMs: the weight is 1 - 2^(-dt/halfLife); an equal event time has weight 0', () => {
    const rule = eRule({ alpha: undefined, halfLifeMs: 10_000, minCount: 1 });
    const es = evaluateAll(ewma, rule, [
      [0, 0],
      [10_000, 100],
      [10_000, 1_000],
    ]);
    expect((es[1]!.state as { m: number }).m).toBe(50);
    expect((es[2]!.state as { m: number }).m).toBe(50);
  });

  it('validation names the field', () => {
    expect(issuesOf({ type: 'ewma', k: 3 })).toMatch(/rules\.0\.alpha: an ewma rule needs exactly one of/);
    expect(issuesOf({ type: 'ewma', alpha: 0.1, halfLifeMs: 60_000, k: 3 })).toMatch(/rules\.0\.alpha: /);
    expect(issuesOf({ type: 'ewma', alpha: 0, k: 3 })).toMatch(/rules\.0\.alpha: /);
    expect(issuesOf({ type: 'ewma', alpha: 1.5, k: 3 })).toMatch(/rules\.0\.alpha: /);
    expect(issuesOf({ type: 'ewma', alpha: 1 })).toMatch(
      /rules\.0\.k: an ewma rule needs `k`, `maxDeviation` or both/,
    );
    expect(issuesOf({ type: 'ewma', alpha: 0.5, k: 3, clear: { k: 4 } })).toMatch(
      /rules\.0\.clear\.k: clear\.k must be at most k 3/,
    );
    expect(issuesOf({ type: 'ewma', alpha: 0.5, k: 3, clear: { maxDeviation: 1 } })).toMatch(
      /rules\.0\.clear\.maxDeviation: clear\.maxDeviation needs `maxDeviation`/,
    );
    expect(issuesOf({ type: 'ewma', alpha: 0.5, k: 3, minCount: 0 })).toMatch(/rules\.0\.minCount: /);
    expect(issuesOf({ type: 'ewma', halfLifeMs: 10, k: 3 })).toMatch(/rules\.0\.halfLifeMs: /);
  });
});

describe('A-K5 rate', () => {
  it('the first reading is only remembered; then the change per second of event time', () => {
    const es = evaluateAll(rate, rRule(), [
      [0, 10],
      [2_000, 13],
      [2_500, 15],
    ]);
    expect(verdicts(es)).toEqual(['skip', 'normal', 'breach']);
    expect(es[1]!.detail).toEqual({ ratePerSecond: 1.5, previous: 10, previousAt: 0, above: 2 });
    expect(es[2]).toMatchObject({ score: 2, detail: { ratePerSecond: 4 } });
  });

  it('below: a fall faster than a negative bound', () => {
    const es = evaluateAll(rate, rRule({ above: undefined, below: -1 }), [
      [0, 10],
      [1_000, 8],
    ]);
    expect(es[1]).toMatchObject({ verdict: 'breach', score: 1 });
  });

  it('equal event times give no rate: not judged, and the later value replaces the earlier', () => {
    const es = evaluateAll(rate, rRule(), [
      [0, 10],
      [1_000, 10],
      [1_000, 50],
      [2_000, 51],
    ]);
    expect(verdicts(es)).toEqual(['skip', 'normal', 'skip', 'normal']);
    expect(es[3]!.detail.previous).toBe(50);
  });

  it('maxGapMs: readings further apart are not compared', () => {
    const es = evaluateAll(rate, rRule({ maxGapMs: 10_000 }), [
      [0, 0],
      [20_000, 100],
      [21_000, 101],
    ]);
    expect(verdicts(es)).toEqual(['skip', 'skip', 'normal']);
  });

  it('clear: a rate between clear.below and above is band', () => {
    const rule = rRule({ above: 2, clear: { below: 1 } });
    const es = evaluateAll(rate, rule, [
      [0, 0],
      [1_000, 1.5],
      [2_000, 2],
    ]);
    expect(verdicts(es)).toEqual(['skip', 'band', 'normal']);
  });

  it('validation names the field', () => {
    expect(issuesOf({ type: 'rate' })).toMatch(/rules\.0\.above: a rate rule needs `above`, `below` or both/);
    expect(issuesOf({ type: 'rate', above: 1, below: 2 })).toMatch(
      /rules\.0\.below: below must be less than above/,
    );
    expect(issuesOf({ type: 'rate', above: 1, clear: { below: 2 } })).toMatch(
      /rules\.0\.clear\.below: clear\.below 2 must be at most above 1/,
    );
    expect(issuesOf({ type: 'rate', above: 1, maxGapMs: 5 })).toMatch(/rules\.0\.maxGapMs: /);
    // A-K5's clear bounds are A-K1's: below <= clear.above <= clear.below <= above.
    expect(issuesOf({ type: 'rate', above: 5, below: -5, clear: { below: 1, above: 2 } })).toMatch(
      /rules\.0\.clear\.above: clear\.above 2 must be at most clear\.below 1/,
    );
  });
});

describe.each([
  ['zscore', { window: { count: 5 }, threshold: 3 }],
  ['ewma', { alpha: 0.5, k: 3 }],
  ['rate', { above: 1 }],
])('%s runs in mode alarm only', (type, params) => {
  it('defaults to alarm and refuses alert, naming mode', () => {
    const rule = parseRule({ type, ...params });
    expect(kindOf(rule.type).defaultMode).toBe('alarm');
    expect(issuesOf({ type, ...params, mode: 'alert' })).toMatch(
      new RegExp(`rules\\.0\\.mode: a ${type} rule keeps state .* only mode "alarm" keeps`),
    );
  });
});

describe('Through the fold: a zscore alarm goes ACTIVE then RESOLVED', () => {
  it('one ALARM on the spike, one RESOLVED when readings are back, with the detail', () => {
    const config = parseConfig({
      rules: [
        {
          name: 'odd',
          type: 'zscore',
          metric: 'temperature',
          window: { count: 20 },
          threshold: 3,
          minCount: 5,
        },
      ],
    });
    const readings: [number, number][] = [...steady(10), [10_000, 40], [11_000, 20]];
    const records: SensorRecord[] = readings.map(([t, v], i) => ({
      ...record('s1', t, v, i + 1),
      arrivalMs: t,
    }));
    const r = foldSensorRecords(newSensorState('s1'), records, config);
    const ts = r.effects.transitions ?? [];
    expect(ts.map((t: Transition) => `${t.transition}@${t.at}`)).toEqual(['ALARM@10000', 'RESOLVED@11000']);
    expect(ts[0]).toMatchObject({
      ruleType: 'zscore',
      value: 40,
      peak: 40,
      detail: { count: 10, threshold: 3 },
    });
    expect(r.effects.alerts).toEqual([]);
  });
});

describe('A-K3..A-K5 property: batch cuts, redelivery and JSON round trips change nothing', () => {
  it('a reading of -0 is kept as 0, as the state JSON would keep it', () => {
    const config = parseConfig({
      rules: [{ name: 'z', type: 'zscore', metric: 'temperature', window: { count: 5 }, threshold: 2 }],
    });
    const { state } = foldSensorRecords(newSensorState('s1'), [record('s1', 1_000, -0, 1)], config);
    const kept = (state.rs!.z!.s as ZscoreState).v[0]!;
    expect(Object.is(kept, 0)).toBe(true);
  });

  it('the same transitions and state, however the readings are cut and the state stored', () => {
    let withTransitions = 0;
    const config = parseConfig({
      rules: [
        {
          name: 'z-count',
          type: 'zscore',
          metric: 'temperature',
          window: { count: 8 },
          threshold: 2,
          minCount: 3,
        },
        {
          name: 'z-span',
          type: 'zscore',
          metric: 'temperature',
          window: { spanMs: 20_000, maxCount: 6 },
          threshold: 1.5,
          clear: 0.5,
          minCount: 2,
        },
        { name: 'e-alpha', type: 'ewma', metric: 'temperature', alpha: 0.3, k: 2, minCount: 3 },
        {
          name: 'e-half',
          type: 'ewma',
          metric: 'temperature',
          halfLifeMs: 5_000,
          k: 2,
          maxDeviation: 20,
          clear: { k: 1 },
          minCount: 2,
        },
        {
          name: 'ramp',
          type: 'rate',
          metric: 'temperature',
          above: 3,
          below: -3,
          clear: { below: 1 },
          latch: true,
        },
      ],
    });
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: -3_000, max: 6_000 }), fc.double({ min: -50, max: 50, noNaN: true })),
          { minLength: 1, maxLength: 60 },
        ),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        (steps, cuts, redeliver) => {
          let ts = 1_000_000;
          const records = steps.map(([dt, v], i) => {
            ts += dt;
            return { ...record('s1', ts, v, i + 1), arrivalMs: 2_000_000 + i };
          });
          const whole = foldSensorRecords(newSensorState('s1'), records, config);
          if ((whole.effects.transitions?.length ?? 0) > 0) withTransitions++;
          let state = newSensorState('s1');
          const got: Transition[] = [];
          let i = 0;
          for (let c = 0; i < records.length; c++) {
            const size = cuts[c % cuts.length]!;
            const start = redeliver && i > 0 ? i - 1 : i;
            const r = foldSensorRecords(state, records.slice(start, i + size), config);
            got.push(...(r.effects.transitions ?? []));
            // As the store keeps it: the state goes through JSON between batches.
            state = JSON.parse(JSON.stringify(r.state)) as typeof state;
            i += size;
          }
          expect(got).toEqual(whole.effects.transitions ?? []);
          expect(state.alarms).toEqual(whole.state.alarms);
          expect(state.rs).toEqual(whole.state.rs);
        },
      ),
      { numRuns: 200 },
    );
    // Not vacuous: about half the runs raise or clear some alarm.
    expect(withTransitions).toBeGreaterThan(40);
  });
});
