/** A-R2 Scope and precedence, A-R3 sources: which rules a sensor gets (functions/domain/rule-set.ts). */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/domain/config.js';
import { layerRules, RuleSet } from '../../functions/domain/rule-set.js';
import type { Scope } from '../../functions/domain/rules/common.js';
import type { Rule } from '../../functions/domain/rules/registry.js';

function hot(above: number, scope?: Scope, extra: Partial<Rule> = {}): Rule {
  return {
    name: 'too-hot',
    type: 'threshold',
    metric: 'temperature',
    severity: 'critical',
    cooldownMs: 60_000,
    above,
    ...(scope ? { scope } : {}),
    ...extra,
  } as Rule;
}
const aboveOf = (set: RuleSet, sensor: string) =>
  set.resolve(sensor).rules.map((r) => (r.type === 'threshold' ? r.above : undefined));

describe('A-R2 Scope and precedence', () => {
  const set = new RuleSet({
    rules: [
      hot(35),
      hot(30, { prefix: 'lab-' }),
      hot(25, { prefix: 'lab-cold-' }),
      hot(20, { tag: 'freezer' }),
      hot(10, { tag: 'arctic' }),
      hot(15, { sensor: 'lab-cold-7' }),
    ],
    tags: new Map([
      ['lab-cold-3', ['freezer']],
      ['lab-cold-7', ['freezer']],
      ['plant-1', ['freezer', 'arctic']],
    ]),
  });

  it('all < prefix < longest prefix < tag < sensor', () => {
    expect(aboveOf(set, 'plant-9')).toEqual([35]);
    expect(aboveOf(set, 'lab-1')).toEqual([30]);
    expect(aboveOf(set, 'lab-cold-1')).toEqual([25]);
    expect(aboveOf(set, 'lab-cold-3')).toEqual([20]);
    expect(aboveOf(set, 'lab-cold-7')).toEqual([15]);
  });

  it('two matching tags: the tag first in sort order wins', () => {
    expect(aboveOf(set, 'plant-1')).toEqual([10]);
  });

  it('a disabled winner exempts the sensor from that rule name only', () => {
    const exempt = new RuleSet({
      rules: [
        hot(35),
        hot(35, { sensor: 'quiet' }, { disabled: true }),
        {
          name: 'jump',
          type: 'delta',
          metric: 'temperature',
          severity: 'warning',
          cooldownMs: 60_000,
          maxDelta: 5,
        },
      ],
    });
    expect(exempt.resolve('quiet').rules.map((r) => r.name)).toEqual(['jump']);
    expect(exempt.resolve('loud').rules.map((r) => r.name)).toEqual(['jump', 'too-hot']);
  });

  it('at most maxRulesPerSensor rules, the first by name', () => {
    const rules = ['d', 'a', 'c', 'b'].map((name) => ({ ...hot(1), name }));
    expect(new RuleSet({ rules, maxRulesPerSensor: 2 }).resolve('s').rules.map((r) => r.name)).toEqual([
      'a',
      'b',
    ]);
  });

  it('the resolution is cached per sensor and every sensor shares it when all rows are scoped all', () => {
    const all = new RuleSet({ rules: [hot(35)] });
    expect(all.resolve('a')).toBe(all.resolve('b'));
    expect(set.resolve('lab-1')).toBe(set.resolve('lab-1'));
  });

  it('a configuration may hold one row per (name, scope), not two of one', () => {
    expect(() => parseConfig({ rules: [hot(35), hot(30, { prefix: 'lab-' })] })).not.toThrow();
    expect(() => parseConfig({ rules: [hot(35), hot(30)] })).toThrowError(ConfigError);
    expect(() =>
      parseConfig({ rules: [hot(30, { prefix: 'lab-' }), hot(31, { prefix: 'lab-' })] }),
    ).toThrowError(/duplicate rule name "too-hot" in scope prefix#lab-/);
  });
});

describe('A-R3 Sources: table rows replace the seed row of the same name and scope', () => {
  it('replaces by (name, scope) and keeps the other seed rows', () => {
    const layered = layerRules([hot(35), hot(30, { prefix: 'lab-' })], [hot(40, undefined, { version: 2 })]);
    expect(layered.map((r) => [r.type === 'threshold' ? r.above : 0, r.version])).toEqual([
      [30, undefined],
      [40, 2],
    ]);
  });
});
