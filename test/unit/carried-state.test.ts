/** The carried JSON (functions/pipeline/carried-state.ts): what survives from one invocation to the next. */
import { describe, expect, it } from 'vitest';
import { newSensorState, type SensorState } from '../../functions/domain/state.js';
import { CarriedStates, handBackAt } from '../../functions/pipeline/carried-state.js';
import {
  CarriedStateConflictError,
  resolveConflict,
} from '../../functions/window-handler/process-carried.js';

function carried(): CarriedStates {
  return CarriedStates.from({}, 'shardId-000000000001');
}

describe('CarriedStates', () => {
  it('CS2: a sensor carried with its claim comes back with it in the next invocation', () => {
    const c = carried();
    const claim = { by: c.id, shardId: c.shardId, from: '4960', until: 1_800_000 };
    c.set({ ...newSensorState('s1'), version: 3, watermark: 42, claim }, false);
    const next = CarriedStates.from(JSON.parse(JSON.stringify(c.toJSON())), c.shardId);
    expect(next.fresh).toBe(false);
    expect(next.id).toBe(c.id);
    const s1 = next.get('s1')!;
    expect(s1).toMatchObject({ sensorId: 's1', version: 3, watermark: 42, claim });
  });

  it("another carried state's claim is not carried as this one's", () => {
    const c = carried();
    const foreign = {
      by: 'shardId-000000000000/other',
      shardId: 'shardId-000000000000',
      from: '1',
      until: 5,
    };
    c.set({ ...newSensorState('s2'), version: 1, claim: foreign }, false);
    expect(c.get('s2')!.claim).toBeUndefined();
  });

  it('a state for another shard, or in another format, starts afresh', () => {
    const c = carried();
    c.set({ ...newSensorState('s3'), version: 1 }, false);
    expect(CarriedStates.from(c.toJSON(), 'shardId-000000000002').fresh).toBe(true);
    expect(CarriedStates.from({ ...c.toJSON(), f: 'other/1' }, c.shardId).fresh).toBe(true);
  });
});

describe('CS8: hand-back of silent carried sensors', () => {
  const withWindow = (s: ReturnType<typeof newSensorState>) =>
    ({ ...s, windows: { 'tumbling:60000:0': {} } }) as unknown as ReturnType<typeof newSensorState>;

  it('is due idleTimeoutMs after the last batch when windows are open, or when an absence alarm is due, whichever comes first', () => {
    const open = withWindow(newSensorState('s1'));
    expect(handBackAt(newSensorState('s0'), 1_000, 60_000)).toBeUndefined();
    expect(handBackAt(open, 1_000, 60_000)).toBe(61_000);
    expect(handBackAt({ ...open, sd: 30_000 }, 1_000, 60_000)).toBe(30_000);
    expect(handBackAt({ ...newSensorState('s2'), sd: 90_000 }, 1_000, 60_000)).toBe(90_000);
  });

  it('the last batch and the due time travel with the sensor, and a set without them keeps them', () => {
    const c = carried();
    c.set(newSensorState('s1'), false, { at: 1_000, handBackAt: 61_000 });
    c.set(newSensorState('s2'), false, { at: 1_000, handBackAt: undefined });
    const next = CarriedStates.from(JSON.parse(JSON.stringify(c.toJSON())), c.shardId);
    expect(next.seenAt('s1')).toBe(1_000);
    expect(next.dueForHandBack(60_999)).toEqual([]);
    expect(next.dueForHandBack(61_000)).toEqual(['s1']);
    // A renewal's set (no batch of the sensor) keeps what the last batch said.
    next.set(next.get('s1')!, false);
    expect(next.dueForHandBack(61_000)).toEqual(['s1']);
    expect(next.seenAt('s1')).toBe(1_000);
  });
});

describe('resolveConflict: a carried state whose write lost (SEMANTICS.md CS5)', () => {
  const A = 'shardId-000000000001';
  const B = 'shardId-000000000002';
  const state = (version: number, applied: Record<string, string>, watermark = 0): SensorState => ({
    ...newSensorState('s1'),
    version,
    applied,
    watermark,
  });

  it('goes on from the stored state when it holds every record this one applied on its shard', () => {
    const stored = state(7, { [A]: '500' }, 2);
    expect(resolveConflict(A, state(5, { [A]: '400' }), stored)).toBe(stored);
    expect(resolveConflict(A, state(5, { [A]: '500' }), stored)).toBe(stored);
    // A state that applied nothing on its shard has nothing the stored one could lack.
    expect(resolveConflict(A, state(5, {}), stored)).toBe(stored);
  });

  it('goes on from its own state, fenced on the stored version, when it holds every record the stored one applied', () => {
    const mine = state(5, { [A]: '500', [B]: '90' }, 3);
    const out = resolveConflict(A, mine, state(7, { [A]: '400', [B]: '90' }));
    expect(out).toEqual({ ...mine, version: 7 });
    // Positions compare as numbers, and a longer sequence number is a later one.
    expect(resolveConflict(A, state(5, { [A]: '1000' }), state(7, { [A]: '999' })).version).toBe(7);
  });

  it('throws when the two diverged: the stored state applied records this one lacks on another shard', () => {
    const mine = state(5, { [A]: '500' });
    expect(() => resolveConflict(A, mine, state(7, { [A]: '400', [B]: '90' }))).toThrow(
      CarriedStateConflictError,
    );
    expect(() =>
      resolveConflict(A, state(5, { [A]: '500', [B]: '80' }), state(7, { [A]: '400', [B]: '90' })),
    ).toThrow(/written by another writer at version 7, behind this carried state/);
  });
});
