/** A-M2 Exactly once: a transition's id is derived from its cause, and nothing else. */
import { describe, expect, it } from 'vitest';
import { alarmIdOf, parseAlarmId } from '../../functions/domain/alarms/entry.js';
import { buildTransition, transitionIdOf } from '../../functions/domain/alarms/transition.js';

describe('A-M2 transitionId', () => {
  it('is deterministic: the same cause gives the same id', () => {
    expect(transitionIdOf('s1', 'too-hot', 1, 'ALARM', 1_000)).toBe(
      transitionIdOf('s1', 'too-hot', 1, 'ALARM', 1_000),
    );
    expect(transitionIdOf('s1', 'too-hot', 1, 'ALARM', 1_000)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('differs in each part of the cause, and cannot be forged by joining characters', () => {
    const base = transitionIdOf('s1', 'too-hot', 1, 'ALARM', 1_000);
    expect(
      new Set([
        base,
        transitionIdOf('s2', 'too-hot', 1, 'ALARM', 1_000),
        transitionIdOf('s1', 'too-cold', 1, 'ALARM', 1_000),
        transitionIdOf('s1', 'too-hot', 2, 'ALARM', 1_000),
        transitionIdOf('s1', 'too-hot', 1, 'RESOLVED', 1_000),
        // a removed rule that comes back restarts seq: the time keeps the ids apart
        transitionIdOf('s1', 'too-hot', 1, 'ALARM', 1_001),
        transitionIdOf('s1","too', 'hot', 1, 'ALARM', 1_000),
      ]).size,
    ).toBe(7);
  });

  it('alarm ids split at the first @ (rule names cannot hold one)', () => {
    expect(alarmIdOf('too-hot', 'dev@site')).toBe('too-hot@dev@site');
    expect(parseAlarmId('too-hot@dev@site')).toEqual({ rule: 'too-hot', sensorId: 'dev@site' });
    expect(parseAlarmId('nope')).toBeUndefined();
    expect(parseAlarmId('@s')).toBeUndefined();
  });

  it('the message holds the id fields and the detail last', () => {
    const t = buildTransition(
      {
        sensorId: 's1',
        rule: 'too-hot',
        ruleVersion: 2,
        ruleType: 'threshold',
        severity: 'critical',
        metric: 'temperature',
        seq: 1,
        detail: { above: 35 },
      },
      {
        transition: 'ALARM',
        from: 'NORMAL',
        state: 'ACTIVE',
        at: 1_000,
        clock: 'event',
        since: 1_000,
        value: 40,
        peak: 40,
        peakAt: 1_000,
      },
    );
    expect(t.transitionId).toBe(transitionIdOf('s1', 'too-hot', 1, 'ALARM', 1_000));
    expect(t.alarmId).toBe('too-hot@s1');
    expect(Object.keys(t).at(-1)).toBe('detail');
  });
});
