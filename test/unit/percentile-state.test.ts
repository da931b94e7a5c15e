/**
 * Percentiles in the window state (issue 17; docs/SEMANTICS.md "Windows", percentiles):
 * with percentiles configured every open window of a configured metric keeps a sketch of
 * exactly its values, in tumbling, sliding and session windows; the buckets do not depend
 * on arrival order; a session merge equals the sketch of the merged readings; the state
 * body stores the sketch as its compact text, within the stated bytes per open window.
 * With percentiles off (the default) the state is what it was.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stateBody, stateFromBody } from '../../bench/pure-path.js';
import {
  type Aggregate,
  addValue,
  cloneAggregate,
  emptyAggregate,
  mergeAggregate,
} from '../../functions/domain/aggregate.js';
import { parseConfig, type WindowSpec } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { encodeSketch } from '../../functions/domain/sketch/codec.js';
import { type QuantileSketch, sketchCount, sketchSpec } from '../../functions/domain/sketch/sketch.js';
import { newStorableSketch, reviveSketches } from '../../functions/domain/sketch/stored.js';
import { newSensorState, type SensorState } from '../../functions/domain/state.js';
import { flushSensor } from '../../functions/domain/windows/finalise.js';
import { record, recordOf } from './factories.js';
import { sketchOf } from './sketch-values.js';

fc.configureGlobal({ interruptAfterTimeLimit: 20_000 });

const tumbling: WindowSpec = { type: 'tumbling', sizeMs: 60_000 };
const sliding: WindowSpec = { type: 'sliding', sizeMs: 60_000, slideMs: 20_000 };
const session: WindowSpec = { type: 'session', gapMs: 30_000 };
const withPercentiles = (windows: WindowSpec[], extra: Record<string, unknown> = {}) =>
  parseConfig({ rules: [], windows, allowedLatenessMs: 1_000_000, percentiles: [0.5, 0.9, 0.99], ...extra });

function fold(
  state: SensorState,
  points: readonly (readonly [number, number])[],
  config: ReturnType<typeof parseConfig>,
) {
  return foldSensorRecords(
    state,
    points.map(([ts, v], i) => record('s', ts, v, i + 1)),
    config,
  );
}

/** Values of the readings whose timestamps are in [start, end). */
const valuesIn = (points: readonly (readonly [number, number])[], start: number, end: number) =>
  points.filter(([ts]) => ts >= start && ts < end).map(([, v]) => v);

const bucketsOf = (s: QuantileSketch) => ({ spec: s.spec, keys: s.keys, counts: s.counts });

describe('Windows, percentiles: off by default, the state is what it was', () => {
  it('keeps no sketch and writes no `q` when percentiles are not configured', () => {
    const r = fold(
      newSensorState('s'),
      [
        [1_000, 20],
        [2_000, 21],
      ],
      parseConfig({ rules: [] }),
    );
    const agg = Object.values(r.state.windows)[0]!.aggs.temperature!;
    expect(agg).not.toHaveProperty('q');
    expect(stateBody(r.state)).not.toContain('"q"');
  });

  it('keeps a sketch only for the metrics named', () => {
    const config = parseConfig({
      rules: [],
      metrics: ['temperature', 'humidity'],
      percentiles: { humidity: [0.5] },
    });
    const r = foldSensorRecords(
      newSensorState('s'),
      [recordOf('s', 1_000, { temperature: 20, humidity: 40 }, 1)],
      config,
    );
    const aggs = Object.values(r.state.windows)[0]!.aggs;
    expect(aggs.temperature).not.toHaveProperty('q');
    expect(sketchCount(aggs.humidity!.q!)).toBe(1);
  });
});

