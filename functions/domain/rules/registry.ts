/**
 * The one table of rule kinds. `RuleSchema` (the configuration's, the rules table's and
 * a rules file's) is built from it, and every use of a rule's kind goes through
 * `kindOf`: adding a kind is one module in kinds/ and one line here.
 */
import type { z } from 'zod';
import { taggedUnion } from '../parse.js';
import type { RuleKind } from './kind.js';
import { type AbsenceRule, AbsenceRuleSchema, absence } from './kinds/absence.js';
import { type DeltaRule, DeltaRuleSchema, delta } from './kinds/delta.js';
import { type EwmaRule, EwmaRuleSchema, ewma } from './kinds/ewma.js';
import { type NOfMRule, NOfMRuleSchema, nOfM } from './kinds/n-of-m.js';
import { type RateRule, RateRuleSchema, rate } from './kinds/rate.js';
import { type SequenceRule, SequenceRuleSchema, sequence } from './kinds/sequence.js';
import { type ThresholdRule, ThresholdRuleSchema, threshold } from './kinds/threshold.js';
import { type ZscoreRule, ZscoreRuleSchema, zscore } from './kinds/zscore.js';

export type { AbsenceRule, DeltaRule, EwmaRule, NOfMRule, RateRule, SequenceRule, ThresholdRule, ZscoreRule };
export {
  AbsenceRuleSchema,
  DeltaRuleSchema,
  EwmaRuleSchema,
  NOfMRuleSchema,
  RateRuleSchema,
  SequenceRuleSchema,
  ThresholdRuleSchema,
  ZscoreRuleSchema,
};

export const RuleSchema = taggedUnion('rule', 'type', [
  ThresholdRuleSchema,
  DeltaRuleSchema,
  ZscoreRuleSchema,
  EwmaRuleSchema,
  RateRuleSchema,
  NOfMRuleSchema,
  SequenceRuleSchema,
  AbsenceRuleSchema,
]);
export type Rule = z.infer<typeof RuleSchema>;
export type RuleType = Rule['type'];

// biome-ignore lint/suspicious/noExplicitAny: each kind's state type is its own.
const RULE_KINDS: { readonly [T in RuleType]: RuleKind<Extract<Rule, { type: T }>, any> } = {
  threshold,
  delta,
  zscore,
  ewma,
  rate,
  'n-of-m': nOfM,
  sequence,
  absence,
};

/** The registered kinds' names, in registration order. */
export const RULE_TYPES = Object.keys(RULE_KINDS) as RuleType[];

/** The kind of a rule (or of an alert's `ruleType`). */
export function kindOf<R extends Rule>(type: R['type']): RuleKind<R> {
  const kind = RULE_KINDS[type] as unknown as RuleKind<R> | undefined;
  if (!kind) throw new RangeError(`unknown rule type ${JSON.stringify(type)}`);
  return kind;
}

export const DEFAULT_RULES: Rule[] = [
  {
    name: 'too-hot',
    type: 'threshold',
    metric: 'temperature',
    above: 35,
    severity: 'critical',
    cooldownMs: 60_000,
  },
  {
    name: 'too-cold',
    type: 'threshold',
    metric: 'temperature',
    below: 5,
    severity: 'critical',
    cooldownMs: 60_000,
  },
  {
    name: 'jump',
    type: 'delta',
    metric: 'temperature',
    maxDelta: 5,
    severity: 'warning',
    cooldownMs: 60_000,
  },
];
