import { describe, expect, it } from 'vitest';
import { WindowSeries } from '../../local/dashboard/series.js';

const point = (t: number, mean = t, count = 10) => ({ t, mean, min: mean - 1, max: mean + 1, count });

describe('dashboard WindowSeries', () => {
  it('keeps windows in start order whatever order they arrive in, and replaces a repeated start', () => {
    const s = new WindowSeries(100);
    for (const t of [3, 1, 2, 5, 4]) s.upsert(point(t));
    s.upsert(point(2, 20));
    const all = s.downsample(-Infinity, Infinity, 100);
    expect(all.t).toEqual([1, 2, 3, 4, 5]);
    expect(all.mean).toEqual([1, 20, 3, 4, 5]);
  });

  it('never holds more than its capacity: the oldest windows go first', () => {
    const s = new WindowSeries(64);
    for (let t = 0; t < 1_000; t++) s.upsert(point(t));
    expect(s.length).toBeLessThanOrEqual(64);
    expect(s.newest()?.t).toBe(999);
    const kept = s.downsample(-Infinity, Infinity, 1_000).t;
    expect(kept[0]).toBeGreaterThan(900);
    // A window older than everything kept is not kept either.
    s.upsert(point(5));
    expect(s.downsample(-Infinity, Infinity, 1_000).t).not.toContain(5);
  });

  it('downsamples to at most the requested points, keeping the extremes in the band and the weighted mean', () => {
    const s = new WindowSeries(2_000);
    for (let t = 0; t < 1_440; t++) s.upsert({ t: t * 60_000, mean: 20, min: 19, max: 21, count: 60 });
    s.upsert({ t: 700 * 60_000, mean: 50, min: 10, max: 90, count: 60 });
    const d = s.downsample(-Infinity, Infinity, 100);
    expect(d.t.length).toBeLessThanOrEqual(100);
    expect(Math.min(...d.min)).toBe(10);
    expect(Math.max(...d.max)).toBe(90);
    // Counts stay "readings per window"; the spike bucket's mean is count-weighted.
    expect(new Set(d.count)).toEqual(new Set([60]));
    const spike = d.max.indexOf(90);
    expect(d.mean[spike]).toBeGreaterThan(20);
    expect(d.mean[spike]).toBeLessThan(50);
  });

  it('returns only the windows starting within the range', () => {
    const s = new WindowSeries(100);
    for (let t = 0; t < 10; t++) s.upsert(point(t * 10));
    expect(s.downsample(20, 50, 100).t).toEqual([20, 30, 40, 50]);
    expect(s.downsample(200, 300, 100).t).toEqual([]);
  });

  it('keeps percentile columns, NaN for windows without them, and downsamples each toward its tail', () => {
    const s = new WindowSeries(2_000);
    s.upsert(point(-1));
    expect(s.addPercentiles(['p99', 'p50'])).toBe(2);
    expect(s.percentileNames).toEqual(['p50', 'p99']);
    expect(s.addPercentiles(['p50'])).toBe(0);
    for (let t = 0; t < 1_000; t++) s.upsert({ ...point(t), p: { p50: 20, p99: 30 } });
    s.upsert({ ...point(500), p: { p50: 40, p99: 90 } });
    s.upsert({ ...point(501), p: { p50: null, p99: 31 } });
    const all = s.downsample(-Infinity, Infinity, 2_000);
    expect(all.p?.p99?.[0]).toBeNaN();
    expect(all.p?.p99?.[1]).toBe(30);
    expect(all.p?.p50?.[502]).toBeNaN();
    expect(s.at(502).p).toEqual({ p50: null, p99: 31 });
    const d = s.downsample(-Infinity, Infinity, 50);
    expect(d.t.length).toBeLessThanOrEqual(50);
    // p99: the highest of a bucket (the spike stays visible); p50: count-weighted mean.
    expect(Math.max(...d.p!.p99!)).toBe(90);
    const spike = d.p!.p99!.indexOf(90);
    expect(d.p!.p50![spike]).toBeGreaterThan(20);
    expect(d.p!.p50![spike]).toBeLessThan(40);
  });

  it('grows percentile columns with the others', () => {
    const s = new WindowSeries(500);
    s.addPercentiles(['p90']);
    for (let t = 0; t < 300; t++) s.upsert({ ...point(t), p: { p90: t * 2 } });
    expect(s.bytes % (24 + 4)).toBe(0);
    expect(s.downsample(-Infinity, Infinity, 1_000).p?.p90?.slice(-2)).toEqual([596, 598]);
  });
});
