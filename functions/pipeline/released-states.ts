/**
 * The states this execution environment checkpointed and released (docs/SEMANTICS.md
 * "Carried state" CS2): kept in memory, so that the next window's first batch to touch a
 * sensor claims it from the body it wrote instead of reading the item back. The claim is
 * fenced on the version the checkpoint wrote. An entry the item has moved past since
 * (another environment ran the shard, the idle sweeper flushed the sensor, a copy of the
 * lineage wrote it) loses that conditional write, and the sensor is read as without this
 * cache. So an entry saves a strongly consistent read when it is right and costs one
 * failed write when it is wrong; it never decides what the sensor's state is.
 */
import { stateBody } from '../domain/bounds.js';
import { isOutboxEmpty, type SensorState } from '../domain/state.js';
import { fromBody } from '../lib/state-store.js';

/** Bodies kept at most (characters, about their bytes); the oldest go first past it. */
export const MAX_RELEASED_BYTES = 16 * 1024 * 1024;

interface Entry {
  version: number;
  body: string;
  /** Processing time after which the entry is not used (the sweeper may have written the item). */
  usableUntil: number;
  bytes: number;
}

export class ReleasedStates {
  private readonly entries = new Map<string, Entry>();
  private readonly maxBytes: number;
  private heldBytes = 0;

  constructor(options: { maxBytes?: number } = {}) {
    this.maxBytes = options.maxBytes ?? MAX_RELEASED_BYTES;
  }

  /**
   * Remembers `state` as committed, released, at its version. A state with an outbox is
   * not kept: its next claim reads the item and delivers the outbox from there, as always.
   */
  remember(state: SensorState, usableUntil: number): void {
    this.forget(state.sensorId);
    if (state.claim !== undefined || !isOutboxEmpty(state.outbox)) return;
    const body = stateBody(state);
    const bytes = body.length + state.sensorId.length;
    if (bytes > this.maxBytes) return;
    this.entries.set(state.sensorId, { version: state.version, body, usableUntil, bytes });
    this.heldBytes += bytes;
    for (const [id] of this.entries) {
      if (this.heldBytes <= this.maxBytes) break;
      this.forget(id);
    }
  }

  /** The sensor's released state, if kept and still usable at `nowMs`; it is kept no longer. */
  take(sensorId: string, nowMs: number): SensorState | undefined {
    const e = this.entries.get(sensorId);
    if (!e) return undefined;
    this.forget(sensorId);
    return nowMs < e.usableUntil ? fromBody(sensorId, e.version, e.body) : undefined;
  }

  forget(sensorId: string): void {
    const e = this.entries.get(sensorId);
    if (!e) return;
    this.entries.delete(sensorId);
    this.heldBytes -= e.bytes;
  }
}
