/** Synthetic dashboard events for the tests and the benchmark: a fleet's final windows. */

import type { Alert } from '../../functions/domain/rules.js';
import type { FinalWindow } from '../../functions/domain/state.js';
import type { DashboardEvent } from '../../local/dashboard/model.js';

export const MINUTE = 60_000;

export function finalWindow(sensorId: string, start: number, mean: number, sizeMs = MINUTE): FinalWindow {
  return {
    sensorId,
    windowKey: `tumbling:${sizeMs}#${start}`,
    windowType: 'tumbling',
    windowSizeMs: sizeMs,
    windowStart: start,
    windowEnd: start + sizeMs,
    metrics: { temperature: { count: 60, sum: mean * 60, min: mean - 2, max: mean + 2, mean } },
  };
}

/** `sensors` sensors with `windows` consecutive 1-minute windows each, ending before `endMs`. */
export function fleetWindows(sensors: number, windows: number, endMs = Date.now()): DashboardEvent[] {
  const first = Math.floor(endMs / MINUTE) * MINUTE - windows * MINUTE;
  const events: DashboardEvent[] = [];
  for (let s = 1; s <= sensors; s++) {
    for (let i = 0; i < windows; i++) {
      const mean = 20 + 3 * Math.sin(i / 60 + s);
      events.push({ kind: 'window', window: finalWindow(`sensor_${s}`, first + i * MINUTE, mean) });
    }
  }
  return events;
}

export function alert(sensorId: string, id: string, timestamp = Date.now()): Alert {
  return {
    alertId: id,
    sensorId,
    rule: 'too-hot',
    ruleVersion: 0,
    ruleType: 'threshold',
    severity: 'critical',
    metric: 'temperature',
    value: 41.5,
    timestamp,
    cooldownBucket: Math.floor(timestamp / MINUTE),
    cooldownMs: MINUTE,
    above: 35,
    late: false,
  };
}
