/**
 * Alerts (docs/SEMANTICS.md "Per-reading rules and alerts"): rules in alert mode are
 * evaluated on every valid reading, late ones included, in arrival order per sensor,
 * with at most one alert per (sensor, rule, cooldown bucket). What each kind means is in
 * its module of rules/kinds/; this module holds the alert body and its id.
 */
import { createHash } from 'node:crypto';
import { type Severity, versionOf } from './rules/common.js';
import { kindOf, type Rule } from './rules/registry.js';

export interface Alert {
  /** Derived from the cause (sensor, rule, cooldown bucket): a retried batch yields the same id. */
  alertId: string;
  sensorId: string;
  rule: string;
  /** The rule's version (A-R3): the table row's, or 0 for a configured rule without one. */
  ruleVersion: number;
  ruleType: Rule['type'];
  severity: Severity;
  metric: string;
  value: number;
  /** The reading's event time, epoch ms. */
  timestamp: number;
  /** `floor(timestamp / cooldownMs)`. */
  cooldownBucket: number;
  cooldownMs: number;
  /** threshold rules: the bound that was crossed. */
  above?: number;
  below?: number;
  /** delta rules: the previous value and the allowed change. */
  previous?: number;
  maxDelta?: number;
  /** Whether the reading was late for its window (rules still run on late readings). */
  late: boolean;
  /**
   * Rules on a window statistic (rules/window-statistic.ts): the statistic, and the final window
   * whose value it is (`timestamp` is then the window's start).
   */
  statistic?: string;
  windowKey?: string;
  windowEnd?: number;
}

export function alertIdOf(sensorId: string, rule: string, bucket: number): string {
  // JSON of the tuple is unambiguous whatever characters the sensor id holds.
  return createHash('sha256')
    .update(JSON.stringify([sensorId, rule, bucket]))
    .digest('hex')
    .slice(0, 32);
}

export function cooldownBucket(timestamp: number, cooldownMs: number): number {
  return Math.floor(timestamp / cooldownMs);
}

/** Does `rule` fire for `value`, given the sensor's previous value of the metric? */
export function ruleFires(rule: Rule, value: number, previous: number | undefined): boolean {
  return kindOf(rule.type).fires(rule, value, previous);
}

export function buildAlert(
  rule: Rule,
  sensorId: string,
  value: number,
  timestamp: number,
  previous: number | undefined,
  late: boolean,
): Alert {
  const bucket = cooldownBucket(timestamp, rule.cooldownMs);
  const alert: Alert = {
    alertId: alertIdOf(sensorId, rule.name, bucket),
    sensorId,
    rule: rule.name,
    ruleVersion: versionOf(rule),
    ruleType: rule.type,
    severity: rule.severity,
    metric: rule.metric,
    value,
    timestamp,
    cooldownBucket: bucket,
    cooldownMs: rule.cooldownMs,
    late,
  };
  return Object.assign(alert, kindOf(rule.type).alertFields(rule, previous));
}
