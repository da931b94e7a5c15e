/**
 * The carried-state measurement's cases and the invocations it gives the handler: whole
 * Lambda windows by arrival time, one invocation per batching window of records (never
 * more than a batch), each window ended by a final invocation without records.
 */
import { describe, expect, it } from 'vitest';
import { naiveProcessBatch, newNaiveState } from '../../bench/baseline.js';
import {
  carriedCases,
  carriedInvocations,
  carriedTargetRatio,
  LOW_SPIKE_RATE,
  spikeNote,
} from '../../bench/carried-cases.js';
import { BENCH_T0, fleetRecords, toEvents } from '../../bench/data.js';
import { DEFAULT_CONFIG } from '../../functions/domain/config.js';

describe('carried bench cases', () => {
  it('covers 100 and 1,000 sensors at 1 and 0.1 Hz for 300 and 900 s windows, with the targets of issue 14', () => {
    const all = carriedCases(false);
    const cases = all.filter((c) => c.spikeRate === undefined);
    expect(cases.map((c) => `${c.fleet}@${c.rateHz}/${c.tumblingWindowSeconds}`).sort()).toEqual(
      [
        '100@1/300',
        '100@1/900',
        '100@0.1/300',
        '100@0.1/900',
        '1000@1/300',
        '1000@1/900',
        '1000@0.1/300',
        '1000@0.1/900',
      ].sort(),
    );
    for (const c of cases) {
      expect(c.batchingWindowSeconds).toBe(1);
      expect(c.sensors * c.shards).toBeGreaterThanOrEqual(c.fleet);
    }
    // And the 1,000-sensor 1 Hz shard at the default window, alerting a quarter as often.
    const extra = all.filter((c) => c.spikeRate !== undefined);
    expect(extra.map((c) => [c.fleet, c.rateHz, c.tumblingWindowSeconds, c.spikeRate])).toEqual([
      [1_000, 1, 300, LOW_SPIKE_RATE],
    ]);
    expect(new Set(all.map((c) => c.id)).size).toBe(all.length);
    expect(spikeNote(extra[0]!)).toBe(', spikes on 0.5 % of readings');
    // Its records alert less: the naive per-reading baseline raises an alert per firing reading.
    const alerts = (rate?: number) => {
      const records = fleetRecords(
        { sensors: 10, rateHz: 1, ...(rate !== undefined ? { spikeRate: rate } : {}) },
        20_000,
      );
      const state = newNaiveState();
      let n = 0;
      for (const event of toEvents(records, 1_000))
        n += naiveProcessBatch(event, state, DEFAULT_CONFIG).alerts.length;
      return n;
    };
    const usual = alerts();
    const fewer = alerts(LOW_SPIKE_RATE);
    expect(fewer).toBeGreaterThan(0);
    expect(fewer).toBeLessThan(usual / 2);
    expect(carriedTargetRatio(1)).toBe(1 / 20);
    expect(carriedTargetRatio(0.1)).toBe(1 / 3);
    expect(carriedCases(true).length).toBeGreaterThan(0);
  });

  it('cuts a shard into invocations per batching window and ends each Lambda window with a final one', () => {
    const spec = {
      ...carriedCases(true)[0]!,
      sensors: 20,
      rateHz: 1,
      tumblingWindowSeconds: 60,
      lambdaWindows: 1,
      warmUpWindows: 1,
      maxBatch: 15,
    };
    const records = fleetRecords({ sensors: 20, rateHz: 1 }, 20 * 130).filter(
      (r) => r.arrivalMs < BENCH_T0 + 120_000,
    );
    const invocations = carriedInvocations(records, spec);
    const finals = invocations.filter((i) => i.final);
    expect(finals.length).toBe(2);
    expect(finals.map((f) => f.windowIndex)).toEqual([0, 1]);
    expect(finals.every((f) => f.records.length === 0)).toBe(true);
    expect(invocations.at(-1)!.final).toBe(true);
    expect(invocations.reduce((n, i) => n + i.records.length, 0)).toBe(records.length);
    let next = 1;
    for (const inv of invocations) {
      expect(inv.records.length).toBeLessThanOrEqual(15);
      if (inv.final) continue;
      expect(inv.firstSequence).toBe(next);
      next += inv.records.length;
      const start = Date.parse(inv.window.start);
      const seconds = new Set(inv.records.map((r) => Math.max(0, Math.floor((r.arrivalMs - start) / 1_000))));
      expect(seconds.size).toBe(1);
      expect(inv.records.every((r) => r.arrivalMs < Date.parse(inv.window.end))).toBe(true);
    }
    expect(new Set(invocations.map((i) => i.window.start)).size).toBe(2);
  });
});
