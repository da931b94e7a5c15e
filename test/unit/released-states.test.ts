/**
 * ReleasedStates (functions/pipeline/released-states.ts): the checkpoints an environment
 * keeps to claim a sensor again without a read (SEMANTICS.md CS2). It may only hand back
 * the body it was given, at the version it was given, once, and while usable.
 */
import { describe, expect, it } from 'vitest';
import { stateBody } from '../../functions/domain/bounds.js';
import { newSensorState, type SensorState } from '../../functions/domain/state.js';
import { ReleasedStates } from '../../functions/pipeline/released-states.js';

function released(sensorId: string, version: number): SensorState {
  const state = newSensorState(sensorId);
  state.version = version;
  state.last.temperature = version;
  return state;
}

describe('ReleasedStates (SEMANTICS.md CS2)', () => {
  it('CS2: hands a released checkpoint back once, at its version, while it is usable', () => {
    const cache = new ReleasedStates();
    cache.remember(released('a', 7), 1_000);
    const got = cache.take('a', 999)!;
    expect(got.version).toBe(7);
    expect(stateBody(got)).toBe(stateBody(released('a', 7)));
    expect(cache.take('a', 999)).toBeUndefined();
    cache.remember(released('b', 3), 1_000);
    expect(cache.take('b', 1_000)).toBeUndefined();
  });

  it('CS2: keeps no state that holds a claim or an outbox, and a newer checkpoint replaces an older one', () => {
    const cache = new ReleasedStates();
    const claimed = { ...released('a', 2), claim: { by: 'x', shardId: 's', from: '1', until: 5 } };
    cache.remember(claimed, 1_000);
    expect(cache.take('a', 0)).toBeUndefined();
    const withAlert = released('b', 2);
    withAlert.outbox.late.push({ sensorId: 'b' } as never);
    cache.remember(withAlert, 1_000);
    expect(cache.take('b', 0)).toBeUndefined();
    cache.remember(released('c', 2), 1_000);
    cache.remember(released('c', 4), 1_000);
    expect(cache.take('c', 0)!.version).toBe(4);
  });

  it('drops the oldest entries past its size bound', () => {
    const one = stateBody(released('s-0', 1)).length + 3;
    const cache = new ReleasedStates({ maxBytes: one * 2 });
    for (let i = 0; i < 3; i++) cache.remember(released(`s-${i}`, 1), 1_000);
    expect(cache.take('s-0', 0)).toBeUndefined();
    expect(cache.take('s-1', 0)?.version).toBe(1);
    expect(cache.take('s-2', 0)?.version).toBe(1);
  });
});
