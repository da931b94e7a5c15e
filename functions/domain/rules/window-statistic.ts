/**
 * Rules on a window statistic (docs/SEMANTICS.md "Per-reading rules and alerts", window
 * statistics; issue 17): a rule whose kind names a statistic for it (`threshold` with
 * `statistic`: `p99`, `mean`, `max`, ...) is evaluated once per final window of its
 * metric, on that window's value of the statistic, instead of on every reading. Which
 * rules apply to a sensor is the rule set's (rule-set.ts `windowRules`). Suppression is
 * the per-reading rules' own: at most one alert per (sensor, rule, cooldown bucket), the
 * bucket taken at the window's start, so a retried batch or a repeated flush yields the
 * same alertId.
 */

import type { AggregateSummary } from '../aggregate.js';
import { claimBucket } from '../alerting.js';
import type { WindowpaneConfig } from '../config.js';
import { percentileNamesOf } from '../percentile-config.js';
import { type Alert, buildAlert, cooldownBucket, ruleFires } from '../rules.js';
import type { FinalWindow, SensorState } from '../state.js';
import { kindOf, type Rule } from './registry.js';

/** The statistics a window rule may name besides the configured percentiles. */
export const WINDOW_STATISTICS = ['count', 'sum', 'min', 'max', 'mean', 'stddev'] as const;

/** The window statistic `rule` reads, or undefined for a per-reading rule. */
export function statisticOf(rule: Rule): string | undefined {
  return kindOf(rule.type).windowStatistic?.(rule);
}

/**
 * Statistics the rules name that their metric's final windows will not carry: not one of
 * WINDOW_STATISTICS, `stddev` with stddev off, or a percentile not configured for it.
 */
export function windowRuleIssues(c: WindowpaneConfig): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  c.rules.forEach((rule, i) => {
    const statistic = statisticOf(rule);
    if (statistic === undefined) return;
    const percentiles = percentileNamesOf(c, rule.metric);
    const known = [...WINDOW_STATISTICS.filter((s) => s !== 'stddev' || c.stddev), ...percentiles];
    if (known.includes(statistic)) return;
    issues.push({
      path: ['rules', i, 'statistic'],
      message: `"${statistic}" is not a statistic of ${rule.metric}'s windows; expected one of ${known.join(', ')}${
        percentiles.length === 0 ? ' (percentiles such as p99 need `percentiles` configured)' : ''
      }`,
    });
  });
  return issues;
}

/**
 * Runs the window rules on final windows (in their emission order): appends the alerts
 * they fire to `alerts` and records the buckets in `state.fired`.
 */
export function evaluateWindowRules(
  state: SensorState,
  rules: readonly Rule[],
  finals: readonly FinalWindow[],
  alerts: Alert[],
): void {
  if (rules.length === 0) return;
  for (const final of finals) {
    for (const rule of rules) {
      const statistic = statisticOf(rule);
      if (statistic === undefined) continue;
      const value = final.metrics[rule.metric]?.[statistic as keyof AggregateSummary];
      if (typeof value !== 'number' || !ruleFires(rule, value, undefined)) continue;
      if (!claimBucket(state, rule.name, cooldownBucket(final.windowStart, rule.cooldownMs))) continue;
      alerts.push({
        ...buildAlert(rule, final.sensorId, value, final.windowStart, undefined, false),
        statistic,
        windowKey: final.windowKey,
        windowEnd: final.windowEnd,
      });
    }
  }
}
