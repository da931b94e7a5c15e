/**
 * `delta`: a reading breaches when it differs from the previous one by more than
 * `maxDelta` (docs/SEMANTICS.md "Per-reading rules and alerts"); in alert mode the
 * previous value is the sensor's last valid reading of the metric in arrival order.
 */
import { z } from 'zod';
import { ruleCommon, ruleOptions } from '../common.js';
import type { RuleKind } from '../kind.js';

export const DeltaRuleSchema = z.strictObject({
  ...ruleCommon,
  ...ruleOptions,
  type: z.literal('delta'),
  /** Fires when |value - previous| > maxDelta (previous: last valid reading in arrival order). */
  maxDelta: z.number().finite().positive().describe('fires when |value - previous| exceeds this; above 0'),
});
export type DeltaRule = z.infer<typeof DeltaRuleSchema>;

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

export const delta: RuleKind<DeltaRule> = {
  type: 'delta',
  schema: DeltaRuleSchema,
  fires(rule, value, previous) {
    return previous !== undefined && Math.abs(value - previous) > rule.maxDelta;
  },
  alertFields(rule, previous) {
    return { previous, maxDelta: rule.maxDelta };
  },
  describeAlert(a) {
    return a.previous !== undefined ? ` (from ${num(a.previous)}, max change ${a.maxDelta})` : '';
  },
};
