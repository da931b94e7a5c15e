/**
 * `n-of-m`: at least `count` readings meeting the condition (`above`/`below`, as
 * `threshold`) within `withinMs` of event time (docs/SEMANTICS.md A-K6), CloudWatch's
 * "M out of N datapoints" over readings. The state is the event times of the breaching
 * readings still in the span, at most `count` of them: enough to answer both "at least
 * count?" and "fewer than clear.count (at most count)?".
 */

import { z } from 'zod';
import { DAY_MS, durationMs, SECOND_MS } from '../../durations.js';
import { MAX_JSON_NUMBER_BYTES } from '../alarm-only.js';
import { ruleCommon, ruleOptions } from '../common.js';
import { beyond, conditionFields, meets } from '../condition.js';
import type { RuleKind } from '../kind.js';

/** Timestamps kept per (sensor, rule): 100 × ~14 bytes, so 32 such rules add under 50 KB (B1's margin). */
export const MAX_N_OF_M_COUNT = 100;

const countOf = (what: string) =>
  z.number().int().min(1).max(MAX_N_OF_M_COUNT).describe(`${what}; 1 to ${MAX_N_OF_M_COUNT}`);

export const NOfMRuleSchema = z
  .strictObject({
    ...ruleCommon,
    ...ruleOptions,
    type: z.literal('n-of-m'),
    ...conditionFields,
    /** Breaching readings needed within the span. */
    count: countOf('breaching readings within withinMs that raise the alarm'),
    /** The span of event time the readings are counted over, ending at each reading. */
    withinMs: durationMs(SECOND_MS, DAY_MS, 'the span of event time breaching readings are counted over'),
    /** Normal when fewer than `clear.count` breaching readings remain in the span (default `count`). */
    clear: z
      .strictObject({ count: countOf('normal when fewer than this remain in the span, up to count') })
      .optional(),
  })
  .refine((r) => r.above !== undefined || r.below !== undefined, {
    message: 'an n-of-m rule needs `above`, `below` or both',
  })
  .refine((r) => r.clear === undefined || r.clear.count <= r.count, {
    message: 'clear.count must be at most count',
    path: ['clear', 'count'],
  })
  .refine((r) => r.mode !== 'alert', {
    message: 'an n-of-m rule keeps state over ordered readings: it runs in mode alarm only',
    path: ['mode'],
  });
export type NOfMRule = z.infer<typeof NOfMRuleSchema>;

/** Event times of the breaching readings in the span, oldest first, at most `count`. */
export interface NOfMState {
  b: number[];
}

export const nOfM: RuleKind<NOfMRule, NOfMState> = {
  type: 'n-of-m',
  schema: NOfMRuleSchema,
  defaultMode: 'alarm',
  stateful: true,
  stateKey: (r) => `n${r.count}/${r.withinMs}/${r.above ?? ''}/${r.below ?? ''}`,
  // At most `count` event times, against the sensor's rule-state budget (Bounds B5).
  maxStateBytes: (rule) => 16 + rule.count * (MAX_JSON_NUMBER_BYTES + 1),
  evaluate(rule, state, x, { t }) {
    const from = t - rule.withinMs;
    const kept = (state?.b ?? []).filter((b) => b >= from);
    if (meets(rule, x)) kept.push(t);
    const b = kept.length > rule.count ? kept.slice(kept.length - rule.count) : kept;
    const n = b.length;
    const verdict = n >= rule.count ? 'breach' : n < (rule.clear?.count ?? rule.count) ? 'normal' : 'band';
    const detail = { inSpan: n, count: rule.count, withinMs: rule.withinMs };
    return { verdict, score: beyond(rule, x), detail, state: n > 0 ? { b } : undefined };
  },
  // Mode alarm only (the schema refuses alert): there is no per-reading alert to fire.
  fires: () => false,
  alertFields: () => ({}),
  describeAlert: () => '',
};
