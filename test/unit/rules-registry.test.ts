/**
 * A-R1 Rules: every kind is one registered module (schema, evaluation, alert fields,
 * console text), and the alert bodies of `threshold` and `delta` are what they were
 * before the registry (compared with the pre-registry construction written out here).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/domain/config.js';
import { kindOf, RULE_TYPES, type Rule } from '../../functions/domain/rules/registry.js';
import { buildAlert, cooldownBucket } from '../../functions/domain/rules.js';

describe('A-R1 Rules: one registered module per kind', () => {
  it('registers threshold and delta with schema, alert fields and console text', () => {
    expect(RULE_TYPES).toEqual([
      'threshold',
      'delta',
      'zscore',
      'ewma',
      'rate',
      'n-of-m',
      'sequence',
      'absence',
    ]);
    for (const type of RULE_TYPES) {
      const kind = kindOf(type);
      expect(kind.type).toBe(type);
      expect(typeof kind.fires).toBe('function');
      expect(typeof kind.describeAlert).toBe('function');
    }
  });

  it('names the unknown type and lists the registered ones', () => {
    expect(() => parseConfig({ rules: [{ name: 'x', type: 'zscor', metric: 'temperature' }] })).toThrowError(
      ConfigError,
    );
    expect(() => parseConfig({ rules: [{ name: 'x', type: 'zscor', metric: 'temperature' }] })).toThrowError(
      /rules\.0\.type: unknown rule type "zscor"; expected one of threshold, delta, zscore, ewma, rate, n-of-m, sequence, absence/,
    );
  });

  it('refuses a kind parameter out of range, naming its path', () => {
    expect(() =>
      parseConfig({ rules: [{ name: 'j', type: 'delta', metric: 'temperature', maxDelta: 0 }] }),
    ).toThrowError(/rules\.0\.maxDelta/);
  });
});

/**
 * The alert body as rules.ts built it before the registry (fields in this order), plus
 * `ruleVersion` after `rule` (A-R3).
 */
function legacyAlert(
  rule: Rule,
  sensorId: string,
  value: number,
  ts: number,
  previous?: number,
  late = false,
) {
  const bucket = cooldownBucket(ts, rule.cooldownMs);
  const base = buildAlert(rule, sensorId, value, ts, previous, late);
  const alert: Record<string, unknown> = {
    alertId: base.alertId,
    sensorId,
    rule: rule.name,
    ruleVersion: rule.version ?? 0,
    ruleType: rule.type,
    severity: rule.severity,
    metric: rule.metric,
    value,
    timestamp: ts,
    cooldownBucket: bucket,
    cooldownMs: rule.cooldownMs,
    late,
  };
  if (rule.type === 'threshold') {
    if (rule.above !== undefined) alert.above = rule.above;
    if (rule.below !== undefined) alert.below = rule.below;
  } else if (rule.type === 'delta') {
    alert.previous = previous;
    alert.maxDelta = rule.maxDelta;
  }
  return alert;
}

const finite = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });

describe('alerts-unchanged: threshold and delta alert bodies are the pre-registry ones plus ruleVersion', () => {
  it('threshold and delta, arbitrary bounds and readings', () => {
    const rule = fc.oneof(
      fc.record({ above: fc.option(finite, { nil: undefined }), below: finite }).map(
        (b): Rule => ({
          name: 'limit',
          type: 'threshold',
          metric: 'temperature',
          severity: 'critical',
          cooldownMs: 60_000,
          ...(b.above !== undefined ? { above: b.above } : {}),
          below: b.below,
        }),
      ),
      fc.double({ min: 0.001, max: 100, noNaN: true }).map(
        (maxDelta): Rule => ({
          name: 'jump',
          type: 'delta',
          metric: 'temperature',
          severity: 'warning',
          cooldownMs: 30_000,
          maxDelta,
        }),
      ),
    );
    fc.assert(
      fc.property(
        rule,
        finite,
        fc.option(finite, { nil: undefined }),
        fc.integer({ min: 0, max: 2e12 }),
        fc.boolean(),
        (r, value, previous, ts, late) => {
          const got = JSON.stringify(buildAlert(r, 'sensor_1', value, ts, previous, late));
          const want = JSON.stringify(legacyAlert(r, 'sensor_1', value, ts, previous, late));
          expect(got).toBe(want);
        },
      ),
    );
  });
});
