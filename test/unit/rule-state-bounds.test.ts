/**
 * Bounds B5: a kind state that grows with its parameters (a zscore window) has a declared
 * maximum that its JSON never passes, the alarm-mode rules of a sensor declare at most
 * RULE_STATE_BUDGET_BYTES together (the rest do not apply), and the budget is reserved out
 * of the commit target before open windows are fitted (B3).
 */
import { describe, expect, it } from 'vitest';
import {
  COMMIT_TARGET_BYTES,
  maxOpenWindowsFor,
  openWindowAllowanceBytes,
  RULE_STATE_BUDGET_BYTES,
} from '../../functions/domain/bounds.js';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { RuleSet } from '../../functions/domain/rule-set.js';
import { MAX_ZSCORE_WINDOW, type ZscoreRule, zscore } from '../../functions/domain/rules/kinds/zscore.js';
import { type Rule, RuleSchema } from '../../functions/domain/rules/registry.js';
import { newSensorState } from '../../functions/domain/state.js';
import { record } from './factories.js';

const zRule = (name: string, window: Record<string, number>) =>
  RuleSchema.parse({ name, type: 'zscore', metric: 'temperature', window, threshold: 3 }) as ZscoreRule;

/** Values whose JSON is as long as a metric's can be (17 digits, a sign and an exponent). */
const longValue = (i: number) => -(1.2345678901234567 + i * 1e-15) * 1e-90;

describe('Bounds B5: rule-state budget', () => {
  it.each([
    ['count', { count: MAX_ZSCORE_WINDOW }],
    ['span', { spanMs: 86_400_000, maxCount: MAX_ZSCORE_WINDOW }],
  ])('a full %s window measures at most its declared maximum, which fits the budget', (_, window) => {
    const rule = zRule('z', window);
    let state: ReturnType<typeof zscore.evaluate>['state'];
    for (let i = 0; i < MAX_ZSCORE_WINDOW + 50; i++)
      state = zscore.evaluate(rule, state, longValue(i), { t: 1_764_000_000_000.1235 + i }).state;
    expect(state!.v).toHaveLength(MAX_ZSCORE_WINDOW);
    const bytes = JSON.stringify(state).length;
    expect(bytes).toBeLessThanOrEqual(zscore.maxStateBytes!(rule));
    // The declared maximum is not loose by more than a few bytes per stored number.
    expect(zscore.maxStateBytes!(rule) - bytes).toBeLessThan(4 * JSON.stringify(state).split(',').length);
    expect(zscore.maxStateBytes!(rule)).toBeLessThanOrEqual(RULE_STATE_BUDGET_BYTES);
  });

  it('the rules past the budget in name order do not apply; other kinds are not counted', () => {
    const rules: Rule[] = [
      zRule('z-a', { count: MAX_ZSCORE_WINDOW }),
      zRule('z-b', { count: MAX_ZSCORE_WINDOW }),
      zRule('z-c', { count: MAX_ZSCORE_WINDOW }),
      zRule('z-d', { count: MAX_ZSCORE_WINDOW }),
      RuleSchema.parse({ name: 'hot', type: 'threshold', metric: 'temperature', above: 35, mode: 'alarm' }),
      RuleSchema.parse({ name: 'ramp', type: 'rate', metric: 'temperature', above: 1 }),
    ];
    const names = new RuleSet({ rules }).resolve('s1').alarms.map((r) => r.name);
    // Each full count window declares 12,516 bytes: three fit in 50,000, the fourth does not.
    const declared = (n: number) => n * zscore.maxStateBytes!(zRule('x', { count: MAX_ZSCORE_WINDOW }));
    const fit = Math.floor(RULE_STATE_BUDGET_BYTES / declared(1));
    expect(fit).toBe(3);
    expect(names).toEqual(['hot', 'ramp', 'z-a', 'z-b', 'z-c']);
    const spans = [
      zRule('s-a', { spanMs: 60_000 }),
      zRule('s-b', { spanMs: 60_000 }),
      zRule('s-c', { count: 5 }),
    ];
    expect(
      new RuleSet({ rules: spans })
        .resolve('s1')
        .alarms.map((r) => r.name)
        .sort(),
    ).toEqual(['s-a', 's-c']);
  });

  it('the configuration refuses scope-all rules past the budget, naming the first that does not fit', () => {
    const z = (name: string, extra: Record<string, unknown> = {}) => ({
      name,
      type: 'zscore',
      metric: 'temperature',
      window: { spanMs: 60_000 },
      threshold: 3,
      ...extra,
    });
    expect(() => parseConfig({ rules: [z('b'), z('a')] })).toThrowError(
      /rules\.0: rule "b" does not fit in a sensor's rule-state budget \(50000 bytes, Bounds B5\).*25016 bytes/,
    );
    // Scoped to different sensors, or one disabled, they never meet on one sensor.
    expect(parseConfig({ rules: [z('a'), z('b', { scope: { prefix: 'pump-' } })] }).rules).toHaveLength(2);
    expect(parseConfig({ rules: [z('a'), z('b', { disabled: true })] }).rules).toHaveLength(2);
  });

  it('a sensor folding two full windows keeps its rule states within the budget', () => {
    const config = parseConfig({
      rules: [
        {
          name: 'z-a',
          type: 'zscore',
          metric: 'temperature',
          window: { count: MAX_ZSCORE_WINDOW },
          threshold: 3,
        },
        { name: 'z-b', type: 'zscore', metric: 'temperature', window: { spanMs: 3_600_000 }, threshold: 3 },
      ],
    });
    const records = Array.from({ length: MAX_ZSCORE_WINDOW + 20 }, (_, i) =>
      record('s1', 1_764_000_000_000.1235 + i * 1_000, longValue(i), i + 1),
    );
    const { state } = foldSensorRecords(newSensorState('s1'), records, config);
    expect(JSON.stringify(state.rs).length).toBeLessThanOrEqual(RULE_STATE_BUDGET_BYTES);
  });

  it('B3 fits open windows beside the budget', () => {
    const allowance = openWindowAllowanceBytes(['temperature'], true);
    expect(maxOpenWindowsFor(['temperature'], true)).toBe(
      Math.floor((COMMIT_TARGET_BYTES - RULE_STATE_BUDGET_BYTES) / allowance),
    );
  });
});
