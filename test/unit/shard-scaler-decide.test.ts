import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  alignedTargets,
  DAY_MS,
  DEFAULT_SCALING_LIMITS,
  decideScaling,
  KINESIS_MAX_OPERATIONS_PER_DAY,
  type ScalingInput,
  type ScalingLimits,
  ScalingLimitsSchema,
  type ScalingOperation,
  type SignalKind,
} from '../../functions/shard-scaler/decide.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const MIN = 60_000;
const limits = (over: Partial<ScalingLimits> = {}): ScalingLimits => ScalingLimitsSchema.parse({ ...over });

function input(over: Partial<ScalingInput> & { kind?: SignalKind; utilisation?: number } = {}): ScalingInput {
  const { kind = 'bytes-high', utilisation, ...rest } = over;
  return {
    now: NOW,
    streamStatus: 'ACTIVE',
    openShardCount: 4,
    signal: utilisation === undefined ? { kind } : { kind, utilisation },
    history: [],
    limits: DEFAULT_SCALING_LIMITS,
    ...rest,
  };
}

/** `n` operations, the newest `newestAgoMs` before NOW, one hour apart. */
function ops(n: number, newestAgoMs = 2 * 60 * MIN): ScalingOperation[] {
  return Array.from({ length: n }, (_, i) => ({ at: NOW - newestAgoMs - i * 60 * MIN, from: 2, to: 4 }));
}

describe('Shard scaler decision: scaling out', () => {
  it('aims the hottest shard at targetUtilisation, rounded up to a 25 % step', () => {
    // 4 shards, hottest at 0.9, target 0.5: 4 * 0.9 / 0.5 = 7.2 -> 8 (200 %).
    expect(decideScaling(input({ utilisation: 0.9 }))).toMatchObject({ action: 'scale', from: 4, target: 8 });
    // 8 shards at 0.6 (throttle-free but above target): 9.6 -> 10 (125 %).
    expect(
      decideScaling(
        input({ openShardCount: 8, utilisation: 0.6, limits: limits({ scaleOutThreshold: 0.55 }) }),
      ),
    ).toMatchObject({ action: 'scale', target: 10 });
  });

  it('never more than doubles in one operation (Kinesis limit), however hot the shard', () => {
    expect(decideScaling(input({ openShardCount: 3, utilisation: 5 }))).toMatchObject({ target: 6 });
  });

  it('treats write throttling without datapoints as a shard at capacity', () => {
    // 1.0 / 0.5 * 4 = 8.
    expect(decideScaling(input({ kind: 'write-throttled' }))).toMatchObject({ action: 'scale', target: 8 });
  });

  it('without datapoints, assumes the scale-out threshold was just crossed', () => {
    // 4 * 0.8 / 0.5 = 6.4 -> 7 (175 %).
    expect(decideScaling(input({ kind: 'records-high' }))).toMatchObject({ target: 7 });
  });

  it('caps at maxShards, even when that breaks the 25 % alignment', () => {
    expect(decideScaling(input({ utilisation: 0.9, limits: limits({ maxShards: 6 }) }))).toMatchObject({
      action: 'scale',
      target: 6,
    });
    expect(decideScaling(input({ openShardCount: 6, limits: limits({ maxShards: 6 }) }))).toMatchObject({
      action: 'none',
      reason: 'at-max',
    });
  });

  it('does nothing when the reported utilisation needs no more shards (a stale alarm)', () => {
    expect(decideScaling(input({ utilisation: 0.3 }))).toMatchObject({
      action: 'none',
      reason: 'not-needed',
    });
  });

  it('rounds odd counts to the only aligned step Kinesis offers (3 -> 6)', () => {
    expect(alignedTargets(3)).toEqual([3, 6]);
    expect(decideScaling(input({ openShardCount: 3, utilisation: 0.7 }))).toMatchObject({ target: 6 });
  });
});

describe('Shard scaler decision: scaling in', () => {
  it('halves at most, to the smallest 25 % step that still carries the load', () => {
    // 8 shards idle at 0.1: 8 * 0.1 / 0.5 = 1.6 -> floor is half (4).
    expect(decideScaling(input({ kind: 'idle', openShardCount: 8, utilisation: 0.1 }))).toMatchObject({
      action: 'scale',
      direction: 'in',
      target: 4,
    });
    // 8 shards at 0.3: 4.8 -> 5? Not a 25 % step of 8; 6 (75 %) is.
    expect(
      decideScaling(
        input({
          kind: 'idle',
          openShardCount: 8,
          utilisation: 0.3,
          limits: limits({ scaleInThreshold: 0.35, targetUtilisation: 0.5 }),
        }),
      ),
    ).toMatchObject({ target: 6 });
  });

  it('takes an unaligned target when no 25 % step lies below the current count (3 -> 2)', () => {
    expect(decideScaling(input({ kind: 'idle', openShardCount: 3 }))).toMatchObject({
      action: 'scale',
      target: 2,
    });
  });

  it('respects minShards and the 1-shard floor', () => {
    expect(
      decideScaling(input({ kind: 'idle', openShardCount: 4, limits: limits({ minShards: 3 }) })),
    ).toMatchObject({
      target: 3,
    });
    expect(decideScaling(input({ kind: 'idle', openShardCount: 1 }))).toMatchObject({
      action: 'none',
      reason: 'at-min',
    });
  });

  it('keeps reservedScaleOutOperations of the daily budget for scaling out', () => {
    const seven = ops(7);
    expect(decideScaling(input({ kind: 'idle', history: seven }))).toMatchObject({
      action: 'none',
      reason: 'reserved-for-scale-out',
    });
    expect(decideScaling(input({ kind: 'bytes-high', utilisation: 0.9, history: seven }))).toMatchObject({
      action: 'scale',
    });
    expect(decideScaling(input({ kind: 'idle', history: ops(6) }))).toMatchObject({ action: 'scale' });
  });
});

