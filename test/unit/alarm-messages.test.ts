/** A-M1 Messages: what the alert topic carries for alarm transitions and for alerts. */
import { describe, expect, it } from 'vitest';
import { buildTransition } from '../../functions/domain/alarms/transition.js';
import { DEFAULT_RULES } from '../../functions/domain/rules/registry.js';
import { buildAlert } from '../../functions/domain/rules.js';
import { alertMessage, transitionMessage } from '../../functions/lib/publish-once.js';
import { describeTransition } from '../../local/cli/view.js';

const transition = buildTransition(
  {
    sensorId: 's1',
    rule: 'too-hot',
    ruleVersion: 4,
    ruleType: 'threshold',
    severity: 'critical',
    metric: 'temperature',
    seq: 2,
    recordId: 'shardId-0:9',
    detail: { above: 35 },
  },
  {
    transition: 'RESOLVED',
    from: 'ACTIVE',
    state: 'NORMAL',
    at: 5_000,
    clock: 'event',
    since: 1_000,
    value: 20,
    peak: 41,
    peakAt: 2_000,
  },
);

describe('A-M1 Messages', () => {
  it('a transition is published as its JSON with kind=alarm, state, transition and the rule version', () => {
    const m = transitionMessage(transition);
    expect(m.id).toBe(transition.transitionId);
    expect(m.body).toBe(transition);
    expect(m.attributes).toEqual({
      kind: 'alarm',
      state: 'NORMAL',
      transition: 'RESOLVED',
      sensorId: 's1',
      rule: 'too-hot',
      ruleVersion: '4',
      severity: 'critical',
    });
    // SNS raw delivery carries at most 10 attributes.
    expect(Object.keys(m.attributes).length).toBeLessThanOrEqual(10);
  });

  it('the body holds since, value and peak', () => {
    expect(transition).toMatchObject({ since: 1_000, value: 20, peak: 41, peakAt: 2_000, seq: 2 });
  });

  it('an alert is published with kind=alert and its rule version', () => {
    const alert = buildAlert(DEFAULT_RULES[0]!, 's1', 40, 60_000, undefined, false);
    expect(alertMessage(alert).attributes).toEqual({
      kind: 'alert',
      sensorId: 's1',
      rule: 'too-hot',
      ruleVersion: '0',
      severity: 'critical',
    });
  });

  it('the console names the alarm, the transition and the states', () => {
    expect(describeTransition(transition)).toMatch(
      /^critical too-hot@s1 RESOLVED ACTIVE -> NORMAL temperature 20 at /,
    );
  });
});
