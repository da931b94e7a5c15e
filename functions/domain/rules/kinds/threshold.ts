/**
 * `threshold`: a reading breaches when its value is above `above` or below `below`
 * (docs/SEMANTICS.md "Per-reading rules and alerts"). With `statistic` the value is that
 * statistic of each final window instead (rules/window-statistic.ts).
 */
import { z } from 'zod';
import { refineClearBounds, ruleCommon, ruleOptions } from '../common.js';
import type { AlertFields, RuleKind } from '../kind.js';

export const ThresholdRuleSchema = z
  .strictObject({
    ...ruleCommon,
    ...ruleOptions,
    type: z.literal('threshold'),
    above: z.number().finite().describe('fires when a value is above this; any finite number').optional(),
    below: z.number().finite().describe('fires when a value is below this; any finite number').optional(),
    /** Evaluate on each final window's statistic (`p99`, `mean`, ...) instead of each reading. */
    statistic: z.string().min(1).describe('a statistic of the final windows, e.g. p99 or mean').optional(),
    /** Alarm mode: the bounds a value must be back within to count as normal (hysteresis). */
    clear: z
      .strictObject({
        below: z
          .number()
          .finite()
          .describe('normal when below this; any finite number up to `above`')
          .optional(),
        above: z
          .number()
          .finite()
          .describe('normal when above this; any finite number from `below`')
          .optional(),
      })
      .optional(),
  })
  .refine((r) => r.above !== undefined || r.below !== undefined, {
    message: 'a threshold rule needs `above`, `below` or both',
  })
  .refine((r) => r.statistic === undefined || r.mode !== 'alarm', {
    message: 'a threshold rule with `statistic` runs on final windows in alert mode only',
    path: ['mode'],
  })
  .superRefine(refineClearBounds);
export type ThresholdRule = z.infer<typeof ThresholdRuleSchema>;

export const threshold: RuleKind<ThresholdRule, never> = {
  type: 'threshold',
  schema: ThresholdRuleSchema,
  defaultMode: 'alert',
  stateful: false,
  stateKey: () => 't',
  evaluate(rule, _state, x) {
    const detail: Record<string, number> = {};
    if (rule.above !== undefined) detail.above = rule.above;
    if (rule.below !== undefined) detail.below = rule.below;
    if (rule.above !== undefined && x > rule.above)
      return { verdict: 'breach', score: x - rule.above, detail, state: undefined };
    if (rule.below !== undefined && x < rule.below)
      return { verdict: 'breach', score: rule.below - x, detail, state: undefined };
    const c = rule.clear;
    const normal = (c?.below === undefined || x < c.below) && (c?.above === undefined || x > c.above);
    return { verdict: normal ? 'normal' : 'band', score: 0, detail, state: undefined };
  },
  fires(rule, value) {
    return (
      (rule.above !== undefined && value > rule.above) || (rule.below !== undefined && value < rule.below)
    );
  },
  windowStatistic: (rule) => rule.statistic,
  alertFields(rule) {
    const fields: AlertFields = {};
    if (rule.above !== undefined) fields.above = rule.above;
    if (rule.below !== undefined) fields.below = rule.below;
    return fields;
  },
  describeAlert(a) {
    if (a.above !== undefined && a.value > a.above) return ` (above ${a.above})`;
    if (a.below !== undefined) return ` (below ${a.below})`;
    return '';
  },
};
