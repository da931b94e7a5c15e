import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { summarize } from '../../functions/domain/aggregate.js';
import { parseConfig, type WindowSpec } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { type FinalWindow, newSensorState, type SensorState } from '../../functions/domain/state.js';
import { assignSliding } from '../../functions/domain/windows/assign.js';
import { flushSensor } from '../../functions/domain/windows/finalise.js';
import { windowLines } from '../../local/window-lines.js';
import { record } from './factories.js';

const sliding: WindowSpec = { type: 'sliding', sizeMs: 60_000, slideMs: 20_000 };
const session: WindowSpec = { type: 'session', gapMs: 30_000 };
const cfg = (windows: WindowSpec[], allowedLatenessMs = 10_000) =>
  parseConfig({ rules: [], windows, allowedLatenessMs });

function fold(state: SensorState, points: [number, number][], config: ReturnType<typeof cfg>, seq0 = 1) {
  return foldSensorRecords(
    state,
    points.map(([ts, v], i) => record('s', ts, v, seq0 + i)),
    config,
  );
}

const brief = (f: FinalWindow) => {
  const t = f.metrics.temperature!;
  return [f.windowType, f.windowStart, f.windowEnd, t.count, t.sum];
};

describe('Windows: sliding windows of size S and slide H, aligned to the epoch, each reading in every window covering it', () => {
  it.each([
    { ts: 0, starts: [-40_000, -20_000, 0] },
    { ts: 45_000, starts: [-20_000, 0, 20_000, 40_000].slice(1) },
    { ts: 59_999, starts: [0, 20_000, 40_000] },
  ])('timestamp $ts is in the windows starting at $starts', ({ ts, starts }) => {
    expect(assignSliding(60_000, 20_000, ts)).toEqual(
      starts.map((start) => ({ start, end: start + 60_000 })),
    );
  });

  it('folds each reading into S/H windows and still keeps one state item (one write) per sensor', () => {
    // Large lateness: nothing final yet, every window still open.
    const r = fold(
      newSensorState('s'),
      [
        [5_000, 10],
        [25_000, 20],
        [45_000, 30],
      ],
      cfg([sliding], 100_000),
    );
    const windows = Object.values(r.state.windows).map((w) => [
      w.start,
      summarize(w.aggs.temperature!).count,
    ]);
    expect(windows.sort((a, b) => a[0]! - b[0]!)).toEqual([
      [-40_000, 1],
      [-20_000, 2],
      [0, 3],
      [20_000, 2],
      [40_000, 1],
    ]);
  });

  it('finalises each sliding window once the watermark passes its end + lateness', () => {
    const r = fold(
      newSensorState('s'),
      [
        [5_000, 10],
        [25_000, 20],
        [45_000, 30],
        [70_000, 40],
      ],
      cfg([sliding]),
    );
    const results = [...r.effects.results].sort((a, b) => a.windowStart - b.windowStart);
    expect(results.map(brief)).toEqual([
      ['sliding', -40_000, 20_000, 1, 10],
      ['sliding', -20_000, 40_000, 2, 30],
      ['sliding', 0, 60_000, 3, 60],
    ]);
    expect(windowLines(results[2]!)[0]).toMatchObject({ windowSizeMs: 60_000, windowSlideMs: 20_000 });
  });

  it('rejects a size that is not a multiple of the slide', () => {
    expect(() => cfg([{ type: 'sliding', sizeMs: 50_000, slideMs: 20_000 }])).toThrowError(
      /multiple of slideMs/,
    );
  });
});

