/**
 * What `npm start` adds so the anomaly kinds have something to find (docs/SEMANTICS.md
 * A-K3..A-K5): a simulated fault on each of the first three sensors, and one alarm-mode
 * rule scoped to each (A-R2), shaped for the simulator's sensor (20 °C, uniform noise of
 * ±2, so readings differ by at most 4 from one to the next, and ±15 spikes on 2 %):
 * - sensor_1, a spike: +12 °C for 4 s every 3 min; `odd-reading` (zscore over the last
 *   minute, |z| > 4) raises on it, and on the simulator's own spikes;
 * - sensor_2, a drift: 0 rising to +12 °C over 5 min, every 12 min; `drifting` (ewma with a
 *   5 min half-life, more than 5 °C from the mean) raises once the mean lags 5 °C behind;
 * - sensor_3, a fast ramp: +30 °C in 5 readings (6 °C a reading), every 4 min, then back at
 *   once; `fast-change` (rate, faster than 4 °C a reading either way) raises on the ramp
 *   and on the fall.
 * A configured rule of the same name is kept instead of the demo's.
 */
import type { Rule } from '../functions/domain/rules/registry.js';
import { RuleSchema } from '../functions/domain/rules/registry.js';
import type { SimulatedFault } from './simulator.js';

const MINUTE_MS = 60_000;

export interface AnomalyDemo {
  faults: SimulatedFault[];
  rules: Rule[];
}

/** The demo for a fleet starting at `startMs` with `sensors` sensors at `rateHz`. */
export function anomalyDemo(startMs: number, sensors: number, rateHz: number): AnomalyDemo {
  return { faults: demoFaults(startMs, sensors, rateHz), rules: demoRules(sensors, rateHz) };
}

/** The faults, from the fleet's first event time `startMs`. */
export function demoFaults(startMs: number, sensors: number, rateHz: number): SimulatedFault[] {
  const perReadingMs = 1_000 / rateHz;
  const faults: SimulatedFault[] = [
    {
      kind: 'spike',
      sensor: 'sensor_1',
      startMs: startMs + 75_000,
      durationMs: 4_000,
      magnitude: 12,
      everyMs: 3 * MINUTE_MS,
    },
    {
      kind: 'drift',
      sensor: 'sensor_2',
      startMs: startMs + 2 * MINUTE_MS,
      durationMs: 5 * MINUTE_MS,
      magnitude: 12,
      everyMs: 12 * MINUTE_MS,
    },
    {
      kind: 'ramp',
      sensor: 'sensor_3',
      startMs: startMs + 100_000,
      durationMs: Math.max(1, Math.round(5 * perReadingMs)),
      magnitude: 30,
      everyMs: 4 * MINUTE_MS,
    },
  ];
  return faults.filter((f) => Number(f.sensor.slice('sensor_'.length)) <= sensors);
}

/** The rules, one per faulted sensor, scoped to it. */
export function demoRules(sensors: number, rateHz: number): Rule[] {
  const raw = [
    {
      name: 'odd-reading',
      type: 'zscore',
      scope: { sensor: 'sensor_1' },
      window: { spanMs: MINUTE_MS },
      threshold: 4,
      clear: 2,
      minCount: 20,
      clearAfter: 5,
    },
    {
      name: 'drifting',
      type: 'ewma',
      scope: { sensor: 'sensor_2' },
      halfLifeMs: 5 * MINUTE_MS,
      maxDeviation: 5,
      clear: { maxDeviation: 3 },
      minCount: 60,
      clearAfter: 30,
    },
    {
      name: 'fast-change',
      type: 'rate',
      scope: { sensor: 'sensor_3' },
      above: 4 * rateHz,
      below: -4 * rateHz,
      clear: { below: 3 * rateHz, above: -3 * rateHz },
      clearAfter: 5,
    },
  ].slice(0, Math.min(3, sensors));
  return raw.map((r) => RuleSchema.parse({ metric: 'temperature', severity: 'warning', ...r }));
}

/** The configured rules with the demo's added, a configured rule of the same name kept. */
export function withDemoRules(configured: readonly Rule[], demo: readonly Rule[]): Rule[] {
  const names = new Set(configured.map((r) => r.name));
  return [...configured, ...demo.filter((r) => !names.has(r.name))];
}
