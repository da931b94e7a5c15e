import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addExact,
  addValue,
  emptyAggregate,
  roundExact,
  summarize,
} from '../../functions/domain/aggregate.js';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { newSensorState } from '../../functions/domain/state.js';
import { assignTumbling, isFinal, windowKey } from '../../functions/domain/windows/assign.js';
import { windowLines } from '../../local/window-lines.js';
import { record } from './factories.js';

describe('Windows: tumbling windows of size S are aligned to the epoch, end exclusive', () => {
  it.each([
    { ts: 0, start: 0, end: 60_000 },
    { ts: 59_999, start: 0, end: 60_000 },
    { ts: 60_000, start: 60_000, end: 120_000 },
    { ts: 1_767_225_599_999, start: 1_767_225_540_000, end: 1_767_225_600_000 },
    { ts: -1, start: -60_000, end: 0 },
    { ts: 1_500.5, start: 0, end: 60_000 },
  ])('timestamp $ts -> [$start, $end)', ({ ts, start, end }) => {
    expect(assignTumbling(60_000, ts)).toEqual({ start, end });
  });

  it('honours a configured size', () => {
    expect(assignTumbling(5_000, 12_345)).toEqual({ start: 10_000, end: 15_000 });
  });

  it('orders result keys of one spec by start time, negative starts first', () => {
    const keys = [-120_000, -60_000, 0, 60_000, 3_600_000].map((s) => windowKey('tumbling:60000', s));
    expect([...keys].sort()).toEqual([keys[1], keys[0], keys[2], keys[3], keys[4]].sort());
    expect(keys.slice(2)).toEqual([...keys.slice(2)].sort());
  });
});

describe('Windows: aggregates per (sensor, metric, window) are count, sum, min, max, mean and stddev', () => {
  it('computes the five aggregates and the sample standard deviation', () => {
    const agg = emptyAggregate(true);
    for (const v of [2, 4, 4, 4, 5, 5, 7, 9]) addValue(agg, v);
    const s = summarize(agg);
    expect(s).toMatchObject({ count: 8, sum: 40, min: 2, max: 9, mean: 5 });
    expect(s.stddev).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });

  it('gives a null stddev below two values and omits it when disabled', () => {
    const one = emptyAggregate(true);
    addValue(one, 21.5);
    expect(summarize(one).stddev).toBeNull();
    const off = emptyAggregate(false);
    addValue(off, 1);
    addValue(off, 3);
    expect(summarize(off)).not.toHaveProperty('stddev');
  });

  it('sums exactly: the correctly rounded sum, where naive addition drifts', () => {
    const values = [1e16, 1, -1e16, 0.1, 0.2, 0.3];
    const partials: number[] = [];
    for (const v of values) addExact(partials, v);
    expect(roundExact(partials)).toBe(1.6);
    expect(values.reduce((a, b) => a + b, 0)).not.toBe(1.6);
  });

  it('treats -0 and 0 as the same value, whichever arrives first', () => {
    const a = emptyAggregate(true);
    const b = emptyAggregate(true);
    for (const v of [0, -0]) addValue(a, v);
    for (const v of [-0, 0]) addValue(b, v);
    expect(summarize(a)).toEqual(summarize(b));
    expect(Object.is(summarize(b).min, 0)).toBe(true);
  });

  it('keeps stddev exact for large offsets (no catastrophic cancellation)', () => {
    const agg = emptyAggregate(true);
    for (const v of [1e9 + 1, 1e9 + 2, 1e9 + 3]) addValue(agg, v);
    expect(summarize(agg).stddev).toBe(1);
  });
});

describe('Event time: readings out of order but not final are aggregated, independent of arrival order', () => {
  const config = parseConfig({ rules: [] });
  // Timestamps within one minute plus a watermark that never passes end + lateness.
  const readingArb = fc.record({
    ts: fc.integer({ min: 0, max: 119_999 }),
    v: fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  });

  it('any arrival order within lateness gives identical aggregates (property)', () => {
    fc.assert(
      fc.property(fc.array(readingArb, { minLength: 1, maxLength: 60 }), fc.integer(), (readings, seed) => {
        const shuffled = shuffle(readings, seed);
        const a = foldSensorRecords(
          newSensorState('s'),
          readings.map((r, i) => record('s', r.ts, r.v, i + 1)),
          config,
        );
        const b = foldSensorRecords(
          newSensorState('s'),
          shuffled.map((r, i) => record('s', r.ts, r.v, i + 1)),
          config,
        );
        // Exact partials may be laid out differently; what they represent may not differ.
        expect(Object.keys(b.state.windows).sort()).toEqual(Object.keys(a.state.windows).sort());
        expect(summaries(b.state.windows)).toEqual(summaries(a.state.windows));
        expect(b.state.watermark).toBe(a.state.watermark);
      }),
      { numRuns: 300 },
    );
  });
});

