/**
 * Percentiles in final windows (docs/SEMANTICS.md "Windows", percentiles; issue 17): each
 * final window of a metric with percentiles carries `p50`, `p90`, ... after `stddev`; each
 * is within `percentileAccuracy` (relative) of the exact nearest-rank percentile of the
 * window's readings, exactly 0 when that is 0, and within [min, max]: for negative values
 * and zero, one-value windows, and values at the numeric domain's bounds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addValue,
  emptyAggregate,
  MAX_METRIC_MAGNITUDE,
  MIN_METRIC_MAGNITUDE,
  summarize,
} from '../../functions/domain/aggregate.js';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { isPercentileName } from '../../functions/domain/percentile-config.js';
import { percentileName } from '../../functions/domain/sketch/estimate.js';
import { sketchSpec } from '../../functions/domain/sketch/sketch.js';
import { newStorableSketch } from '../../functions/domain/sketch/stored.js';
import { type FinalWindow, newSensorState } from '../../functions/domain/state.js';
import { flushSensor } from '../../functions/domain/windows/finalise.js';
import { windowLines } from '../../local/window-lines.js';
import { record, recordOf } from './factories.js';

fc.configureGlobal({ interruptAfterTimeLimit: 20_000 });

const QUANTILES = [0, 0.1, 0.5, 0.9, 0.99, 0.999, 1];
const NAMES = ['p0', 'p10', 'p50', 'p90', 'p99', 'p99_9', 'p100'];

/** The one final window of `values` (one tumbling window, flushed). */
function finalOf(values: readonly number[], extra: Record<string, unknown> = {}): FinalWindow {
  const config = parseConfig({ rules: [], percentiles: QUANTILES, ...extra });
  const folded = foldSensorRecords(
    newSensorState('s'),
    values.map((v, i) => record('s', i, v, i + 1)),
    config,
  );
  const [final] = flushSensor(folded.state, config).effects.results;
  return final!;
}

/** The exact nearest-rank percentile: the k-th smallest, k = max(1, ceil(q n)). */
function exact(values: readonly number[], q: number): number {
  const sorted = [...values].map((v) => (v === 0 ? 0 : v)).sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/** A failure message, or '' when every percentile of `final` honours the contract. */
function violations(values: readonly number[], final: FinalWindow, alpha: number): string {
  const s = final.metrics.temperature!;
  const problems: string[] = [];
  QUANTILES.forEach((q, i) => {
    const got = s[NAMES[i] as `p${string}`];
    const want = exact(values, q);
    if (typeof got !== 'number') problems.push(`${NAMES[i]} missing`);
    else if (want === 0 ? got !== 0 : Math.abs(got - want) > alpha * Math.abs(want))
      problems.push(`${NAMES[i]} ${got}, exact ${want}`);
    else if (got < s.min || got > s.max) problems.push(`${NAMES[i]} ${got} outside [${s.min}, ${s.max}]`);
  });
  return problems.join('; ');
}

const magnitude = fc.oneof(
  fc.double({ min: MIN_METRIC_MAGNITUDE, max: MAX_METRIC_MAGNITUDE, noNaN: true }),
  fc.constantFrom(MIN_METRIC_MAGNITUDE, MAX_METRIC_MAGNITUDE, 1),
);
const domainValue = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, -0) },
  { weight: 6, arbitrary: fc.tuple(magnitude, fc.boolean()).map(([m, neg]) => (neg ? -m : m)) },
  { weight: 4, arbitrary: fc.integer({ min: -400, max: 600 }).map((t) => t / 10) },
);

