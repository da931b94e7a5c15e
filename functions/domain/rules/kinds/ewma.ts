/**
 * `ewma`: a reading breaches when it deviates from the exponentially weighted moving mean
 * of the sensor's previous readings by more than `k` exponentially weighted standard
 * deviations, or by more than `maxDeviation` (docs/SEMANTICS.md A-K4).
 *
 * The weight of each reading is `alpha`, or with `halfLifeMs` it follows event time:
 * `1 - 2^(-dt / halfLifeMs)` for a reading `dt` after the previous one, so irregular
 * readings age by the time between them, not by their number. The state is the mean, the
 * variance, the count (for the warm-up) and the previous event time: four numbers, updated
 * in event-time order (A-E2) by the same arithmetic whatever the batch cuts, and JSON
 * keeps every double exactly, so a retried batch computes the same state.
 */
import { z } from 'zod';
import { DAY_MS, durationMs, SECOND_MS } from '../../durations.js';
import { noAlerts, refuseAlertMode } from '../alarm-only.js';
import { ruleCommon, ruleOptions } from '../common.js';
import type { RuleKind } from '../kind.js';

const DEFAULT_MIN_COUNT = 10;
/** The warm-up's cap: the count stored stops there, so the state stays four short numbers. */
export const MAX_EWMA_MIN_COUNT = 1_000;

const positive = (what: string) => z.number().finite().positive().describe(`${what}; above 0`);

export const EwmaRuleSchema = z
  .strictObject({
    ...ruleCommon,
    ...ruleOptions,
    type: z.literal('ewma'),
    /** Weight of each new reading, in (0, 1]. */
    alpha: z
      .number()
      .finite()
      .gt(0)
      .max(1)
      .describe("each new reading's weight; above 0, at most 1")
      .optional(),
    /** Weight from event time: a reading's weight halves every halfLifeMs it is older. */
    halfLifeMs: durationMs(
      SECOND_MS,
      30 * DAY_MS,
      'event time in which a reading loses half its weight',
    ).optional(),
    /** Breach when |value - mean| > k EW standard deviations. */
    k: positive('breach beyond this many EW standard deviations from the mean').optional(),
    /** Breach when |value - mean| > maxDeviation, in the metric's unit. */
    maxDeviation: positive('breach beyond this distance from the mean').optional(),
    /** Alarm mode: normal when within these (defaults: k and maxDeviation). */
    clear: z
      .strictObject({
        k: z
          .number()
          .finite()
          .min(0)
          .describe('normal within this many EW standard deviations; 0 to k')
          .optional(),
        maxDeviation: z
          .number()
          .finite()
          .min(0)
          .describe('normal within this distance of the mean; 0 to maxDeviation')
          .optional(),
      })
      .optional(),
    /** Readings folded into the mean before one is judged (warm-up). */
    minCount: z
      .number()
      .int()
      .min(1)
      .max(MAX_EWMA_MIN_COUNT)
      .describe(`readings before one is judged; 1 to ${MAX_EWMA_MIN_COUNT} (default ${DEFAULT_MIN_COUNT})`)
      .optional(),
  })
  .refine(...refuseAlertMode('ewma'))
  .refine((r) => (r.alpha === undefined) !== (r.halfLifeMs === undefined), {
    message: 'an ewma rule needs exactly one of `alpha` and `halfLifeMs`',
    path: ['alpha'],
  })
  .refine((r) => r.k !== undefined || r.maxDeviation !== undefined, {
    message: 'an ewma rule needs `k`, `maxDeviation` or both',
    path: ['k'],
  })
  .superRefine((r, ctx) => {
    for (const key of ['k', 'maxDeviation'] as const) {
      const c = r.clear?.[key];
      if (c === undefined) continue;
      const bound = r[key];
      if (bound === undefined)
        ctx.addIssue({ code: 'custom', path: ['clear', key], message: `clear.${key} needs \`${key}\`` });
      else if (c > bound)
        ctx.addIssue({
          code: 'custom',
          path: ['clear', key],
          message: `clear.${key} must be at most ${key} ${bound}`,
        });
    }
  });
export type EwmaRule = z.infer<typeof EwmaRuleSchema>;

/** Mean, variance, readings folded (capped at MAX_EWMA_MIN_COUNT) and the last event time. */
export interface EwmaState {
  m: number;
  v: number;
  n: number;
  t: number;
}

function weightOf(rule: EwmaRule, dt: number): number {
  if (rule.alpha !== undefined) return rule.alpha;
  // A reading at the same event time as the previous one has no age between them: weight 0.
  return 1 - 2 ** (-dt / rule.halfLifeMs!);
}

export const ewma: RuleKind<EwmaRule, EwmaState> = {
  type: 'ewma',
  schema: EwmaRuleSchema,
  defaultMode: 'alarm',
  stateful: true,
  stateKey: (rule) => (rule.alpha !== undefined ? `e|a${rule.alpha}` : `e|h${rule.halfLifeMs}`),
  evaluate(rule, state, x, { t: at }) {
    if (state === undefined)
      return { verdict: 'skip', score: 0, detail: { count: 0 }, state: { m: x, v: 0, n: 1, t: at } };
    const { m, v, n } = state;
    // West's incremental form: the variance around the mean as it moves.
    const a = weightOf(rule, at - state.t);
    const diff = x - m;
    const step = a * diff;
    const next: EwmaState = {
      m: m + step,
      v: (1 - a) * (v + diff * step),
      n: Math.min(n + 1, MAX_EWMA_MIN_COUNT),
      t: at,
    };
    const minCount = rule.minCount ?? DEFAULT_MIN_COUNT;
    if (n < minCount) {
      const detail: Record<string, number> = { count: n, minCount };
      return { verdict: 'skip', score: 0, detail, state: next };
    }
    const stddev = Math.sqrt(v);
    const deviation = Math.abs(diff);
    // Off a zero deviation any difference is beyond every k: the k test is `deviation > k * stddev`.
    const beyond = (k: number | undefined, max: number | undefined) =>
      (k !== undefined && deviation > k * stddev) || (max !== undefined && deviation > max);
    const within = (k: number | undefined, max: number | undefined) =>
      (k === undefined || deviation <= k * stddev) && (max === undefined || deviation <= max);
    const verdict = beyond(rule.k, rule.maxDeviation)
      ? 'breach'
      : within(rule.clear?.k ?? rule.k, rule.clear?.maxDeviation ?? rule.maxDeviation)
        ? 'normal'
        : 'band';
    const detail: Record<string, number> = { mean: m, stddev, deviation };
    if (rule.k !== undefined) detail.k = rule.k;
    if (rule.maxDeviation !== undefined) detail.maxDeviation = rule.maxDeviation;
    return { verdict, score: deviation, detail, state: next };
  },
  ...noAlerts,
};
