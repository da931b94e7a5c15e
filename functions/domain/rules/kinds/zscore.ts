/**
 * `zscore`: a reading breaches when it lies more than `threshold` sample standard
 * deviations from the mean of the sensor's previous readings in a rolling window, the
 * last `count` readings or those within `spanMs` of event time (docs/SEMANTICS.md A-K3).
 *
 * The state is the window's raw values (and times, for a span), recomputed on every
 * reading: a running sum would depend on the order its additions and removals happened
 * to be rounded in, while the same values in the same order always give the same mean
 * and deviation, so the verdict cannot depend on how readings were cut into batches or
 * how often the state went through JSON. The window is capped (MAX_ZSCORE_WINDOW) so the
 * state has a fixed maximum size in the sensor's item (Bounds B5).
 */
import { z } from 'zod';
import { DAY_MS, durationMs, SECOND_MS } from '../../durations.js';
import { MAX_JSON_NUMBER_BYTES, noAlerts, refuseAlertMode } from '../alarm-only.js';
import { ruleCommon, ruleOptions } from '../common.js';
import type { RuleKind } from '../kind.js';

/**
 * The most readings a window holds. 500 values of at most 25 bytes each are 12.5 KB (25 KB
 * with their times, for a span), so a few such rules fit in a sensor's rule-state budget
 * (bounds.ts RULE_STATE_BUDGET_BYTES); and with 500 readings the sample deviation is already
 * within about 3 % (1/sqrt(2n)) of the true one, so a longer window buys little.
 */
export const MAX_ZSCORE_WINDOW = 500;
const DEFAULT_MIN_COUNT = 10;

const windowCount = (what: string) =>
  z.number().int().min(2).max(MAX_ZSCORE_WINDOW).describe(`${what}; 2 to ${MAX_ZSCORE_WINDOW}`);

export const ZscoreRuleSchema = z
  .strictObject({
    ...ruleCommon,
    ...ruleOptions,
    type: z.literal('zscore'),
    /** The readings the reading is compared with: the last `count`, or those within `spanMs`. */
    window: z
      .strictObject({
        count: windowCount('the last this many readings').optional(),
        spanMs: durationMs(SECOND_MS, DAY_MS, 'the readings within this much event time before').optional(),
        maxCount: windowCount(
          `at most this many readings of the span (default ${MAX_ZSCORE_WINDOW})`,
        ).optional(),
      })
      .superRefine((w, ctx) => {
        if ((w.count === undefined) === (w.spanMs === undefined))
          ctx.addIssue({
            code: 'custom',
            message: 'a zscore window has exactly one of `count` and `spanMs`',
          });
        if (w.maxCount !== undefined && w.spanMs === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['maxCount'],
            message: 'maxCount caps a `spanMs` window only',
          });
      }),
    threshold: z.number().finite().positive().describe('breach when |z| exceeds this; above 0'),
    /** Alarm mode: normal when |z| is at most this (default threshold). */
    clear: z.number().finite().min(0).describe('normal when |z| is at most this; 0 to threshold').optional(),
    /** Which side breaches: `above` the mean, `below` it, or `both` (default). */
    direction: z.enum(['above', 'below', 'both']).optional(),
    /** Readings the window must hold before a reading is judged (warm-up). */
    minCount: windowCount(
      `readings in the window before one is judged (default ${DEFAULT_MIN_COUNT}, at most the window's count)`,
    ).optional(),
  })
  .refine(...refuseAlertMode('zscore'))
  .refine((r) => r.clear === undefined || r.clear <= r.threshold, {
    message: 'clear must be at most threshold',
    path: ['clear'],
  })
  .refine((r) => r.minCount === undefined || r.minCount <= capOf(r.window), {
    message: "minCount must be at most the window's count (or maxCount)",
    path: ['minCount'],
  });
export type ZscoreRule = z.infer<typeof ZscoreRuleSchema>;

/** The window's values (oldest first) and, for a span window, their event times. */
export interface ZscoreState {
  v: number[];
  t?: number[];
}

function capOf(w: { count?: number | undefined; maxCount?: number | undefined }): number {
  return w.count ?? w.maxCount ?? MAX_ZSCORE_WINDOW;
}

export function minCountOf(rule: ZscoreRule): number {
  return rule.minCount ?? Math.min(DEFAULT_MIN_COUNT, capOf(rule.window));
}

/** Mean and sample standard deviation, in two passes over the values as stored. */
export function windowStats(values: readonly number[]): { mean: number; stddev: number } {
  const n = values.length;
  let min = values[0]!;
  let max = min;
  let sum = 0;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  // Equal values have no spread; their rounded mean could still differ from them by an ulp.
  if (min === max) return { mean: min, stddev: 0 };
  const mean = sum / n;
  let squares = 0;
  for (const v of values) squares += (v - mean) * (v - mean);
  return { mean, stddev: Math.sqrt(squares / (n - 1)) };
}

export const zscore: RuleKind<ZscoreRule, ZscoreState> = {
  type: 'zscore',
  schema: ZscoreRuleSchema,
  defaultMode: 'alarm',
  stateful: true,
  stateKey: (rule) => {
    const w = rule.window;
    return w.count !== undefined ? `z|c${w.count}` : `z|s${w.spanMs}|${capOf(w)}`;
  },
  maxStateBytes(rule) {
    const perReading = (rule.window.spanMs !== undefined ? 2 : 1) * (MAX_JSON_NUMBER_BYTES + 1);
    return 16 + capOf(rule.window) * perReading;
  },
  evaluate(rule, state, x, { t: at }) {
    const span = rule.window.spanMs;
    let v = state?.v ?? [];
    let t = state?.t ?? [];
    if (span !== undefined) {
      // Keep the readings within the span before this one: event time in (at - span, at].
      let from = 0;
      while (from < t.length && t[from]! <= at - span) from++;
      v = v.slice(from);
      t = t.slice(from);
    }
    const cap = capOf(rule.window);
    const keep = v.length >= cap ? v.length - cap + 1 : 0;
    const next: ZscoreState = { v: [...v.slice(keep), x] };
    if (span !== undefined) next.t = [...t.slice(keep), at];
    const n = v.length;
    const minCount = minCountOf(rule);
    if (n < minCount) return { verdict: 'skip', score: 0, detail: { count: n, minCount }, state: next };
    const { mean, stddev } = windowStats(v);
    // z is infinite off a window without spread; null in messages, the largest score.
    const z = stddev > 0 ? (x - mean) / stddev : x === mean ? 0 : x > mean ? Infinity : -Infinity;
    const direction = rule.direction ?? 'both';
    const d = direction === 'above' ? z : direction === 'below' ? -z : Math.abs(z);
    const verdict = d > rule.threshold ? 'breach' : d <= (rule.clear ?? rule.threshold) ? 'normal' : 'band';
    const detail = {
      z: Number.isFinite(z) ? z : null,
      mean,
      stddev,
      count: n,
      threshold: rule.threshold,
    };
    const score = Number.isFinite(d) ? d : d > 0 ? Number.MAX_VALUE : 0;
    return { verdict, score, detail, state: next };
  },
  ...noAlerts,
};