describe('Shard scaler decision: limits and cooldowns', () => {
  it('stops at 10 operations in any rolling 24 hours', () => {
    expect(
      decideScaling(input({ utilisation: 0.9, history: ops(KINESIS_MAX_OPERATIONS_PER_DAY) })),
    ).toMatchObject({
      action: 'none',
      reason: 'daily-limit',
    });
  });

  it('forgets operations older than 24 hours', () => {
    const old = ops(KINESIS_MAX_OPERATIONS_PER_DAY, DAY_MS);
    expect(decideScaling(input({ utilisation: 0.9, history: old }))).toMatchObject({ action: 'scale' });
  });

  it.each([
    { kind: 'bytes-high' as const, agoMinutes: 4, decided: 'none' },
    { kind: 'bytes-high' as const, agoMinutes: 5, decided: 'scale' },
    { kind: 'idle' as const, agoMinutes: 59, decided: 'none' },
    { kind: 'idle' as const, agoMinutes: 60, decided: 'scale' },
  ])(
    'cooldown: $kind $agoMinutes min after the last operation -> $decided',
    ({ kind, agoMinutes, decided }) => {
      const history = [{ at: NOW - agoMinutes * MIN, from: 2, to: 4 }];
      const d = decideScaling(input({ kind, utilisation: kind === 'idle' ? 0.05 : 0.9, history }));
      expect(d.action).toBe(decided);
      if (d.action === 'none') expect(d.reason).toBe('cooldown');
    },
  );

  it('waits while the stream is not ACTIVE', () => {
    expect(decideScaling(input({ streamStatus: 'UPDATING', utilisation: 0.9 }))).toMatchObject({
      action: 'none',
      reason: 'stream-not-active',
    });
  });

  it('rejects inconsistent limits with the field named', () => {
    expect(() => ScalingLimitsSchema.parse({ minShards: 8, maxShards: 4 })).toThrow(/minShards/);
    expect(() => ScalingLimitsSchema.parse({ scaleInThreshold: 0.6, targetUtilisation: 0.5 })).toThrow(
      /targetUtilisation/,
    );
  });
});

describe('Shard scaler decision: invariants', () => {
  const arbLimits = fc
    .record({
      minShards: fc.integer({ min: 1, max: 20 }),
      extra: fc.integer({ min: 0, max: 200 }),
      reserved: fc.integer({ min: 0, max: 10 }),
    })
    .map(({ minShards, extra, reserved }) =>
      limits({ minShards, maxShards: minShards + extra, reservedScaleOutOperations: reserved }),
    );
  const arbOps = fc.array(
    fc.record({ ago: fc.integer({ min: 0, max: 2 * DAY_MS }), from: fc.integer({ min: 1, max: 100 }) }),
    { maxLength: 14 },
  );

  it('a scaling target is always within Kinesis limits, the configured bounds, the budget and the cooldowns', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.constantFrom<SignalKind>('bytes-high', 'records-high', 'write-throttled', 'idle'),
        fc.option(fc.double({ min: 0, max: 4, noNaN: true }), { nil: undefined }),
        arbLimits,
        arbOps,
        (current, kind, utilisation, l, history) => {
          const h = history.map((o) => ({ at: NOW - o.ago, from: o.from, to: o.from * 2 }));
          const d = decideScaling(
            input({
              openShardCount: current,
              kind,
              ...(utilisation === undefined ? {} : { utilisation }),
              limits: l,
              history: h,
            }),
          );
          if (d.action === 'none') return;
          const recent = h.filter((o) => o.at > NOW - DAY_MS);
          expect(recent.length).toBeLessThan(KINESIS_MAX_OPERATIONS_PER_DAY);
          expect(d.target).toBeLessThanOrEqual(current * 2);
          expect(d.target).toBeGreaterThanOrEqual(Math.ceil(current / 2));
          expect(d.target).not.toBe(current);
          if (d.direction === 'out') {
            expect(d.target).toBeGreaterThan(current);
            expect(d.target).toBeLessThanOrEqual(l.maxShards);
          } else {
            expect(d.target).toBeLessThan(current);
            expect(d.target).toBeGreaterThanOrEqual(l.minShards);
            expect(recent.length).toBeLessThan(KINESIS_MAX_OPERATIONS_PER_DAY - l.reservedScaleOutOperations);
          }
          const newest = Math.max(...recent.map((o) => o.at));
          const cooldown =
            (d.direction === 'out' ? l.scaleOutCooldownMinutes : l.scaleInCooldownMinutes) * MIN;
          if (recent.length > 0) expect(NOW - newest).toBeGreaterThanOrEqual(cooldown);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
