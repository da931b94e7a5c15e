/**
 * `absence`: the sensor sent no reading of the metric for more than `silentForMs`
 * (docs/SEMANTICS.md A-K8), the `sensor-silent` alarm. Silence has no reading to judge, so
 * it is found two ways, both giving the same ALARM: the idle sweeper raises it once the
 * processing time since the last reading's arrival passes `silentForMs` (`sweep`), and a
 * reading whose event time is more than `silentForMs` after the previous one reveals the
 * silence it ends (`implied`), which is how a replay, with no sweeps, sees it. Every
 * reading is normal: the next one resolves the alarm.
 */
import { z } from 'zod';
import { DAY_MS, durationMs, SECOND_MS } from '../../durations.js';
import { ruleCommon, ruleOptions } from '../common.js';
import type { RuleKind } from '../kind.js';

/** A week: the state item's TTL is days, and a longer silence is a decommissioning question. */
export const MAX_SILENT_FOR_MS = 7 * DAY_MS;

export const AbsenceRuleSchema = z
  .strictObject({
    ...ruleCommon,
    ...ruleOptions,
    type: z.literal('absence'),
    silentForMs: durationMs(
      SECOND_MS,
      MAX_SILENT_FOR_MS,
      'raises when no reading of the metric came for longer',
    ),
  })
  .refine((r) => r.mode !== 'alert', {
    message: 'an absence rule is raised by the idle sweeper: it runs in mode alarm only',
    path: ['mode'],
  });
export type AbsenceRule = z.infer<typeof AbsenceRuleSchema>;

/** The last evaluated reading: its event time and its arrival (event time when unknown). */
export interface AbsenceState {
  t: number;
  a: number;
}

export const absence: RuleKind<AbsenceRule, AbsenceState> = {
  type: 'absence',
  schema: AbsenceRuleSchema,
  defaultMode: 'alarm',
  stateful: true,
  stateKey: () => 'a',
  evaluate(rule, state, _x, { t, arrivalMs }) {
    const next = { t, a: arrivalMs ?? t };
    const detail = { lastReadingAt: state?.t ?? null, silentForMs: rule.silentForMs };
    const gap = state !== undefined ? t - state.t : 0;
    const implied =
      state !== undefined && gap > rule.silentForMs
        ? { at: state.t + rule.silentForMs, score: gap, detail: { ...detail, silentMs: gap } }
        : undefined;
    return { verdict: 'normal', score: 0, detail, state: next, ...(implied ? { implied } : {}) };
  },
  sweep: {
    dueAt: (rule, state) => (state === undefined ? undefined : state.a + rule.silentForMs),
    find(rule, state, nowMs) {
      if (state === undefined || nowMs - state.a <= rule.silentForMs) return undefined;
      return {
        at: state.t + rule.silentForMs,
        score: nowMs - state.a,
        detail: { lastReadingAt: state.t, silentForMs: rule.silentForMs },
      };
    },
  },
  // Mode alarm only (the schema refuses alert): there is no per-reading alert to fire.
  fires: () => false,
  alertFields: () => ({}),
  describeAlert: () => '',
};