describe('Windows, percentiles: within the stated error of the exact percentiles of the same readings', () => {
  it('at the default accuracy and bucket limit, for windows of up to 128 readings (property)', () => {
    fc.assert(
      fc.property(fc.array(domainValue, { minLength: 1, maxLength: 128 }), (values) => {
        const problems = violations(values, finalOf(values), 0.01);
        if (problems !== '') throw new Error(problems);
      }),
      { numRuns: 300 },
    );
  });

  it('at 0.1 % accuracy and 2,048 buckets, over the whole numeric domain (property)', () => {
    const extra = { percentileAccuracy: 0.001, percentileMaxBuckets: 2048 };
    fc.assert(
      fc.property(fc.array(domainValue, { minLength: 1, maxLength: 300 }), (values) => {
        const problems = violations(values, finalOf(values, extra), 0.001);
        if (problems !== '') throw new Error(problems);
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['one value', [21.5]],
    ['one negative value', [-3.25]],
    ['zero only', [0, -0, 0]],
    ['negative values and zero', [-5, -0.1, 0, 0, 0.1, 5]],
    ['the numeric domain bounds', [-1e100, -1e-90, 0, 1e-90, 1e100]],
  ])('%s', (_name, values) => {
    const final = finalOf(values);
    expect(violations(values, final, 0.01)).toBe('');
  });

  it('a one-value window reports the value itself; a window of zeros reports exactly 0', () => {
    expect(finalOf([21.37]).metrics.temperature).toMatchObject({ p0: 21.37, p50: 21.37, p100: 21.37 });
    const zeros = finalOf([0, -0]).metrics.temperature!;
    for (const name of NAMES) expect(Object.is(zeros[name as `p${string}`], 0), name).toBe(true);
  });

  it('rounds to the shortest decimal within the error: at most 4 significant digits at 1 %', () => {
    const values = Array.from({ length: 100 }, (_, i) => 15 + i * 0.1234567);
    const s = finalOf(values).metrics.temperature!;
    for (const name of ['p10', 'p50', 'p90']) {
      const v = s[name as `p${string}`] as number;
      expect(Number(v.toPrecision(4)), name).toBe(v);
    }
  });

  it('an empty aggregate (never a final window) has null percentiles', () => {
    const agg = emptyAggregate(true);
    agg.q = newStorableSketch(sketchSpec());
    expect(summarize(agg, [0.5, 0.99])).toMatchObject({ count: 0, p50: null, p99: null });
    addValue(agg, 4);
    expect(summarize(agg, [0.5])).toMatchObject({ count: 1, p50: 4 });
  });
});

describe('Windows, percentiles: where they appear', () => {
  it('windows.jsonl lines carry them after stddev, ascending by quantile whatever the config order', () => {
    const config = parseConfig({ rules: [], percentiles: [0.99, 0.5, 0.9] });
    const folded = foldSensorRecords(
      newSensorState('s'),
      [10, 20, 30].map((v, i) => record('s', i, v, i + 1)),
      config,
    );
    const [line] = windowLines(flushSensor(folded.state, config).effects.results[0]!);
    expect(Object.keys(line!).slice(-5)).toEqual(['mean', 'stddev', 'p50', 'p90', 'p99']);
    // Estimates, not readings: the shortest decimal within 1 % of the reading's bucket.
    expect(line).toMatchObject({ p50: 20.15, p90: 29.86, p99: 29.86 });
  });

  it('only in the metrics that have them; none without percentiles (the default)', () => {
    const config = parseConfig({
      rules: [],
      metrics: ['temperature', 'humidity'],
      percentiles: { humidity: [0.5] },
    });
    const folded = foldSensorRecords(
      newSensorState('s'),
      [recordOf('s', 1, { temperature: 20, humidity: 40 }, 1)],
      config,
    );
    const { metrics } = flushSensor(folded.state, config).effects.results[0]!;
    expect(metrics.humidity).toHaveProperty('p50', 40);
    expect(Object.keys(metrics.temperature!)).toEqual(['count', 'sum', 'min', 'max', 'mean', 'stddev']);
    const plain = finalOf([1, 2, 3], { percentiles: undefined });
    expect(Object.keys(plain.metrics.temperature!)).toEqual(['count', 'sum', 'min', 'max', 'mean', 'stddev']);
  });

  it('are emitted when windows become final in the fold, as in a flush', () => {
    const config = parseConfig({ rules: [], percentiles: [0.5], allowedLatenessMs: 0 });
    const folded = foldSensorRecords(
      newSensorState('s'),
      [record('s', 1_000, 7, 1), record('s', 61_000, 8, 2)],
      config,
    );
    expect(folded.effects.results.map((f) => f.metrics.temperature!.p50)).toEqual([7]);
  });
});

describe('Windows, percentiles: output names', () => {
  it('isPercentileName accepts exactly what percentileName gives', () => {
    const names = [0, 0.001, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.999999, 1].map(percentileName);
    expect(names).toEqual(['p0', 'p0_1', 'p50', 'p90', 'p99', 'p99_9', 'p99_99', 'p99_9999', 'p100']);
    for (const n of names) expect(isPercentileName(n), n).toBe(true);
    for (const n of ['p', 'p101', 'p050', 'p99_90', 'p99_', 'p99_12345', 'mean', 'P50']) {
      expect(isPercentileName(n), n).toBe(false);
    }
  });
});
