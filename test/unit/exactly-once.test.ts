import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import {
  checkSequence,
  compareSequence,
  padSequence,
  SEQUENCE_WIDTH,
  shardIdOfEventId,
  unpadSequence,
} from '../../functions/domain/sequence.js';
import { newSensorState, type Outbox, type SensorRecord } from '../../functions/domain/state.js';
import { flushSensor } from '../../functions/domain/windows/finalise.js';
import { effectIds, record, withoutOutbox } from './factories.js';

const config = parseConfig({});

const batchArb = fc
  .array(
    fc.record({
      // Mostly advancing time with some disorder and some very late readings.
      dt: fc.integer({ min: -80_000, max: 30_000 }),
      v: fc.double({ min: -10, max: 60, noNaN: true, noDefaultInfinity: true }),
    }),
    { minLength: 1, maxLength: 80 },
  )
  .map((steps) => {
    let t = 1_000_000;
    return steps.map((s, i) => {
      t = Math.max(0, t + s.dt);
      return record('s', t, s.v, 1_000 + i);
    });
  });

describe('Delivery guarantees: every effect is applied exactly once, whether a batch ran once or five times', () => {
  it('replaying any prefix of a batch then the whole batch gives the same state as one clean run (property)', () => {
    fc.assert(
      fc.property(batchArb, fc.nat(), (batch, k) => {
        const prefix = batch.slice(0, k % (batch.length + 1));
        const clean = foldSensorRecords(newSensorState('s'), batch, config);
        const first = foldSensorRecords(newSensorState('s'), prefix, config);
        const replay = foldSensorRecords(first.state, batch, config);
        expect(withoutOutbox(replay.state)).toEqual(withoutOutbox(clean.state));
        expect(replay.duplicates).toBe(prefix.length);
        // The effects of the two partial runs add up to those of the clean run, none twice.
        expect(effectIds([first.effects, replay.effects])).toEqual(effectIds([clean.effects]));
      }),
      { numRuns: 300 },
    );
  });

  it('running the same batch five times changes nothing after the first', () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        const once = foldSensorRecords(newSensorState('s'), batch, config);
        let state = once.state;
        for (let i = 0; i < 4; i++) {
          const again = foldSensorRecords(state, batch, config);
          expect(again.applied).toBe(0);
          expect(effectIds([again.effects])).toEqual({ results: [], alerts: [], late: [] });
          state = again.state;
        }
        expect(withoutOutbox(state)).toEqual(withoutOutbox(once.state));
      }),
      { numRuns: 100 },
    );
  });

  it('splitting a batch anywhere (bisect, partial-failure checkpoints) gives the same state and effects', () => {
    fc.assert(
      fc.property(batchArb, fc.array(fc.nat(), { maxLength: 4 }), (batch, cuts) => {
        const clean = foldSensorRecords(newSensorState('s'), batch, config);
        const points = [...new Set(cuts.map((c) => c % (batch.length + 1)))].sort((a, b) => a - b);
        let state = newSensorState('s');
        const outboxes: Outbox[] = [];
        let from = 0;
        for (const p of [...points, batch.length]) {
          // Each piece is redelivered with some already-applied records before it.
          const piece = batch.slice(Math.max(0, from - 3), p);
          const r = foldSensorRecords(state, piece, config);
          state = r.state;
          outboxes.push(r.effects);
          from = p;
        }
        expect(withoutOutbox(state)).toEqual(withoutOutbox(clean.state));
        expect(effectIds(outboxes)).toEqual(effectIds([clean.effects]));
      }),
      { numRuns: 200 },
    );
  });

  it('does not mutate the state it folds into (a retry can reuse it)', () => {
    const s0 = foldSensorRecords(newSensorState('s'), [record('s', 1_000, 20, 1)], config).state;
    const snapshot = structuredClone(s0);
    foldSensorRecords(s0, [record('s', 2_000, 50, 2), record('s', 500_000, 50, 3)], config);
    expect(s0).toEqual(snapshot);
  });
});

describe('Delivery guarantees: order per sensor is the order of its records in its shard, across resharding', () => {
  it('fences sequence numbers per shard, so a child shard with lower numbers is not mistaken for a duplicate', () => {
    const parent = [
      record('s', 1_000, 20, 900, 'shardId-000000000000'),
      record('s', 2_000, 21, 901, 'shardId-000000000000'),
    ];
    const child = [
      record('s', 3_000, 22, 5, 'shardId-000000000002'),
      record('s', 4_000, 23, 6, 'shardId-000000000002'),
    ];
    const s1 = foldSensorRecords(newSensorState('s'), parent, config);
    const s2 = foldSensorRecords(s1.state, child, config);
    expect(s2.applied).toBe(2);
    const again = foldSensorRecords(s2.state, [...parent, ...child], config);
    expect(again.applied).toBe(0);
    expect(again.duplicates).toBe(4);
  });

  it('compares sequence numbers longer than 2^53 and than 38 digits correctly', () => {
    const big = '49590338271490256608559692538361571095921575989136588898';
    const bigger = '49590338271490256608559692538361571095921575989136588899';
    expect(compareSequence(big, bigger)).toBeLessThan(0);
    expect(compareSequence('10', '9')).toBeGreaterThan(0);
    expect(compareSequence(big, big)).toBe(0);
    // Stored form (DynamoDB attribute): fixed width, so string order is numeric order.
    expect(padSequence(big) < padSequence(bigger)).toBe(true);
    expect(padSequence('9') < padSequence('10')).toBe(true);
    expect(padSequence(big)).toHaveLength(SEQUENCE_WIDTH);
    expect(unpadSequence(padSequence(big))).toBe(big);
    expect(() => padSequence('12a')).toThrowError(/not a Kinesis sequence number/);
    for (const bad of ['', '012', '12a', ' 1', '1'.repeat(130)]) {
      expect(() => checkSequence(bad), JSON.stringify(bad)).toThrowError(/not a Kinesis sequence number/);
    }
    expect(checkSequence('0')).toBe('0');
    expect(checkSequence(big)).toBe(big);
    const s = foldSensorRecords(newSensorState('s'), [record('s', 1, 1, bigger)], config);
    expect(foldSensorRecords(s.state, [record('s', 2, 1, big)], config).duplicates).toBe(1);
  });

  it('reads the shard from a Lambda eventID', () => {
    expect(shardIdOfEventId('shardId-000000000003:4959033827149025660855969253836')).toBe(
      'shardId-000000000003',
    );
  });
});

describe('End of replay / idle sensors: open windows are flushed as final', () => {
  it('emits every open window once and makes later readings for them late', () => {
    const s1 = foldSensorRecords(
      newSensorState('s'),
      [record('s', 1_000, 20, 1), record('s', 65_000, 21, 2)] as SensorRecord[],
      config,
    );
    const flushed = flushSensor(s1.state);
    expect(flushed.effects.results.map((r) => r.windowStart)).toEqual([0, 60_000]);
    expect(flushed.state.windows).toEqual({});
    const after = foldSensorRecords(
      flushed.state,
      [record('s', 100_000, 22, 3), record('s', 130_000, 22, 4)],
      config,
    );
    expect(after.effects.late.map((l) => l.timestamp)).toEqual([100_000]);
    expect(Object.values(after.state.windows).map((w) => w.start)).toEqual([120_000]);
    expect(flushSensor(flushSensor(s1.state).state).effects.results).toEqual([]);
  });
});
