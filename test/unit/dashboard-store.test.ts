import { describe, expect, it } from 'vitest';
import type { FinalWindow } from '../../functions/domain/state.js';
import { parseFinalWindow } from '../../local/dashboard/sources/results-stream.js';
import { DashboardStore, windowDefOf } from '../../local/dashboard/store.js';
import { alert as fixtureAlert, finalWindow as fixtureWindow } from '../browser/fleet.js';

const finalWindow = (sensorId: string, start: number, mean = 20) => fixtureWindow(sensorId, start, mean);
const alert = (sensorId: string, n: number) => fixtureAlert(sensorId, `a${n}`, n);

describe('dashboard store', () => {
  it('labels window definitions by type and size', () => {
    expect(windowDefOf(finalWindow('s', 0)).label).toBe('tumbling 1 min');
    expect(
      windowDefOf({
        ...finalWindow('s', 0),
        windowType: 'sliding',
        windowSizeMs: 300_000,
        windowSlideMs: 60_000,
      }),
    ).toMatchObject({ id: 'sliding:300000:60000', label: 'sliding 5 min every 1 min' });
    expect(windowDefOf({ ...finalWindow('s', 0), windowType: 'session', windowGapMs: 30_000 }).label).toBe(
      'session, gap 30 s',
    );
  });

  it('journals each change once: an update carries what is new since the previous one', () => {
    const store = new DashboardStore();
    expect(store.takeUpdate()).toBeUndefined();
    store.push([
      { kind: 'window', window: finalWindow('sensor_1', 0) },
      { kind: 'alert', alert: alert('sensor_1', 1) },
    ]);
    const first = store.takeUpdate()!;
    expect(first.seq).toBe(1);
    expect(first.windows).toEqual([['sensor_1', 'tumbling:60000', 'temperature', 0, 20, 18, 22, 60]]);
    expect(first.alerts.map((a) => a.alertId)).toEqual(['a1']);
    expect(store.takeUpdate()).toBeUndefined();
    store.push([{ kind: 'window', window: finalWindow('sensor_1', 60_000, 25) }]);
    expect(store.takeUpdate()!.windows).toHaveLength(1);
    const snap = store.snapshot();
    expect(snap.seq).toBe(2);
    expect(snap.sensors).toEqual([{ id: 'sensor_1', alerts: 1, last: { t: 60_000, mean: 25 } }]);
  });

  it('drops an open window once its final window arrives, and ignores older news of it', () => {
    const store = new DashboardStore();
    const open = (start: number, count: number) => ({
      kind: 'open' as const,
      open: {
        sensorId: 'sensor_1',
        metric: 'temperature',
        windowType: 'tumbling',
        spec: 'tumbling:60000',
        start,
        end: start + 60_000,
        count,
        mean: 20,
        min: 19,
        max: 21,
      },
    });
    store.push([open(0, 30)]);
    expect(store.takeUpdate()!.open.map((o) => o.start)).toEqual([0]);
    // A final window of another length (a 5-minute definition) from the same start is not this one.
    store.push([{ kind: 'window', window: fixtureWindow('sensor_1', 0, 20, 300_000) }]);
    expect(store.takeUpdate()!.closed).toEqual([]);
    expect(store.snapshot().sensors[0]!.open?.start).toBe(0);
    store.push([{ kind: 'window', window: finalWindow('sensor_1', 0) }]);
    const closing = store.takeUpdate()!;
    expect(closing.closed).toEqual(['sensor_1']);
    expect(closing.open).toEqual([]);
    expect(store.snapshot().sensors[0]!.open).toBeUndefined();
    // The state as read before the close (an eventually consistent scan) changes nothing.
    store.push([open(0, 59)]);
    expect(store.takeUpdate()).toBeUndefined();
    // The next window opening is shown again; opened and closed within one update, it is not.
    store.push([open(60_000, 1)]);
    const next = store.takeUpdate()!;
    expect([next.open.map((o) => o.start), next.closed]).toEqual([[60_000], []]);
    store.push([open(120_000, 1), { kind: 'window', window: finalWindow('sensor_1', 120_000) }]);
    const both = store.takeUpdate()!;
    expect([both.open, both.closed]).toEqual([[], ['sensor_1']]);
  });

  it('matches open and final windows by their definition: sliding windows that overlap, sessions of two gaps', () => {
    const store = new DashboardStore();
    const view = (spec: string, windowType: string, start: number, end: number) => ({
      kind: 'open' as const,
      open: {
        sensorId: 's',
        metric: 'temperature',
        windowType,
        spec,
        start,
        end,
        count: 1,
        mean: 20,
        min: 20,
        max: 20,
      },
    });
    const final = (
      w: Partial<FinalWindow> & Pick<FinalWindow, 'windowType' | 'windowStart' | 'windowEnd'>,
    ) => ({
      kind: 'window' as const,
      window: { ...fixtureWindow('s', w.windowStart, 20), windowSizeMs: w.windowEnd - w.windowStart, ...w },
    });
    const openStart = () => store.snapshot().sensors[0]!.open?.start;
    // Sliding 5 min every 1 min: the newest open window starts at 4 min; the final window
    // from 0 is an older one of the same definition, and leaves it open.
    store.push([view('sliding:300000:60000', 'sliding', 240_000, 540_000)]);
    store.push([final({ windowType: 'sliding', windowSlideMs: 60_000, windowStart: 0, windowEnd: 300_000 })]);
    expect(openStart()).toBe(240_000);
    store.push([
      final({ windowType: 'sliding', windowSlideMs: 60_000, windowStart: 240_000, windowEnd: 540_000 }),
    ]);
    expect(openStart()).toBeUndefined();
    // Sessions of a 60 s and a 300 s gap: the short one closing later than the long one
    // opened says nothing of the long one.
    store.push([view('session:300000', 'session', 0, 1_500_000)]);
    store.push([
      final({ windowType: 'session', windowGapMs: 60_000, windowStart: 1_120_000, windowEnd: 1_260_000 }),
    ]);
    expect(openStart()).toBe(0);
    store.push([view('session:300000', 'session', 0, 1_500_000)]);
    expect(openStart()).toBe(0);
    store.push([
      final({ windowType: 'session', windowGapMs: 300_000, windowStart: 0, windowEnd: 1_500_000 }),
    ]);
    expect(openStart()).toBeUndefined();
  });

  it('serves a sensor series downsampled to the points asked for', () => {
    const store = new DashboardStore();
    store.push(
      Array.from({ length: 1_440 }, (_, i) => ({
        kind: 'window' as const,
        window: finalWindow('s', i * 60_000),
      })),
    );
    const [series] = store.sensorSeries('s', { points: 200 });
    expect(series?.defId).toBe('tumbling:60000');
    expect(series?.columns.t.length).toBeLessThanOrEqual(200);
    expect(series?.columns.t.length).toBeGreaterThan(150);
    expect(store.sensorSeries('unknown', { points: 200 })).toEqual([]);
  });

  it('stays within its memory budget: series that do not fit are counted, not created', () => {
    // 1-minute windows over a day: 1,440 points, 34,560 bytes reserved per series.
    const store = new DashboardStore({ memoryBudgetBytes: 100_000 });
    store.push(['a', 'b', 'c', 'd'].map((id) => ({ kind: 'window' as const, window: finalWindow(id, 0) })));
    const { counts } = store.snapshot();
    expect(counts.series).toBe(2);
    expect(counts.seriesDropped).toBe(2);
    expect(counts.reservedBytes).toBeLessThanOrEqual(100_000);
  });

  it('keeps only the newest alerts, late/invalid records and health samples', () => {
    const store = new DashboardStore({ recentAlerts: 3, healthSamples: 2 });
    store.push(Array.from({ length: 10 }, (_, i) => ({ kind: 'alert' as const, alert: alert('s', i) })));
    for (let i = 0; i < 5; i++) {
      store.push([
        { kind: 'health', health: { at: i, throughput: i, iteratorAgeMs: 0, batchSizes: [], counters: {} } },
      ]);
    }
    const snap = store.snapshot();
    expect(snap.alerts.map((a) => a.alertId)).toEqual(['a7', 'a8', 'a9']);
    expect(snap.health.map((h) => h.at)).toEqual([3, 4]);
  });

  it('tells the clients to reload when more windows arrive between broadcasts than it journals', () => {
    const store = new DashboardStore({ maxJournalWindows: 5 });
    store.push(
      Array.from({ length: 10 }, (_, i) => ({
        kind: 'window' as const,
        window: finalWindow('s', i * 60_000),
      })),
    );
    const update = store.takeUpdate()!;
    expect(update.resync).toBe(true);
    expect(update.windows).toEqual([]);
    // Nothing is lost from the store itself.
    expect(store.sensorSeries('s', { points: 100 })[0]?.columns.t).toHaveLength(10);
  });

  it('keeps one entry per alarm, its newest state', () => {
    const store = new DashboardStore();
    store.push([
      { kind: 'alarm', alarm: { id: 'x', sensorId: 's', rule: 'r', state: 'ACTIVE', since: 1 } },
      {
        kind: 'alarm',
        alarm: { id: 'x', sensorId: 's', rule: 'r', state: 'ACKNOWLEDGED', since: 2, by: 'ann' },
      },
    ]);
    expect(store.snapshot().alarms).toEqual([
      { id: 'x', sensorId: 's', rule: 'r', state: 'ACKNOWLEDGED', since: 2, by: 'ann' },
    ]);
    expect(store.takeUpdate()!.alarms).toHaveLength(1);
  });

  it('carries the p-fields of windows that have them: in the update row, the series and its memory', () => {
    const store = new DashboardStore({ memoryBudgetBytes: 40_000 });
    const plain = finalWindow('a', 0);
    const withP = (sensorId: string, start: number) => {
      const w = finalWindow(sensorId, start);
      w.metrics.temperature = { ...w.metrics.temperature!, p99: 21.5, p50: 20, p99_9: null };
      return w;
    };
    store.push([{ kind: 'window', window: plain }]);
    expect(store.takeUpdate()!.windows[0]).toHaveLength(8);
    store.push([{ kind: 'window', window: withP('a', 60_000) }]);
    expect(store.takeUpdate()!.windows).toEqual([
      ['a', 'tumbling:60000', 'temperature', 60_000, 20, 18, 22, 60, { p50: 20, p99: 21.5, p99_9: null }],
    ]);
    // The row still carries them; the series has no room for their columns.
    expect(store.sensorSeries('a', { points: 100 })[0]?.columns.p).toBeUndefined();
    // 1,440 points: 34,560 bytes for the series, 17,280 more for three percentiles do not fit.
    expect(store.snapshot().counts.reservedBytes).toBe(34_560);
    expect(store.snapshot().counts.percentilesDropped).toBe(3);
    store.push([{ kind: 'window', window: withP('a', 120_000) }]);
    expect(store.snapshot().counts.percentilesDropped).toBe(3);
  });

  it('reserves percentile columns within the budget', () => {
    const store = new DashboardStore();
    const w = finalWindow('a', 0);
    w.metrics.temperature = { ...w.metrics.temperature!, p50: 20, p99: 21 };
    store.push([{ kind: 'window', window: w }]);
    expect(store.snapshot().counts.reservedBytes).toBe(1_440 * (24 + 2 * 4));
    expect(store.sensorSeries('a', { points: 100 })[0]?.columns.p).toEqual({ p50: [20], p99: [21] });
  });

  it('keeps the p-fields of a deployed results item or output stream record', () => {
    const item = JSON.parse(
      JSON.stringify({
        ...finalWindow('s', 0),
        finalisedAt: 61_000,
        metrics: { temperature: { count: 1, sum: 3, min: 3, max: 3, mean: 3, p50: 3, p99: 3, p99_9: null } },
      }),
    );
    const parsed = parseFinalWindow(item);
    if (!('window' in parsed)) throw new Error(parsed.error);
    const store = new DashboardStore();
    store.push([{ kind: 'window', window: parsed.window }]);
    expect(store.takeUpdate()!.windows[0]![8]).toEqual({ p50: 3, p99: 3, p99_9: null });
  });
});
