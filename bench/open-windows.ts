/**
 * The share of their one eventual result put that event-time windows still open at the
 * end of a benchmark run have used up (the writes and carried measurements charge it).
 */
import type { BatchDeps } from '../functions/pipeline/deps.js';

/**
 * Windows still open in the stored states, and the share of one result put each has used
 * up: readings so far / readings in a full window, at most 1.
 */
export async function openWindowShare(
  deps: BatchDeps,
  sensorIds: readonly string[],
  readingsPerFullWindow: number,
): Promise<{ windows: number; share: number }> {
  const states = await deps.store.loadMany(sensorIds);
  let windows = 0;
  let share = 0;
  for (const state of states.values()) {
    for (const w of Object.values(state.windows)) {
      const count = Math.max(0, ...Object.values(w.aggs).map((a) => a.count));
      windows++;
      share += Math.min(1, count / readingsPerFullWindow);
    }
  }
  return { windows, share };
}
