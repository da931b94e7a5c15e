/**
 * The in-memory delivery tracker: which parts of which outbox version this process has
 * delivered. It may forget (a fresh container knows nothing), but it must never claim a
 * part of a newer outbox was delivered.
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../functions/domain/rules.js';
import { newSensorState, type SensorState } from '../../functions/domain/state.js';
import { DeliveryTracker } from '../../functions/pipeline/delivery-tracker.js';

const alert = { alertId: 'a1' } as Alert;
function stateAt(sensorId: string, version: number, alerts: Alert[] = []): SensorState {
  const s = newSensorState(sensorId);
  return { ...s, version, outbox: { ...s.outbox, alerts } };
}

describe('DeliveryTracker', () => {
  it('knows nothing at first: every part is undelivered, alerts are needed when present', () => {
    const tracker = new DeliveryTracker();
    const s = stateAt('s1', 1, [alert]);
    expect(tracker.isDelivered(s, 'windowsAndLate')).toBe(false);
    expect(tracker.isDelivered(s, 'alerts')).toBe(false);
    expect(tracker.needsAlerts(s)).toBe(true);
    expect(tracker.needsAlerts(stateAt('s1', 1))).toBe(false);
  });

  it('remembers each part of one version separately', () => {
    const tracker = new DeliveryTracker();
    const s = stateAt('s1', 3, [alert]);
    tracker.markDelivered(s, 'windowsAndLate');
    expect(tracker.isDelivered(s, 'windowsAndLate')).toBe(true);
    expect(tracker.needsAlerts(s)).toBe(true);
    tracker.markDelivered(s, 'alerts');
    expect(tracker.needsAlerts(s)).toBe(false);
  });

  it('an outbox without alerts has its alerts delivered as soon as any part is marked', () => {
    const tracker = new DeliveryTracker();
    const s = stateAt('s1', 2);
    tracker.markDelivered(s, 'windowsAndLate');
    expect(tracker.isDelivered(s, 'alerts')).toBe(true);
  });

  it('a new version of the state starts undelivered again', () => {
    const tracker = new DeliveryTracker();
    tracker.markDelivered(stateAt('s1', 1, [alert]), 'windowsAndLate');
    tracker.markDelivered(stateAt('s1', 1, [alert]), 'alerts');
    const next = stateAt('s1', 2, [alert]);
    expect(tracker.isDelivered(next, 'windowsAndLate')).toBe(false);
    expect(tracker.needsAlerts(next)).toBe(true);
  });

  it('forgets everything rather than grow past maxSensors', () => {
    const tracker = new DeliveryTracker({ maxSensors: 2 });
    for (const id of ['a', 'b']) tracker.markDelivered(stateAt(id, 1), 'windowsAndLate');
    tracker.markDelivered(stateAt('c', 1), 'windowsAndLate');
    expect(tracker.isDelivered(stateAt('a', 1), 'windowsAndLate')).toBe(false);
    expect(tracker.isDelivered(stateAt('c', 1), 'windowsAndLate')).toBe(true);
  });
});
