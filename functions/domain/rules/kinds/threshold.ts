/**
 * `threshold`: a reading breaches when its value is above `above` or below `below`
 * (docs/SEMANTICS.md "Per-reading rules and alerts").
 */
import { z } from 'zod';
import { ruleCommon, ruleOptions } from '../common.js';
import type { AlertFields, RuleKind } from '../kind.js';

export const ThresholdRuleSchema = z
  .strictObject({
    ...ruleCommon,
    ...ruleOptions,
    type: z.literal('threshold'),
    above: z.number().finite().describe('fires when a value is above this; any finite number').optional(),
    below: z.number().finite().describe('fires when a value is below this; any finite number').optional(),
  })
  .refine((r) => r.above !== undefined || r.below !== undefined, {
    message: 'a threshold rule needs `above`, `below` or both',
  });
export type ThresholdRule = z.infer<typeof ThresholdRuleSchema>;

export const threshold: RuleKind<ThresholdRule> = {
  type: 'threshold',
  schema: ThresholdRuleSchema,
  fires(rule, value) {
    return (
      (rule.above !== undefined && value > rule.above) || (rule.below !== undefined && value < rule.below)
    );
  },
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
