/**
 * docs/SEMANTICS.md "Bounds": commits sized by the item they write (B1), the outbox
 * delivered commit by commit (B2), the ceiling on open windows (B3). Pure: the fold and
 * the sizing; the store's and the handler's side are in test/integration/bounded-state.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bodyBytes,
  COMMIT_TARGET_BYTES,
  DEFAULT_MAX_OPEN_WINDOWS,
  MAX_STATE_BYTES,
  maxOpenWindowsFor,
  stateBody,
} from '../../functions/domain/bounds.js';
import { ConfigError, parseConfig, type WindowpaneConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { foldWithinBudget } from '../../functions/domain/sized-fold.js';
import {
  newSensorState,
  type Outbox,
  type SensorRecord,
  type SensorState,
} from '../../functions/domain/state.js';
import { flushSensor } from '../../functions/domain/windows/finalise.js';
import { effectIds, record, withoutOutbox } from './factories.js';

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

const configs: [string, WindowpaneConfig][] = [
  ['tumbling', parseConfig({})],
  ['sliding', parseConfig({ windows: [{ type: 'sliding', sizeMs: 300_000, slideMs: 60_000 }] })],
  ['session', parseConfig({ windows: [{ type: 'session', gapMs: 90_000 }], allowedLatenessMs: 30_000 })],
  [
    'all three, maxOpenWindows 4',
    parseConfig({
      windows: [
        { type: 'tumbling', sizeMs: 60_000 },
        { type: 'sliding', sizeMs: 180_000, slideMs: 60_000 },
        { type: 'session', gapMs: 45_000 },
      ],
      allowedLatenessMs: 120_000,
      maxOpenWindows: 4,
    }),
  ],
];

const batchArb = fc
  .array(
    fc.record({
      dt: fc.integer({ min: -200_000, max: 150_000 }),
      v: fc.double({ min: -10, max: 60, noNaN: true, noDefaultInfinity: true }),
    }),
    { minLength: 1, maxLength: 120 },
  )
  .map((steps) => {
    let t = T0;
    return steps.map((s, i) => {
      t = Math.max(T0 - 3_600_000, t + s.dt);
      return record('s', t, s.v, 1_000 + i);
    });
  });

/** What applySensor does, without the store: sized folds until every record is applied. */
function foldInSizedCommits(
  state: SensorState,
  records: readonly SensorRecord[],
  config: WindowpaneConfig,
  target: number,
) {
  const outboxes: Outbox[] = [];
  const sizes: { bytes: number; consumed: number }[] = [];
  let finalisedEarly = 0;
  for (let i = 0; i < records.length; ) {
    const sized = foldWithinBudget(state, records.slice(i), config, target);
    expect(sized.consumed).toBeGreaterThan(0);
    outboxes.push(sized.result.effects);
    sizes.push({ bytes: sized.bytes, consumed: sized.consumed });
    finalisedEarly += sized.result.finalisedEarly;
    state = sized.result.state;
    i += sized.consumed;
  }
  return { state, outboxes, sizes, finalisedEarly };
}

describe('Bounds B1: commits are sized by the item they write; any cut gives the outputs of one fold', () => {
  it.each(configs)(
    'sized commits give the same state and effects as one fold (%s, property)',
    (_name, config) => {
      fc.assert(
        fc.property(batchArb, fc.integer({ min: 1_500, max: 12_000 }), (batch, target) => {
          const once = foldSensorRecords(newSensorState('s'), batch, config);
          const sized = foldInSizedCommits(newSensorState('s'), batch, config, target);
          expect(withoutOutbox(sized.state)).toEqual(withoutOutbox(once.state));
          expect(effectIds(sized.outboxes)).toEqual(effectIds([once.effects]));
          expect(sized.finalisedEarly).toBe(once.finalisedEarly);
          // Every commit fits the target, except a single record, the smallest step.
          for (const s of sized.sizes) if (s.consumed > 1) expect(s.bytes).toBeLessThanOrEqual(target);
        }),
        { numRuns: 150 },
      );
    },
  );

  it('a four-day backlog of one sensor (6,000 readings 60 s apart) commits in pieces under the target', () => {
    const config = parseConfig({});
    // 6,000 final windows: past MAX_STATE_BYTES in one outbox even in the compact body
    // (state-codec.ts, about 170 bytes a final window), as 1,500 were in the JSON object one.
    const backlog = Array.from({ length: 6_000 }, (_, i) =>
      record('sensor_1', T0 + i * MINUTE, 20 + (i % 7), i + 1),
    );
    // One fold of it all is what used to be committed: over the limit.
    expect(
      bodyBytes(stateBody(foldSensorRecords(newSensorState('sensor_1'), backlog, config).state)),
    ).toBeGreaterThan(MAX_STATE_BYTES);
    const sized = foldInSizedCommits(newSensorState('sensor_1'), backlog, config, COMMIT_TARGET_BYTES);
    expect(sized.sizes.length).toBeGreaterThan(1);
    for (const s of sized.sizes) expect(s.bytes).toBeLessThanOrEqual(COMMIT_TARGET_BYTES);
    const flushed = flushSensor(sized.state);
    const windows = [...sized.outboxes, flushed.effects].flatMap((o) => o.results);
    expect(windows.map((w) => w.windowStart)).toEqual(backlog.map((r) => r.reading.timestamp));
    expect(windows.every((w) => w.metrics.temperature!.count === 1)).toBe(true);
  });
});

