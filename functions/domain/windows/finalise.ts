/**
 * Finality's output side (docs/SEMANTICS.md "Event time, lateness, finality"): open
 * windows that became final leave the state as `FinalWindow`s, each exactly once, in
 * window-key order with their metrics in name order (the order the results are written).
 */
import { type AggregateSummary, summarize } from '../aggregate.js';
import type { WindowpaneConfig } from '../config.js';
import { type PercentilePlan, percentilePlan } from '../percentile-config.js';
import { configuredRuleSet, type RuleSet } from '../rule-set.js';
import { evaluateWindowRules } from '../rules/window-statistic.js';
import type { Alert } from '../rules.js';
import { cloneState, type FinalWindow, type FoldResult, type Outbox, type SensorState } from '../state.js';
import { isFinal } from './assign.js';

/**
 * Removes from `state` (in place) the open windows that are final, or every open window
 * when `all`, and returns them as final windows, with the percentiles of `percentiles`.
 */
export function takeFinalWindows(
  state: SensorState,
  allowedLatenessMs: number,
  all: boolean,
  percentiles?: PercentilePlan,
): FinalWindow[] {
  const finals: FinalWindow[] = [];
  for (const key of Object.keys(state.windows).sort()) {
    const open = state.windows[key]!;
    if (!all && !isFinal(open.end, state.watermark, allowedLatenessMs, state.flushedThrough)) continue;
    const metrics: Record<string, AggregateSummary> = {};
    for (const metric of Object.keys(open.aggs).sort()) {
      metrics[metric] = summarize(open.aggs[metric]!, percentiles?.byMetric[metric]?.quantiles);
    }
    const final: FinalWindow = {
      sensorId: state.sensorId,
      windowKey: key,
      windowType: open.windowType,
      windowSizeMs: open.windowSizeMs,
      windowStart: open.start,
      windowEnd: open.end,
      metrics,
    };
    if (open.windowSlideMs !== undefined) final.windowSlideMs = open.windowSlideMs;
    if (open.windowGapMs !== undefined) final.windowGapMs = open.windowGapMs;
    finals.push(final);
    delete state.windows[key];
  }
  return finals;
}

/**
 * Closes every open window of the sensor (end of a replay, or an idle sensor): they are
 * emitted as final, and any later reading for a window ending at or before the latest
 * closed end is late. `config` names the percentiles to report and, with `ruleSet` (default:
 * the configured rules), the window rules to run on the windows it closes (neither without it).
 */
export function flushSensor(state: SensorState, config?: WindowpaneConfig, ruleSet?: RuleSet): FoldResult {
  const next = cloneState(state);
  const results = takeFinalWindows(next, 0, true, config && percentilePlan(config));
  for (const r of results) {
    if (next.flushedThrough === null || r.windowEnd > next.flushedThrough) next.flushedThrough = r.windowEnd;
  }
  const alerts: Alert[] = [];
  if (config) {
    const rules = (ruleSet ?? configuredRuleSet(config)).resolve(state.sensorId);
    evaluateWindowRules(next, rules.windowRules, results, alerts);
  }
  const effects: Outbox = { results, alerts, late: [] };
  next.outbox = effects;
  return { state: next, applied: 0, duplicates: 0, effects, finalisedEarly: 0 };
}
