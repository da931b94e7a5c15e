/** Factories for readings and sensor records used by the unit tests. */

import { checkSequence } from '../../functions/domain/sequence.js';
import type { Outbox, ReadingRecord, SensorState } from '../../functions/domain/state.js';

export function record(
  sensorId: string,
  timestamp: number,
  temperature: number,
  sequence: number | string,
  shardId = 'shardId-000000000000',
): ReadingRecord {
  return {
    shardId,
    sequence: checkSequence(String(sequence)),
    reading: { sensorId, timestamp, values: { temperature } },
  };
}

/** A state without its outbox: what two ways of folding the same records must agree on. */
export function withoutOutbox(state: SensorState) {
  const { outbox: _o, ...rest } = state;
  return rest;
}

/** The effects of several folds as sorted sets, to compare with those of one fold. */
export function effectIds(outboxes: Outbox[]) {
  return {
    results: outboxes.flatMap((o) => o.results.map((r) => JSON.stringify(r))).sort(),
    alerts: outboxes.flatMap((o) => o.alerts.map((a) => JSON.stringify(a))).sort(),
    late: outboxes.flatMap((o) => o.late.map((l) => JSON.stringify(l))).sort(),
  };
}

/** A record of a reading with several metrics. */
export function recordOf(
  sensorId: string,
  timestamp: number,
  values: Record<string, number>,
  sequence: number | string,
): ReadingRecord {
  return { ...record(sensorId, timestamp, 0, sequence), reading: { sensorId, timestamp, values } };
}