describe('Bounds B3: a sensor holds at most maxOpenWindows open windows; the oldest are finalised early', () => {
  // A long lateness keeps every window of the last hour open.
  const config = parseConfig({ allowedLatenessMs: 3_600_000, maxOpenWindows: 5, rules: [] });

  it('finalises the oldest window as a flush would, makes later readings for it late, and loses nothing', () => {
    const readings = Array.from({ length: 8 }, (_, i) => record('s', T0 + i * MINUTE + 1_000, 20 + i, i + 1));
    // A reading for the first minute after it was finalised early, one for an open window.
    readings.push(record('s', T0 + 5_000, 99, 9), record('s', T0 + 7 * MINUTE + 2_000, 30, 10));
    const r = foldSensorRecords(newSensorState('s'), readings, config);
    expect(r.finalisedEarly).toBe(3);
    expect(Object.keys(r.state.windows)).toHaveLength(5);
    expect(r.effects.results.map((w) => w.windowStart)).toEqual([T0, T0 + MINUTE, T0 + 2 * MINUTE]);
    expect(r.state.flushedThrough).toBe(T0 + 3 * MINUTE);
    expect(r.effects.late.map((l) => l.values.temperature)).toEqual([99]);
    // Every reading is in a result, an open window or the late sink, once.
    const inResults = r.effects.results.reduce((n, w) => n + w.metrics.temperature!.count, 0);
    const open = Object.values(r.state.windows).reduce((n, w) => n + w.aggs.temperature!.count, 0);
    expect(inResults + open + r.effects.late.length).toBe(readings.length);
  });

  it('counts open sessions too, and other sensors keep their own windows', () => {
    const sessions = parseConfig({
      windows: [{ type: 'session', gapMs: 30_000 }],
      allowedLatenessMs: 3_600_000,
      maxOpenWindows: 3,
      rules: [],
    });
    const a = foldSensorRecords(
      newSensorState('a'),
      Array.from({ length: 6 }, (_, i) => record('a', T0 + i * MINUTE, 20, i + 1)),
      sessions,
    );
    expect(a.finalisedEarly).toBe(3);
    expect(Object.keys(a.state.windows)).toHaveLength(3);
    const b = foldSensorRecords(
      newSensorState('b'),
      [record('b', T0, 20, 1), record('b', T0 + MINUTE, 20, 2)],
      sessions,
    );
    expect(b.finalisedEarly).toBe(0);
    expect(Object.keys(b.state.windows)).toHaveLength(2);
  });

  it('windows already final leave first: none is finalised early while the open ones fit', () => {
    // One window open and the previous one within its 10 s of lateness: two at a time.
    const short = parseConfig({ maxOpenWindows: 2, rules: [] });
    const r = foldSensorRecords(
      newSensorState('s'),
      Array.from({ length: 50 }, (_, i) => record('s', T0 + i * MINUTE, 20, i + 1)),
      short,
    );
    expect(r.finalisedEarly).toBe(0);
    expect(r.effects.results).toHaveLength(48);
  });
});

describe('Bounds B3: maxOpenWindows is configured, with a range, a default and a fit check', () => {
  it('defaults to 100 and accepts 1 to 1,000 where the windows fit', () => {
    expect(parseConfig({}).maxOpenWindows).toBe(DEFAULT_MAX_OPEN_WINDOWS);
    expect(parseConfig({ maxOpenWindows: 1 }).maxOpenWindows).toBe(1);
    expect(maxOpenWindowsFor(['temperature'], true)).toBeGreaterThan(300);
    expect(() => parseConfig({ maxOpenWindows: 0 })).toThrow(/maxOpenWindows/);
    expect(() => parseConfig({ maxOpenWindows: 1_001 })).toThrow(/maxOpenWindows/);
  });

  it('refuses a ceiling whose windows do not fit in the state item, naming the most that fits', () => {
    const metrics = Array.from({ length: 12 }, (_, i) => `metric_${i}`);
    const fits = maxOpenWindowsFor(metrics, true);
    expect(parseConfig({ metrics, maxOpenWindows: fits, rules: [] }).maxOpenWindows).toBe(fits);
    expect(() => parseConfig({ metrics, maxOpenWindows: fits + 1, rules: [] })).toThrow(ConfigError);
    expect(() => parseConfig({ metrics, maxOpenWindows: fits + 1, rules: [] })).toThrow(
      new RegExp(`maxOpenWindows: .*at most ${fits}`),
    );
  });

  it('the allowance is at least what an open window and its final window measure', () => {
    const config = parseConfig({ allowedLatenessMs: 3_600_000, maxOpenWindows: 100, rules: [] });
    const id = 'x'.repeat(64);
    const readings = Array.from({ length: 100 }, (_, i) =>
      record(id, T0 + i * MINUTE + 0.123, 1e-90 * (i + 1.5), i + 1),
    );
    const open = foldSensorRecords(newSensorState(id), readings, config).state;
    const closed = flushSensor(open);
    // The item with all 100 windows open, plus their final forms in the outbox, fits the target.
    const both = bodyBytes(stateBody({ ...closed.state, windows: open.windows }));
    expect(both).toBeLessThanOrEqual(COMMIT_TARGET_BYTES);
    expect(both / 100).toBeLessThan(COMMIT_TARGET_BYTES / maxOpenWindowsFor(config.metrics, true));
  });
});
