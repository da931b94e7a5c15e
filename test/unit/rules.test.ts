import { describe, expect, it } from 'vitest';
import { DEFAULT_RULES, parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { alertIdOf, ruleFires } from '../../functions/domain/rules.js';
import { newSensorState } from '../../functions/domain/state.js';
import { record } from './factories.js';

const config = parseConfig({});
const values = (rs: { rule: string; value: number }[]) => rs.map((a) => `${a.rule}:${a.value}`);

describe('Rules: default rules too-hot (above 35), too-cold (below 5), jump (maxDelta 5) on temperature', () => {
  it('ships the three default rules', () => {
    expect(config.rules.map((r) => r.name)).toEqual(['too-hot', 'too-cold', 'jump']);
    expect(DEFAULT_RULES).toEqual(config.rules);
  });

  it.each([
    { value: 35, fires: false },
    { value: 35.01, fires: true },
  ])('too-hot: value > above ($value -> $fires)', ({ value, fires }) => {
    expect(ruleFires(config.rules[0]!, value, undefined)).toBe(fires);
  });

  it.each([
    { value: 5, fires: false },
    { value: 4.99, fires: true },
  ])('too-cold: value < below ($value -> $fires)', ({ value, fires }) => {
    expect(ruleFires(config.rules[1]!, value, undefined)).toBe(fires);
  });

  it.each([
    { previous: undefined, value: 100, fires: false },
    { previous: 20, value: 25, fires: false },
    { previous: 20, value: 25.5, fires: true },
    { previous: 20, value: 14.5, fires: true },
  ])('jump: |value - previous| > maxDelta ($previous -> $value: $fires)', ({ previous, value, fires }) => {
    expect(ruleFires(config.rules[2]!, value, previous)).toBe(fires);
  });
});

describe('Rules: delta uses the previous valid reading of the sensor in arrival order', () => {
  it('compares with the previous reading in arrival order, not event-time order', () => {
    const r = foldSensorRecords(
      newSensorState('s'),
      [record('s', 10_000, 20, 1), record('s', 5_000, 26, 2), record('s', 70_000, 26, 3)],
      parseConfig({ rules: [{ name: 'jump', type: 'delta', metric: 'temperature', maxDelta: 5 }] }),
    );
    expect(r.effects.alerts.map((a) => [a.timestamp, a.previous, a.value])).toEqual([[5_000, 20, 26]]);
  });

  it('continues from the previous batch (state carries the last value)', () => {
    const c = parseConfig({ rules: [{ name: 'jump', type: 'delta', metric: 'temperature', maxDelta: 5 }] });
    const s1 = foldSensorRecords(newSensorState('s'), [record('s', 1_000, 20, 1)], c);
    const s2 = foldSensorRecords(s1.state, [record('s', 2_000, 30, 2)], c);
    expect(s2.effects.alerts).toHaveLength(1);
    expect(s2.effects.alerts[0]).toMatchObject({ previous: 20, value: 30, maxDelta: 5, ruleType: 'delta' });
  });
});

describe('Rules: run on every valid reading, late ones included', () => {
  it('alerts on a late reading and marks it late', () => {
    const s1 = foldSensorRecords(
      newSensorState('s'),
      [record('s', 1_000, 20, 1), record('s', 200_000, 20, 2)],
      config,
    );
    const s2 = foldSensorRecords(s1.state, [record('s', 2_000, 50, 3)], config);
    expect(s2.effects.late).toHaveLength(1);
    expect(s2.effects.alerts.map((a) => [a.rule, a.late])).toEqual([
      ['too-hot', true],
      ['jump', true],
    ]);
  });
});

describe('Suppression: at most one alert per (sensor, rule, cooldown bucket = floor(timestamp / cooldown))', () => {
  it('suppresses repeats in the same bucket, fires again in the next bucket', () => {
    const r = foldSensorRecords(
      newSensorState('s'),
      [
        record('s', 1_000, 40, 1),
        record('s', 2_000, 41, 2),
        record('s', 59_999, 42, 3),
        record('s', 60_000, 43, 4),
      ],
      parseConfig({ rules: [config.rules[0]!] }),
    );
    expect(values(r.effects.alerts)).toEqual(['too-hot:40', 'too-hot:43']);
    expect(r.effects.alerts.map((a) => a.cooldownBucket)).toEqual([0, 1]);
  });

  it('suppresses across batches and for out-of-order readings of an already fired bucket', () => {
    const c = parseConfig({ rules: [config.rules[0]!] });
    const s1 = foldSensorRecords(newSensorState('s'), [record('s', 61_000, 40, 1)], c);
    const s2 = foldSensorRecords(s1.state, [record('s', 62_000, 40, 2), record('s', 30_000, 40, 3)], c);
    expect(s2.effects.alerts.map((a) => a.cooldownBucket)).toEqual([0]);
  });

  it('keeps buckets per rule and per sensor', () => {
    const a = foldSensorRecords(newSensorState('a'), [record('a', 1_000, 50, 1)], config);
    const b = foldSensorRecords(newSensorState('b'), [record('b', 1_000, 50, 2)], config);
    expect(a.effects.alerts).toHaveLength(1);
    expect(b.effects.alerts).toHaveLength(1);
    expect(a.effects.alerts[0]!.alertId).not.toBe(b.effects.alerts[0]!.alertId);
  });

  it('uses the configured cooldown', () => {
    const c = parseConfig({ rules: [{ ...config.rules[0]!, cooldownMs: 10_000 }] });
    const r = foldSensorRecords(
      newSensorState('s'),
      [record('s', 1_000, 40, 1), record('s', 11_000, 40, 2)],
      c,
    );
    expect(r.effects.alerts).toHaveLength(2);
  });
});

describe('Alerts: JSON with alertId, sensorId, rule, metric, value, timestamp; the id derives from the cause', () => {
  it('carries the required fields and severity', () => {
    const r = foldSensorRecords(newSensorState('s-1'), [record('s-1', 1_234, 36.6, 1)], config);
    expect(r.effects.alerts[0]).toMatchObject({
      alertId: alertIdOf('s-1', 'too-hot', 0),
      sensorId: 's-1',
      rule: 'too-hot',
      metric: 'temperature',
      value: 36.6,
      timestamp: 1_234,
      severity: 'critical',
      above: 35,
    });
  });

  it('gives the same id for the same cause and different ids for different causes', () => {
    expect(alertIdOf('s', 'too-hot', 5)).toBe(alertIdOf('s', 'too-hot', 5));
    expect(
      new Set([alertIdOf('s', 'too-hot', 5), alertIdOf('s', 'too-hot', 6), alertIdOf('s', 'jump', 5)]).size,
    ).toBe(3);
    // Sensor ids may hold any character: ("a<NUL>b", "c") and ("a", "b<NUL>c") stay apart.
    expect(alertIdOf('a\u0000b', 'c', 1)).not.toBe(alertIdOf('a', 'b\u0000c', 1));
    expect(alertIdOf('s', 'too-hot', 5)).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('Configuration: rules and windows come from one validated configuration', () => {
  it.each([
    [{ rules: [{ name: 'x', type: 'threshold', metric: 'temperature' }] }, 'rules.0'],
    [{ rules: [{ name: 'x', type: 'delta', metric: 'humidity', maxDelta: 1 }] }, 'rules.0.metric'],
    [{ windows: [{ type: 'tumbling', sizeMs: 0 }] }, 'windows.0.sizeMs'],
    [{ eventSource: { batchSize: 20_000 } }, 'eventSource.batchSize'],
    [{ allowedLatenessMs: -1 }, 'allowedLatenessMs'],
  ])('rejects %j naming %s', (input, path) => {
    expect(() => parseConfig(input)).toThrowError(new RegExp(path.replace('.', '\\.')));
  });

  it('rejects duplicate rule names', () => {
    expect(() => parseConfig({ rules: [config.rules[0], config.rules[0]] })).toThrowError(
      /duplicate rule name/,
    );
  });
});