describe('Windows, percentiles: every open window keeps the sketch of exactly its values', () => {
  const points: [number, number][] = [
    [1_000, 20.5],
    [15_000, -3],
    [25_000, 0],
    [41_000, 1e100],
    [59_999, -1e-90],
    [61_000, 22],
  ];

  it.each([
    ['tumbling', tumbling],
    ['sliding', sliding],
  ] as const)('%s windows', (_name, spec) => {
    const config = withPercentiles([spec]);
    const r = fold(newSensorState('s'), points, config);
    expect(Object.keys(r.state.windows).length).toBeGreaterThan(1);
    for (const w of Object.values(r.state.windows)) {
      const agg = w.aggs.temperature!;
      expect(sketchCount(agg.q!)).toBe(agg.count);
      expect(bucketsOf(agg.q!)).toEqual(bucketsOf(sketchOf(valuesIn(points, w.start, w.end), sketchSpec())));
    }
  });

  it('a session merge equals the sketch of the merged readings (a bridging reading joins two)', () => {
    const config = withPercentiles([session]);
    const first = fold(
      newSensorState('s'),
      [
        [0, 1],
        [10_000, 2],
        [50_000, 5],
        [60_000, 6],
      ],
      config,
    );
    expect(Object.keys(first.state.windows)).toHaveLength(2);
    // 30 s opens [30 s, 60 s), which overlaps [0, 40 s) and [50 s, 90 s): they merge.
    const bridged = foldSensorRecords(first.state, [record('s', 30_000, -7, 10)], config);
    const [merged] = Object.values(bridged.state.windows);
    expect(Object.keys(bridged.state.windows)).toHaveLength(1);
    expect(bucketsOf(merged!.aggs.temperature!.q!)).toEqual(
      bucketsOf(sketchOf([1, 2, 5, 6, -7], sketchSpec())),
    );
  });
});

