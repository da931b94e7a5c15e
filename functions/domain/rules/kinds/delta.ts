/**
 * `delta`: a reading breaches when it differs from the previous one by more than
 * `maxDelta` (docs/SEMANTICS.md "Per-reading rules and alerts"); in alert mode the
 * previous value is the sensor's last valid reading of the metric in arrival order.
 */
import { z } from 'zod';
import { ruleCommon, ruleOptions } from '../common.js';
import type { RuleKind } from '../kind.js';

export const DeltaRuleSchema = z
  .strictObject({
    ...ruleCommon,
    ...ruleOptions,
    type: z.literal('delta'),
    /** Fires when |value - previous| > maxDelta (previous: last valid reading in arrival order). */
    maxDelta: z.number().finite().positive().describe('fires when |value - previous| exceeds this; above 0'),
    /** Alarm mode: normal when the change is at most this (default maxDelta). */
    clear: z
      .strictObject({
        maxDelta: z
          .number()
          .finite()
          .min(0)
          .describe('normal when |value - previous| is at most this; 0 to maxDelta'),
      })
      .optional(),
  })
  .refine((r) => r.clear === undefined || r.clear.maxDelta <= r.maxDelta, {
    message: 'clear.maxDelta must be at most maxDelta',
    path: ['clear', 'maxDelta'],
  });
export type DeltaRule = z.infer<typeof DeltaRuleSchema>;

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/** Alarm mode: the rule's last evaluated value (its readings are in event-time order, A-E2). */
export interface DeltaState {
  p: number;
}

export const delta: RuleKind<DeltaRule, DeltaState> = {
  type: 'delta',
  schema: DeltaRuleSchema,
  defaultMode: 'alert',
  stateful: true,
  stateKey: () => 'd',
  evaluate(rule, state, x) {
    const next = { p: x };
    if (state === undefined) return { verdict: 'skip', score: 0, detail: {}, state: next };
    const change = Math.abs(x - state.p);
    const detail = { previous: state.p, maxDelta: rule.maxDelta };
    const verdict =
      change > rule.maxDelta
        ? 'breach'
        : change <= (rule.clear?.maxDelta ?? rule.maxDelta)
          ? 'normal'
          : 'band';
    return { verdict, score: change, detail, state: next };
  },
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
