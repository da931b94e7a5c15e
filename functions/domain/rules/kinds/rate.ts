/**
 * `rate`: a reading breaches when the metric changed faster than a bound per second since
 * the rule's previous reading (docs/SEMANTICS.md A-K5): `rate = (value - previous) /
 * ((at - previousAt) / 1000)`, above `above` (a rise) or below `below` (a fall, so a
 * negative bound). The state is the previous reading's value and event time; readings come
 * in event-time order (A-E2). Two readings at one event time give no rate: the later one
 * is not judged and replaces the earlier as the instant's value.
 */
import { z } from 'zod';
import { DAY_MS, durationMs, SECOND_MS } from '../../durations.js';
import { noAlerts, refuseAlertMode } from '../alarm-only.js';
import { refineClearBounds, ruleCommon, ruleOptions } from '../common.js';
import type { RuleKind } from '../kind.js';

const perSecond = (what: string) => z.number().finite().describe(`${what}; per second, any finite number`);

export const RateRuleSchema = z
  .strictObject({
    ...ruleCommon,
    ...ruleOptions,
    type: z.literal('rate'),
    above: perSecond('breach when the change per second is above this').optional(),
    below: perSecond('breach when the change per second is below this').optional(),
    /** Readings further apart than this give no rate: a gap is not a ramp. */
    maxGapMs: durationMs(SECOND_MS, DAY_MS, 'readings further apart give no rate').optional(),
    /** Alarm mode: the rates a reading must be back within to count as normal (hysteresis). */
    clear: z
      .strictObject({
        below: perSecond('normal when the rate is below this, at most `above`').optional(),
        above: perSecond('normal when the rate is above this, at least `below`').optional(),
      })
      .optional(),
  })
  .refine(...refuseAlertMode('rate'))
  .refine((r) => r.above !== undefined || r.below !== undefined, {
    message: 'a rate rule needs `above`, `below` or both',
    path: ['above'],
  })
  .refine((r) => r.above === undefined || r.below === undefined || r.below < r.above, {
    message: 'below must be less than above',
    path: ['below'],
  })
  .superRefine(refineClearBounds);
export type RateRule = z.infer<typeof RateRuleSchema>;

/** The previous reading: value and event time. */
export interface RateState {
  p: number;
  t: number;
}

export const rate: RuleKind<RateRule, RateState> = {
  type: 'rate',
  schema: RateRuleSchema,
  defaultMode: 'alarm',
  stateful: true,
  stateKey: () => 'r',
  evaluate(rule, state, x, { t: at }) {
    const next = { p: x, t: at };
    if (
      state === undefined ||
      at === state.t ||
      (rule.maxGapMs !== undefined && at - state.t > rule.maxGapMs)
    )
      return { verdict: 'skip', score: 0, detail: {}, state: next };
    const perSec = ((x - state.p) * 1000) / (at - state.t);
    const detail: Record<string, number> = { ratePerSecond: perSec, previous: state.p, previousAt: state.t };
    if (rule.above !== undefined) detail.above = rule.above;
    if (rule.below !== undefined) detail.below = rule.below;
    if (rule.above !== undefined && perSec > rule.above)
      return { verdict: 'breach', score: perSec - rule.above, detail, state: next };
    if (rule.below !== undefined && perSec < rule.below)
      return { verdict: 'breach', score: rule.below - perSec, detail, state: next };
    const c = rule.clear;
    const normal =
      (c?.below === undefined || perSec < c.below) && (c?.above === undefined || perSec > c.above);
    return { verdict: normal ? 'normal' : 'band', score: 0, detail, state: next };
  },
  ...noAlerts,
};