describe('Windows, percentiles: bucket counts do not depend on arrival order (property, as for exact sums)', () => {
  const shuffle = <T>(items: readonly T[], randoms: fc.Stream<number>): T[] => {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = randoms.next().value % (i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
  const config = withPercentiles([tumbling, sliding, session], { percentileMaxBuckets: 16 });
  const value = fc.oneof(
    fc.integer({ min: -400, max: 600 }).map((t) => t / 10),
    fc.double({ min: -1e100, max: 1e100, noNaN: true }).map((v) => (Math.abs(v) < 1e-90 ? 0 : v)),
  );

  it('every open window and every final window (percentiles included) is bit-identical for any order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 300_000 }), value), { minLength: 1, maxLength: 60 }),
        fc.infiniteStream(fc.nat()),
        (points, randoms) => {
          const a = fold(newSensorState('s'), points, config).state;
          const b = fold(newSensorState('s'), shuffle(points, randoms), config).state;
          // The texts are a function of the buckets: equal texts, equal sketches.
          const texts = (s: SensorState) =>
            Object.keys(s.windows)
              .sort()
              .map((k) => encodeSketch(s.windows[k]!.aggs.temperature!.q!));
          if (JSON.stringify(texts(a)) !== JSON.stringify(texts(b))) return false;
          const fa = flushSensor(a, config).effects.results;
          const fb = flushSensor(b, config).effects.results;
          return (
            JSON.stringify(fa) === JSON.stringify(fb) && fa.every((f) => 'p99' in f.metrics.temperature!)
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('Windows, percentiles: merging aggregates across a change of configuration', () => {
  /** An aggregate of `values` with a sketch of `spec`, as a window would hold it. */
  const aggregateOf = (values: number[], spec = sketchSpec()): Aggregate => {
    const agg = emptyAggregate(false);
    agg.q = newStorableSketch(spec);
    for (const v of values) addValue(agg, v);
    return agg;
  };

  it('an empty aggregate takes the other sketch, keeping the accuracy its values were bucketed with', () => {
    const into = aggregateOf([]);
    mergeAggregate(into, aggregateOf([3, 4, 5], sketchSpec({ accuracy: 0.02 })));
    expect(into.q!.spec.accuracy).toBe(0.02);
    expect(bucketsOf(into.q!)).toEqual(bucketsOf(sketchOf([3, 4, 5], sketchSpec({ accuracy: 0.02 }))));
  });

  it('keeps no sketch when the other window kept none, or one of another accuracy: no percentiles of part of a window', () => {
    const none = emptyAggregate(false);
    addValue(none, 2);
    const a = aggregateOf([1]);
    mergeAggregate(a, none);
    expect(a).not.toHaveProperty('q');

    const b = aggregateOf([1]);
    mergeAggregate(b, aggregateOf([2], sketchSpec({ accuracy: 0.02 })));
    expect(b).not.toHaveProperty('q');
    expect(b.count).toBe(2);
  });

  it('copies share nothing: folding into a copy leaves the original sketch as it was', () => {
    const original = aggregateOf([1, 2]);
    const copy = cloneAggregate(original);
    addValue(copy, 1e50);
    expect(sketchCount(original.q!)).toBe(2);
    expect(sketchCount(copy.q!)).toBe(3);
  });
});

describe('Windows, percentiles: the state body stores each sketch as its text, within the stated size', () => {
  it('round-trips a state with sketches through its body, and folding on gives the same state', () => {
    const config = withPercentiles([tumbling, session]);
    const points: [number, number][] = Array.from({ length: 50 }, (_, i) => [i * 1_000, 20 + (i % 7) / 10]);
    const r = fold(newSensorState('s'), points, config);
    const body = stateBody(r.state);
    // Each sketch is in the body as its text (codec.ts), not as JSON of its buckets.
    const sketches = Object.values(r.state.windows).map((w) => w.aggs.temperature!.q!);
    expect(sketches).toHaveLength(2);
    for (const q of sketches) expect(body).toContain(JSON.stringify(encodeSketch(q)));
    expect(body).not.toContain('"keys"');
    const back = stateFromBody('s', r.state.version, body);
    expect(back.windows).toEqual(r.state.windows);
    const more: [number, number][] = [
      [55_000, 30],
      [70_000, -5],
    ];
    const direct = foldSensorRecords(
      r.state,
      more.map(([ts, v], i) => record('s', ts, v, 100 + i)),
      config,
    );
    const viaBody = foldSensorRecords(
      back,
      more.map(([ts, v], i) => record('s', ts, v, 100 + i)),
      config,
    );
    expect(stateBody(viaBody.state)).toBe(stateBody(direct.state));
    expect(JSON.stringify(viaBody.effects.results)).toBe(JSON.stringify(direct.effects.results));
  });

  it('costs a 1 Hz thermometer under 40 characters per open window and metric; at most 1,035 (+ 7 of key) when full', () => {
    const minute: [number, number][] = Array.from({ length: 60 }, (_, i) => [
      i * 1_000,
      21 + ((i * 7) % 11) / 10 - 0.5,
    ]);
    const off = fold(newSensorState('s'), minute, parseConfig({ rules: [], allowedLatenessMs: 1_000_000 }));
    const on = fold(newSensorState('s'), minute, withPercentiles([tumbling]));
    const added = stateBody(on.state).length - stateBody(off.state).length;
    expect(added).toBeGreaterThan(0);
    expect(added).toBeLessThan(40);
    // A full sketch at the default limit: 128 buckets, 2-byte key deltas and counts. The
    // bound below 2^14 readings: 8 bytes of header, at most 6 a bucket, as base64url.
    expect(encodeSketch(fullSketch()).length).toBeLessThanOrEqual(Math.ceil(((8 + 6 * 128) * 4) / 3));
  });

  it('refuses a state body whose sketch text is not a sketch, naming it', () => {
    const windows = { k: { aggs: { temperature: { count: 1, sum: [1], min: 1, max: 1, q: 'AQ' } } } };
    expect(() => reviveSketches(windows as never)).toThrow(/sketch ends inside accuracy/);
  });
});

/** 128 buckets spread over the numeric domain (2-byte key deltas), 128 values each (2-byte counts). */
function fullSketch(): QuantileSketch {
  const values: number[] = [];
  for (let i = 0; i < 128; i++) for (let c = 0; c < 128; c++) values.push(10 ** (-90 + i * 1.49));
  const s = sketchOf(values, sketchSpec());
  expect(s.keys).toHaveLength(128);
  expect(s.counts.every((c) => c === 128)).toBe(true);
  return s;
}
