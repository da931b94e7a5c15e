/**
 * `sequence`: a reading meeting `then` within `withinMs` of event time after a reading
 * meeting `first`, both on the rule's metric (docs/SEMANTICS.md A-K7). The state is the
 * event time of the latest reading that met `first`, while it can still start a sequence.
 */
import { z } from 'zod';
import { DAY_MS, durationMs, SECOND_MS } from '../../durations.js';
import { ruleCommon, ruleOptions } from '../common.js';
import { beyond, ConditionSchema, meets } from '../condition.js';
import type { RuleKind } from '../kind.js';

export const SequenceRuleSchema = z
  .strictObject({
    ...ruleCommon,
    ...ruleOptions,
    type: z.literal('sequence'),
    /** Condition A: starts a sequence. */
    first: ConditionSchema,
    /** Condition B: completes it when met within withinMs after an A. */
    // biome-ignore lint/suspicious/noThenProperty: the brief's name; always a plain object (never callable), so never a thenable.
    then: ConditionSchema,
    withinMs: durationMs(SECOND_MS, DAY_MS, 'the most event time from a `first` reading to a `then` reading'),
  })
  .refine((r) => r.mode !== 'alert', {
    message: 'a sequence rule keeps state over ordered readings: it runs in mode alarm only',
    path: ['mode'],
  });
export type SequenceRule = z.infer<typeof SequenceRuleSchema>;

/** Event time of the latest reading that met `first`. */
export interface SequenceState {
  f: number;
}

const key = (c: { above?: number | undefined; below?: number | undefined }) =>
  `${c.above ?? ''}/${c.below ?? ''}`;

export const sequence: RuleKind<SequenceRule, SequenceState> = {
  type: 'sequence',
  schema: SequenceRuleSchema,
  defaultMode: 'alarm',
  stateful: true,
  stateKey: (r) => `q${key(r.first)}/${key(r.then)}/${r.withinMs}`,
  evaluate(rule, state, x, { t }) {
    // A `first` older than the span can no longer start a sequence: forget it.
    const f = state !== undefined && t - state.f <= rule.withinMs ? state.f : undefined;
    const isFirst = meets(rule.first, x);
    const isThen = meets(rule.then, x);
    const next = isFirst ? { f: t } : f !== undefined ? { f } : undefined;
    const detail = { firstAt: f ?? null, elapsedMs: f !== undefined ? t - f : null, withinMs: rule.withinMs };
    if (isThen && f !== undefined)
      return { verdict: 'breach', score: beyond(rule.then, x), detail, state: next };
    return { verdict: isFirst || isThen ? 'band' : 'normal', score: 0, detail, state: next };
  },
  // Mode alarm only (the schema refuses alert): there is no per-reading alert to fire.
  fires: () => false,
  alertFields: () => ({}),
  describeAlert: () => '',
};
