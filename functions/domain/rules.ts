/**
 * Per-reading alert rules (docs/SEMANTICS.md "Per-reading rules and alerts"): `threshold`
 * and `delta`, evaluated on every valid reading, late ones included, in arrival order
 * per sensor; at most one alert per (sensor, rule, cooldown bucket).
 */
import { createHash } from 'node:crypto';
import type { Rule, Severity } from './config.js';

export interface Alert {
  /** Derived from the cause (sensor, rule, cooldown bucket): a retried batch yields the same id. */
  alertId: string;
  sensorId: string;
  rule: string;
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
   * Rules on a window statistic (window-rules.ts): the statistic, and the final window
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
  if (rule.type === 'threshold') {
    return (
      (rule.above !== undefined && value > rule.above) || (rule.below !== undefined && value < rule.below)
    );
  }
  return previous !== undefined && Math.abs(value - previous) > rule.maxDelta;
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
    ruleType: rule.type,
    severity: rule.severity,
    metric: rule.metric,
    value,
    timestamp,
    cooldownBucket: bucket,
    cooldownMs: rule.cooldownMs,
    late,
  };
  if (rule.type === 'threshold') {
    if (rule.above !== undefined) alert.above = rule.above;
    if (rule.below !== undefined) alert.below = rule.below;
  } else {
    alert.previous = previous;
    alert.maxDelta = rule.maxDelta;
  }
  return alert;
}