describe('Windows: session windows with gap G on event time, merged when a reading bridges two sessions', () => {
  it('opens a session per burst and closes it after G of event time without a reading', () => {
    const r = fold(
      newSensorState('s'),
      [
        [0, 1],
        [10_000, 2],
        [100_000, 3],
        [150_000, 4],
      ],
      cfg([session]),
    );
    // [0, 40000) is final at watermark >= 40000 + 10000; [100000, 130000) at 140000.
    expect(r.effects.results.map(brief)).toEqual([
      ['session', 0, 40_000, 2, 3],
      ['session', 100_000, 130_000, 1, 3],
    ]);
    expect(windowLines(r.effects.results[0]!)[0]).toMatchObject({
      windowGapMs: 30_000,
      windowSizeMs: 40_000,
    });
  });

  it('merges two sessions when an out-of-order reading bridges them', () => {
    const s1 = fold(
      newSensorState('s'),
      [
        [0, 1],
        [50_000, 2],
      ],
      cfg([session], 60_000),
    );
    expect(Object.keys(s1.state.windows)).toHaveLength(2);
    const s2 = fold(s1.state, [[25_000, 3]], cfg([session], 60_000), 10);
    const sessions = Object.values(s2.state.windows);
    expect(sessions.map((w) => [w.start, w.end, summarize(w.aggs.temperature!).count])).toEqual([
      [0, 80_000, 3],
    ]);
  });

  it('treats a reading whose (merged) session is already final as late for the session definition', () => {
    const s1 = fold(
      newSensorState('s'),
      [
        [0, 1],
        [200_000, 2],
      ],
      cfg([session]),
    );
    expect(s1.effects.results.map(brief)).toEqual([['session', 0, 30_000, 1, 1]]);
    const s2 = fold(s1.state, [[5_000, 9]], cfg([session]), 10);
    expect(s2.effects.late.map((l) => l.missedWindows)).toEqual([
      [{ windowType: 'session', spec: 'session:30000', windowStart: 5_000, windowEnd: 35_000 }],
    ]);
    // A reading that extends the open session is not late.
    const s3 = fold(s2.state, [[190_000, 9]], cfg([session]), 20);
    expect(s3.effects.late).toHaveLength(0);
    expect(Object.values(s3.state.windows).map((w) => [w.start, w.end])).toEqual([[190_000, 230_000]]);
  });

  it('session merge is commutative: any arrival order within lateness gives the same sessions (property)', () => {
    const config = cfg([session], 1_000_000);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ ts: fc.integer({ min: 0, max: 300_000 }), v: fc.integer({ min: -50, max: 50 }) }),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        fc.infiniteStream(fc.nat()),
        (points, randoms) => {
          const shuffled = [...points];
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = randoms.next().value % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
          }
          const a = flushSensor(
            fold(
              newSensorState('s'),
              points.map((p) => [p.ts, p.v]),
              config,
            ).state,
          );
          const b = flushSensor(
            fold(
              newSensorState('s'),
              shuffled.map((p) => [p.ts, p.v]),
              config,
            ).state,
          );
          expect(b.effects.results).toEqual(a.effects.results);
          // And the sessions are exactly the gap-separated runs of the sorted timestamps.
          const sorted = points.map((p) => p.ts).sort((x, y) => x - y);
          let runs = 1;
          for (let i = 1; i < sorted.length; i++) if (sorted[i]! - sorted[i - 1]! >= 30_000) runs++;
          expect(a.effects.results).toHaveLength(runs);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('Windows: several definitions at once, each result tagged with its type, size and slide or gap', () => {
  const all = cfg([{ type: 'tumbling', sizeMs: 60_000 }, sliding, session]);

  it('emits every definition and keeps tumbling results identical to a tumbling-only run', () => {
    const points: [number, number][] = [
      [1_000, 20],
      [30_000, 21],
      [59_000, 22],
      [61_000, 23],
      [130_000, 24],
    ];
    const only = fold(newSensorState('s'), points, cfg([{ type: 'tumbling', sizeMs: 60_000 }]));
    const many = fold(newSensorState('s'), points, all);
    const tumbling = (rs: FinalWindow[]) => rs.filter((r) => r.windowType === 'tumbling');
    expect(tumbling(many.effects.results)).toEqual(only.effects.results);
    // The first session (1 s .. 61 s, gap 30 s) ended at 91 s and is final at 130 s.
    const sessions = many.effects.results.filter((r) => r.windowType === 'session').map(brief);
    expect(sessions).toEqual([['session', 1_000, 91_000, 4, 86]]);
    expect(new Set(many.effects.results.map((r) => r.windowType))).toEqual(
      new Set(['tumbling', 'sliding', 'session']),
    );
  });

  it('leaves a reading out only of the windows already final, and reports them (per-window lateness)', () => {
    const s1 = fold(
      newSensorState('s'),
      [
        [1_000, 20],
        [75_000, 20],
      ],
      all,
    );
    // 55 s: its tumbling window [0, 60 s) is final (75 >= 60 + 10), the sliding windows
    // [20 s, 80 s) and [40 s, 100 s) are not; its session merges with the one at 75 s.
    const s2 = fold(s1.state, [[55_000, 30]], all, 10);
    expect(s2.effects.late).toHaveLength(1);
    expect(s2.effects.late[0]!.missedWindows.map((m) => [m.windowType, m.windowStart])).toEqual([
      ['tumbling', 0],
      ['sliding', 0],
    ]);
    const counts = Object.values(s2.state.windows)
      .filter((w) => w.start >= 20_000 || w.windowType === 'session')
      .map((w) => [w.windowType, w.start, summarize(w.aggs.temperature!).count]);
    expect(counts).toEqual(
      expect.arrayContaining([
        ['sliding', 20_000, 2],
        ['sliding', 40_000, 2],
        ['session', 55_000, 2],
      ]),
    );
  });

  it('any arrival order within lateness gives identical aggregates for every window type (property)', () => {
    const config = cfg([{ type: 'tumbling', sizeMs: 60_000 }, sliding, session], 1_000_000);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ts: fc.integer({ min: 0, max: 240_000 }),
            v: fc.double({ min: -100, max: 100, noNaN: true, noDefaultInfinity: true }),
          }),
          { minLength: 1, maxLength: 50 },
        ),
        fc.integer(),
        (points, seed) => {
          const order = points.map((p, i) => ({ p, k: Math.imul(i + 1, seed | 1) >>> 7 }));
          order.sort((a, b) => a.k - b.k);
          const a = flushSensor(
            fold(
              newSensorState('s'),
              points.map((p) => [p.ts, p.v]),
              config,
            ).state,
          );
          const b = flushSensor(
            fold(
              newSensorState('s'),
              order.map(({ p }) => [p.ts, p.v]),
              config,
            ).state,
          );
          expect(b.effects.results).toEqual(a.effects.results);
        },
      ),
      { numRuns: 200 },
    );
  });
});
