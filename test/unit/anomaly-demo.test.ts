/**
 * The simulator's faults (off by default: the default output is unchanged) and the demo
 * `npm start` runs: each anomaly kind (A-K3 zscore, A-K4 ewma, A-K5 rate) raises its alarm
 * on the fault shaped for it and resolves after, folded as the pipeline folds them.
 */
import { describe, expect, it } from 'vitest';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { decodeReading } from '../../functions/domain/reading.js';
import { newSensorState, type SensorRecord } from '../../functions/domain/state.js';
import { anomalyDemo, withDemoRules } from '../../local/anomaly-demo.js';
import { faultOffset, SimulatorOptionsError, simulate } from '../../local/simulator.js';

const START = Date.parse('2026-01-01T00:00:00Z');
const base = { sensors: 5, rateHz: 1, seed: 42, startMs: START };

describe('simulator faults', () => {
  it('change only the faulted sensor, and only within the fault', () => {
    const fault = {
      kind: 'spike',
      sensor: 'sensor_2',
      startMs: START + 10_000,
      durationMs: 3_000,
      magnitude: 50,
    } as const;
    const plain = [...simulate({ ...base, durationMs: 30_000 })];
    const faulted = [...simulate({ ...base, durationMs: 30_000, faults: [fault] })];
    expect(faulted.length).toBe(plain.length);
    const changed = faulted.filter((r, i) => Buffer.compare(r.data, plain[i]!.data) !== 0);
    expect(changed.length).toBeGreaterThanOrEqual(2);
    for (const r of changed) {
      expect(r.partitionKey).toBe('sensor_2');
      expect(r.eventTimeMs! - START).toBeGreaterThanOrEqual(10_000);
      expect(r.eventTimeMs! - START).toBeLessThan(13_000);
    }
  });

  it('offsets: a spike is flat, a drift and a ramp rise linearly, each repeats every everyMs', () => {
    const f = { sensor: 'sensor_1', startMs: 0, durationMs: 100, magnitude: 10, everyMs: 1_000 };
    expect(faultOffset({ ...f, kind: 'spike' }, 50)).toBe(10);
    expect(faultOffset({ ...f, kind: 'drift' }, 50)).toBe(5);
    expect(faultOffset({ ...f, kind: 'ramp' }, 1_025)).toBe(2.5);
    expect(faultOffset({ ...f, kind: 'ramp' }, 100)).toBe(0);
    expect(faultOffset({ ...f, kind: 'spike' }, -1)).toBe(0);
  });

  it('refuses a bad fault naming its field', () => {
    const bad = (extra: Record<string, unknown>) => () => [
      ...simulate({
        ...base,
        durationMs: 1_000,
        faults: [
          {
            kind: 'spike',
            sensor: 'sensor_1',
            startMs: START,
            durationMs: 1_000,
            magnitude: 1,
            ...extra,
          } as never,
        ],
      }),
    ];
    expect(bad({ kind: 'wobble' })).toThrowError(SimulatorOptionsError);
    expect(bad({ kind: 'wobble' })).toThrowError(/faults\[0\]\.kind/);
    expect(bad({ sensor: 'pump' })).toThrowError(/faults\[0\]\.sensor/);
    expect(bad({ durationMs: 0 })).toThrowError(/faults\[0\]\.durationMs/);
    expect(bad({ everyMs: 10 })).toThrowError(/faults\[0\]\.everyMs/);
    expect(bad({ magnitude: Number.NaN })).toThrowError(/faults\[0\]\.magnitude/);
  });
});

describe('the npm start anomaly demo: every anomaly kind fires on its fault and resolves', () => {
  const demo = anomalyDemo(START, 5, 1);
  const config = parseConfig({ rules: [] });
  const rules = withDemoRules(config.rules, demo.rules);
  const records = [...simulate({ ...base, durationMs: 30 * 60_000, faults: demo.faults })];
  const bySensor = new Map<string, SensorRecord[]>();
  records.forEach((r, i) => {
    const decoded = decodeReading(r.data, config.metrics);
    if (!decoded.ok) return;
    const id = decoded.reading.sensorId;
    const list = bySensor.get(id) ?? [];
    list.push({ shardId: 's', sequence: String(i + 1), reading: decoded.reading, arrivalMs: r.arrivalMs });
    bySensor.set(id, list);
  });
  const transitionsOf = (sensor: string): Transition[] =>
    foldSensorRecords(newSensorState(sensor), bySensor.get(sensor)!, { ...config, rules }).effects
      .transitions ?? [];

  it.each([
    ['sensor_1', 'odd-reading', 'spike'],
    ['sensor_2', 'drifting', 'drift'],
    ['sensor_3', 'fast-change', 'ramp'],
  ])('%s: %s raises during a %s and resolves', (sensor, rule, kind) => {
    const ts = transitionsOf(sensor).filter((t) => t.rule === rule);
    const fault = demo.faults.find((f) => f.kind === kind)!;
    const inFault = (at: number) => faultOffset(fault, at) !== 0 || faultOffset(fault, at - 1_000) !== 0;
    expect(ts.some((t) => t.transition === 'ALARM' && inFault(t.at))).toBe(true);
    expect(ts.some((t) => t.transition === 'RESOLVED')).toBe(true);
  });

  it('the rules apply only to their sensor; sensors 4 and 5 have no alarm', () => {
    expect(transitionsOf('sensor_4')).toEqual([]);
    expect(transitionsOf('sensor_5')).toEqual([]);
  });

  it('a configured rule of the same name is kept; a smaller fleet gets fewer faults and rules', () => {
    const own = parseConfig({
      rules: [{ name: 'drifting', type: 'threshold', metric: 'temperature', above: 99 }],
    }).rules;
    expect(withDemoRules(own, demo.rules).map((r) => `${r.name}:${r.type}`)).toEqual([
      'drifting:threshold',
      'odd-reading:zscore',
      'fast-change:rate',
    ]);
    const two = anomalyDemo(START, 2, 1);
    expect(two.faults.map((f) => f.sensor)).toEqual(['sensor_1', 'sensor_2']);
    expect(two.rules.map((r) => r.name)).toEqual(['odd-reading', 'drifting']);
  });
});
