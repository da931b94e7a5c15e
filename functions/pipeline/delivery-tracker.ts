/**
 * Which parts of which outbox this process has delivered: an in-memory cache, so a warm
 * container does not deliver the same outbox twice. It is only an optimisation: a fresh
 * container, or a retry after a crash, knows of nothing and delivers everything again,
 * and the results' conditional puts, the alert ledger and the messages' ids absorb the
 * repeats (see functions/lib/effects.ts).
 */
import type { SensorState } from '../domain/state.js';

/**
 * The alert phase's part of an outbox: alerts and alarm transitions, published together,
 * and the outcomes of alarm actions (for the alarms projection).
 */
function hasMessages(state: SensorState): boolean {
  return (
    state.outbox.alerts.length > 0 ||
    (state.outbox.transitions?.length ?? 0) > 0 ||
    (state.outbox.actions?.length ?? 0) > 0
  );
}

/** The two parts of an outbox, delivered at different moments of a batch. */
export type OutboxPart = 'windowsAndLate' | 'alerts';

interface Progress {
  version: number;
  windowsAndLate: boolean;
  alerts: boolean;
}

/** Sensors remembered before the cache starts again from nothing (bounds memory). */
export const MAX_TRACKED_SENSORS = 100_000;

export class DeliveryTracker {
  private readonly progress = new Map<string, Progress>();
  private readonly maxSensors: number;

  constructor(options: { maxSensors?: number } = {}) {
    this.maxSensors = options.maxSensors ?? MAX_TRACKED_SENSORS;
  }

  /** Has this process delivered `part` of the outbox of the state's current version? */
  isDelivered(state: SensorState, part: OutboxPart): boolean {
    const progress = this.progress.get(state.sensorId);
    return progress?.version === state.version && progress[part];
  }

  /** Alerts or alarm transitions in the state's outbox that this process has not delivered. */
  needsAlerts(state: SensorState): boolean {
    return hasMessages(state) && !this.isDelivered(state, 'alerts');
  }

  markDelivered(state: SensorState, part: OutboxPart): void {
    let progress = this.progress.get(state.sensorId);
    if (progress?.version !== state.version) {
      if (this.progress.size >= this.maxSensors) this.progress.clear();
      progress = { version: state.version, windowsAndLate: false, alerts: !hasMessages(state) };
      this.progress.set(state.sensorId, progress);
    }
    progress[part] = true;
  }
}
