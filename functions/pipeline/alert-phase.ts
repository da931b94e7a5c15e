/**
 * The alert phase: the alerts and alarm transitions of every state committed in a batch
 * (or a flush) are
 * published together, after all the commits, and recorded in the ledger right after the
 * publishes. Publishing in one phase keeps the window in which a crash can duplicate an
 * alert as small as it can be (the argument is in functions/lib/effects.ts).
 */
import type { SensorState } from '../domain/state.js';
import type { DeliveryCounts } from '../lib/effects.js';
import type { BatchDeps } from './deps.js';

/**
 * Publishes the outbox alerts of `states` (those this process has not delivered: filter
 * with `deps.delivered.needsAlerts`) and marks them delivered. Throws if any publish
 * failed; what was published is in the ledger either way.
 */
export async function deliverAlertPhase(
  deps: Pick<BatchDeps, 'effects' | 'delivered'>,
  states: readonly SensorState[],
  counts: DeliveryCounts,
): Promise<void> {
  if (states.length === 0) return;
  await deps.effects.deliverAlerts(
    states.flatMap((s) => s.outbox.alerts),
    counts,
    states.flatMap((s) => s.outbox.transitions ?? []),
    states.flatMap((s) => s.outbox.actions ?? []),
  );
  for (const state of states) deps.delivered.markDelivered(state, 'alerts');
}
