/**
 * Rule evaluation with cooldown (docs/SEMANTICS.md "Per-reading rules and alerts"): every
 * valid reading, late ones included, is checked against the rules of its metrics in
 * arrival order, and a rule fires at most once per (sensor, rule, cooldown bucket). What a
 * rule kind means is in rules.ts; this module keeps the per-sensor memory the rules need
 * (the previous value of each metric, the recently fired buckets).
 */
import type { Rule } from './config.js';
import type { Reading } from './reading.js';
import { type Alert, buildAlert, cooldownBucket, ruleFires } from './rules.js';
import type { SensorState } from './state.js';

/** Recent buckets cached per rule before falling back to the alert ledger. */
const MAX_FIRED_BUCKETS = 32;

/** Alert-mode rules by the metric they watch (rule-set.ts compiles them per sensor). */
export type RulesByMetric = ReadonlyMap<string, readonly Rule[]>;

/**
 * Runs the rules on one reading: appends the alerts it fires to `alerts`, records their
 * buckets in `state.fired`, and remembers each value as its metric's previous one.
 * `late` says whether the reading missed a window (it is carried on the alert).
 */
export function evaluateRules(
  state: SensorState,
  rules: RulesByMetric,
  reading: Reading,
  late: boolean,
  alerts: Alert[],
): void {
  const ts = reading.timestamp;
  for (const metric in reading.values) {
    const value = reading.values[metric]!;
    const forMetric = rules.get(metric);
    if (forMetric) {
      const previous = state.last[metric];
      for (const rule of forMetric) {
        if (!ruleFires(rule, value, previous)) continue;
        if (!claimBucket(state, rule.name, cooldownBucket(ts, rule.cooldownMs))) continue;
        alerts.push(buildAlert(rule, reading.sensorId, value, ts, previous, late));
      }
    }
    state.last[metric] = value;
  }
}

/** True when `bucket` had not fired for the rule yet; it is remembered from now on. */
export function claimBucket(state: SensorState, rule: string, bucket: number): boolean {
  let fired = state.fired[rule];
  if (!fired) {
    fired = [];
    state.fired[rule] = fired;
  }
  if (fired.includes(bucket)) return false;
  fired.push(bucket);
  if (fired.length > MAX_FIRED_BUCKETS) {
    fired.sort((a, b) => a - b);
    fired.shift();
  }
  return true;
}
