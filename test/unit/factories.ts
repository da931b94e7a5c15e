/** Factories for readings and sensor records used by the unit tests. */

import { checkSequence } from '../../functions/domain/sequence.js';
import type { SensorRecord } from '../../functions/domain/state.js';

export function record(
  sensorId: string,
  timestamp: number,
  temperature: number,
  sequence: number | string,
  shardId = 'shardId-000000000000',
): SensorRecord {
  return {
    shardId,
    sequence: checkSequence(String(sequence)),
    reading: { sensorId, timestamp, values: { temperature } },
  };
}

/** A record of a reading with several metrics. */
export function recordOf(
  sensorId: string,
  timestamp: number,
  values: Record<string, number>,
  sequence: number | string,
): SensorRecord {
  return { ...record(sensorId, timestamp, 0, sequence), reading: { sensorId, timestamp, values } };
}
