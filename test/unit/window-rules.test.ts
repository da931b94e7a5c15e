/**
 * Threshold rules on a window statistic (docs/SEMANTICS.md "Per-reading rules and
 * alerts", window statistics; issue 17): `{ type: 'threshold', statistic: 'p99', above: X }`
 * fires on a final window whose p99 is above X, once per (sensor, rule, cooldown bucket
 * of the window's start), when the window becomes final in the fold or in a flush, and
 * never on single readings.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { alertIdOf } from '../../functions/domain/rules.js';
import { newSensorState } from '../../functions/domain/state.js';
import { flushSensor } from '../../functions/domain/windows/finalise.js';
import { record } from './factories.js';

const p99Rule = { name: 'p99-hot', type: 'threshold', metric: 'temperature', statistic: 'p99', above: 30 };

const config = (extra: Record<string, unknown> = {}) =>
  parseConfig({ rules: [p99Rule], percentiles: [0.5, 0.99], allowedLatenessMs: 0, ...extra });

/** 60 readings at 1 Hz from `t0`, all 20 except the last `hot` ones, which are 35. */
function minute(t0: number, hot: number, seq0: number) {
  return Array.from({ length: 60 }, (_, i) => record('s', t0 + i * 1_000, i >= 60 - hot ? 35 : 20, seq0 + i));
}

function refused(input: unknown): string {
  try {
    parseConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.join('; ');
  }
  return expect.fail('expected the configuration to be refused');
}

describe('Window statistics: a threshold rule names a statistic its windows carry', () => {
  it('accepts the aggregates and the configured percentiles of the metric', () => {
    expect(config().rules[0]).toMatchObject({ statistic: 'p99' });
    expect(parseConfig({ rules: [{ ...p99Rule, statistic: 'mean' }] }).rules[0]).toMatchObject({
      statistic: 'mean',
    });
  });

  it.each([
    [
      { rules: [p99Rule] },
      'rules.0.statistic: "p99" is not a statistic of temperature\'s windows; expected one of count, sum, min, max, mean, stddev (percentiles such as p99 need `percentiles` configured)',
    ],
    [
      { rules: [{ ...p99Rule, statistic: 'p90' }], percentiles: [0.99] },
      'rules.0.statistic: "p90" is not a statistic of temperature\'s windows; expected one of count, sum, min, max, mean, stddev, p99',
    ],
    [
      { rules: [{ ...p99Rule, statistic: 'stddev' }], stddev: false },
      'rules.0.statistic: "stddev" is not a statistic of temperature\'s windows; expected one of count, sum, min, max, mean (percentiles such as p99 need `percentiles` configured)',
    ],
  ])('refuses %j', (input, message) => {
    expect(refused(input)).toBe(message);
  });

  it('refuses a window-statistic rule in alarm mode', () => {
    expect(refused({ rules: [{ ...p99Rule, mode: 'alarm' }], percentiles: [0.99] })).toContain(
      'rules.0.mode: a threshold rule with `statistic` runs on final windows in alert mode only',
    );
  });
});

describe('Window statistics: evaluated once per final window, not per reading', () => {
  it('fires when the window p99 is above the bound, with the window and statistic on the alert', () => {
    const c = config();
    // Minute 0: 2 of 60 readings at 35, p99 (the 60th value) is 35. Minute 1: none hot.
    // A reading in minute 2 makes both final (lateness 0).
    const r = foldSensorRecords(
      newSensorState('s'),
      [...minute(0, 2, 1), ...minute(60_000, 0, 100), record('s', 120_000, 20, 200)],
      c,
    );
    expect(r.effects.results).toHaveLength(2);
    expect(r.effects.alerts).toEqual([
      expect.objectContaining({
        alertId: alertIdOf('s', 'p99-hot', 0),
        rule: 'p99-hot',
        ruleType: 'threshold',
        statistic: 'p99',
        value: r.effects.results[0]!.metrics.temperature!.p99,
        above: 30,
        timestamp: 0,
        windowKey: r.effects.results[0]!.windowKey,
        windowEnd: 60_000,
        late: false,
      }),
    ]);
  });

  it('a single hot reading fires a per-reading rule but not the window rule when p99 stays low', () => {
    const withP90 = parseConfig({
      rules: [
        { ...p99Rule, statistic: 'p90' },
        { name: 'too-hot', type: 'threshold', metric: 'temperature', above: 30 },
      ],
      percentiles: [0.5, 0.9],
      allowedLatenessMs: 0,
    });
    const r = foldSensorRecords(
      newSensorState('s'),
      [...minute(0, 1, 1), record('s', 60_000, 20, 100)],
      withP90,
    );
    expect(r.effects.alerts.map((a) => a.rule)).toEqual(['too-hot']);
  });

  it('fires from a flush as from the fold, and a second flush or a retried batch fires nothing new', () => {
    const c = config();
    const folded = foldSensorRecords(newSensorState('s'), minute(0, 5, 1), c);
    expect(folded.effects.alerts).toEqual([]);
    const flushed = flushSensor(folded.state, c);
    expect(flushed.effects.alerts.map((a) => a.alertId)).toEqual([alertIdOf('s', 'p99-hot', 0)]);
    expect(flushSensor(flushed.state, c).effects.alerts).toEqual([]);
    const viaFold = foldSensorRecords(
      newSensorState('s'),
      [...minute(0, 5, 1), record('s', 60_000, 20, 100)],
      c,
    );
    expect(viaFold.effects.alerts).toEqual(flushed.effects.alerts);
    // The same batch again: duplicates, nothing fires.
    expect(foldSensorRecords(viaFold.state, minute(0, 5, 1), c).effects.alerts).toEqual([]);
  });

  it('resolves scope and disabled per sensor (A-R2), in the fold and in a flush', () => {
    const c = config({
      rules: [
        { ...p99Rule, scope: { sensor: 's' } },
        { ...p99Rule, scope: { sensor: 'quiet' }, disabled: true },
      ],
    });
    const hot = (id: string) =>
      Array.from({ length: 60 }, (_, i) => record(id, i * 1_000, i >= 55 ? 35 : 20, 1 + i));
    const mine = foldSensorRecords(newSensorState('s'), hot('s'), c);
    expect(flushSensor(mine.state, c).effects.alerts.map((a) => a.sensorId)).toEqual(['s']);
    for (const id of ['quiet', 'other']) {
      const folded = foldSensorRecords(newSensorState(id), hot(id), c);
      expect(flushSensor(folded.state, c).effects.alerts).toEqual([]);
    }
  });
});
