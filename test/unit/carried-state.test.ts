/** The carried JSON (functions/pipeline/carried-state.ts): what survives from one invocation to the next. */
import { describe, expect, it } from 'vitest';
import { newSensorState } from '../../functions/domain/state.js';
import { CarriedStates } from '../../functions/pipeline/carried-state.js';

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