describe('Finality: a window is final once the watermark >= end + allowedLateness, emitted exactly once', () => {
  const config = parseConfig({ rules: [] });

  it.each([
    { watermark: null, final: false },
    { watermark: 60_000 + 9_999, final: false },
    { watermark: 60_000 + 10_000, final: true },
  ])(
    'window ending at 60000, lateness 10000, watermark $watermark -> final $final',
    ({ watermark, final }) => {
      expect(isFinal(60_000, watermark, 10_000)).toBe(final);
    },
  );

  it('emits the window when a reading moves the watermark to end + lateness, and only then', () => {
    const s1 = foldSensorRecords(
      newSensorState('s'),
      [record('s', 1_000, 20, 1), record('s', 30_000, 22, 2), record('s', 69_999, 21, 3)],
      config,
    );
    expect(s1.effects.results).toHaveLength(0);
    const s2 = foldSensorRecords(s1.state, [record('s', 70_000, 25, 4)], config);
    expect(s2.effects.results).toHaveLength(1);
    expect(windowLines(s2.effects.results[0]!)).toEqual([
      {
        sensorId: 's',
        metric: 'temperature',
        windowType: 'tumbling',
        windowSizeMs: 60_000,
        windowStart: 0,
        windowEnd: 60_000,
        count: 2,
        sum: 42,
        min: 20,
        max: 22,
        mean: 21,
        stddev: Math.SQRT2,
      },
    ]);
    // Its working state is gone: the same window is never emitted again.
    const s3 = foldSensorRecords(s2.state, [record('s', 200_000, 25, 5)], config);
    expect(s3.effects.results.map((r) => r.windowStart)).toEqual([60_000]);
  });

  it('uses the configured window size and lateness', () => {
    const custom = parseConfig({
      rules: [],
      windows: [{ type: 'tumbling', sizeMs: 10_000 }],
      allowedLatenessMs: 0,
    });
    const r = foldSensorRecords(
      newSensorState('s'),
      [record('s', 1, 1, 1), record('s', 10_000, 2, 2)],
      custom,
    );
    expect(r.effects.results.map((w) => [w.windowStart, w.windowEnd])).toEqual([[0, 10_000]]);
  });

  it('keeps one watermark per sensor: another sensor does not finalise this one', () => {
    const a = foldSensorRecords(newSensorState('a'), [record('a', 1_000, 20, 1)], config);
    const b = foldSensorRecords(newSensorState('b'), [record('b', 500_000, 20, 2)], config);
    expect(a.effects.results).toHaveLength(0);
    expect(a.state.watermark).toBe(1_000);
    expect(b.state.watermark).toBe(500_000);
  });
});

describe('Lateness: a reading whose window is already final is late, goes to the late sink, out of every aggregate', () => {
  const config = parseConfig({ rules: [] });

  it('sends a reading for a final window to the late sink and leaves aggregates untouched', () => {
    const s1 = foldSensorRecords(
      newSensorState('s'),
      [record('s', 1_000, 20, 1), record('s', 70_000, 20, 2)],
      config,
    );
    expect(s1.effects.results).toHaveLength(1);
    const s2 = foldSensorRecords(s1.state, [record('s', 59_000, 99, 3)], config);
    expect(s2.effects.late).toEqual([
      {
        id: 'shardId-000000000000:3',
        sensorId: 's',
        timestamp: 59_000,
        values: { temperature: 99 },
        reason: 'window-final',
        windowStart: 0,
        windowEnd: 60_000,
        watermark: 70_000,
        missedWindows: [
          { windowType: 'tumbling', spec: 'tumbling:60000', windowStart: 0, windowEnd: 60_000 },
        ],
      },
    ]);
    expect(s2.state.windows).toEqual(s1.state.windows);
    expect(s2.state.watermark).toBe(70_000);
  });

  it('aggregates a reading that is out of order but within lateness', () => {
    const s1 = foldSensorRecords(newSensorState('s'), [record('s', 65_000, 20, 1)], config);
    const s2 = foldSensorRecords(s1.state, [record('s', 59_000, 30, 2)], config);
    expect(s2.effects.late).toHaveLength(0);
    expect(
      Object.values(s2.state.windows)
        .map((w) => w.start)
        .sort(),
    ).toEqual([0, 60_000]);
  });

  it('is late when final by the watermark even if the window was never opened', () => {
    const s1 = foldSensorRecords(newSensorState('s'), [record('s', 500_000, 20, 1)], config);
    const s2 = foldSensorRecords(s1.state, [record('s', 5_000, 20, 2)], config);
    expect(s2.effects.late.map((l) => l.timestamp)).toEqual([5_000]);
    expect(s2.effects.results).toHaveLength(0);
  });
});

function summaries(windows: Record<string, { aggs: Record<string, ReturnType<typeof emptyAggregate>> }>) {
  return Object.fromEntries(
    Object.entries(windows).map(([k, w]) => [
      k,
      Object.fromEntries(Object.entries(w.aggs).map(([m, a]) => [m, summarize(a)])),
    ]),
  );
}

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
