/**
 * The state a Lambda tumbling window carries between invocations of one shard
 * (docs/SEMANTICS.md "Carried state"): each sensor's state as its stored body plus the
 * version of the item it was last written at, under the id of this carried state, which
 * names it in the claims it writes on the items (SensorState.claim).
 *
 * Lambda keeps at most 1 MB per shard and ends the window early past it; the handler
 * keeps the JSON under CARRIED_STATE_BUDGET by checkpointing its largest sensors out.
 */
import { randomUUID } from 'node:crypto';
import { stateBody } from '../domain/bounds.js';
import type { SensorState } from '../domain/state.js';
import { emptyOutbox } from '../domain/state.js';
import { fromBody } from '../lib/state-store.js';

/** Bytes of carried JSON the handler keeps under (Lambda's limit: 1 MB per shard). */
export const CARRIED_STATE_BUDGET = 900_000;

/**
 * A claim is a lease: live until its window's end (or, when the shard is behind, the time
 * of the invocation) plus this grace.
 */
export const CLAIM_GRACE_MS = 300_000;
/** A carried sensor whose claim ends sooner than this is renewed before it is folded (CS6). */
export const CLAIM_RENEW_BEFORE_MS = CLAIM_GRACE_MS / 2;
/**
 * How long past its end the idle sweeper waits before it takes a claim over (CS6):
 * Lambda's longest invocation, so no invocation that found the claim live (or renewed it)
 * still runs by then.
 */
export const CLAIM_TAKEOVER_MS = 900_000;
/** A claim the idle sweeper may take over at `nowMs` (CS6). */
export function isClaimExpired(state: SensorState, nowMs: number): boolean {
  return state.claim !== undefined && state.claim.until + CLAIM_TAKEOVER_MS < nowMs;
}

/**
 * Most records a catch-up reads back from one shard before its sensors fail (CS5, CS6):
 * above a window of a full shard (1,000 records a second for 900 s). The catch-up keeps
 * only the claimed sensors' records (catch-up.ts), so memory follows those, not this.
 */
export const MAX_CATCH_UP_RECORDS = 2_000_000;

/** Format of the carried JSON; another value is not ours and starts a fresh state. */
const FORMAT = 'windowpane/1';

interface CarriedEntry {
  /** The version of the item as last written (the fence of the next write). */
  v: number;
  /** stateBody of the sensor's state. */
  b: string;
  /**
   * This carried state's claim on the item, as written there (`from` and `until`; `by` is
   * this state's id and the shard its shard). The body leaves the claim out, and every
   * later write of the item must keep it (CS2).
   */
  c?: { f: string; u: number };
  /** Processing time of the sensor's last batch (CS8); absent in JSON of an older release. */
  t?: number;
  /**
   * When the sensor is handed back to the idle sweeper if no batch has it by then (CS8), on
   * the batch clock: the latest arrival time of a batch's records.
   */
  d?: number;
}

/**
 * When a carried sensor last in a batch of clock `clock` (its records' latest arrival) is
 * handed back to the idle sweeper, on that clock (CS8).
 */
export function handBackAt(state: SensorState, clock: number, idleTimeoutMs: number): number | undefined {
  const idle = Object.keys(state.windows).length > 0 ? clock + idleTimeoutMs : undefined;
  if (state.sd === undefined) return idle;
  return idle === undefined ? state.sd : Math.min(idle, state.sd);
}

export interface CarriedJson {
  f: typeof FORMAT;
  id: string;
  shard: string;
  s: Record<string, CarriedEntry>;
}

export class CarriedStates {
  /** This carried state's id: `<shardId>/<random>`, written in the claims it makes. */
  readonly id: string;
  readonly shardId: string;
  /** No state came with the invocation (a new window, or a state lost). */
  readonly fresh: boolean;
  private readonly entries: Map<string, CarriedEntry>;

  private constructor(id: string, shardId: string, fresh: boolean, entries: Map<string, CarriedEntry>) {
    this.id = id;
    this.shardId = shardId;
    this.fresh = fresh;
    this.entries = entries;
  }

  /** The event's `state`: ours for this shard, or a fresh one (`{}`, absent, or another shard's). */
  static from(state: unknown, shardId: string): CarriedStates {
    const s = state as Partial<CarriedJson> | undefined;
    if (
      s &&
      s.f === FORMAT &&
      s.shard === shardId &&
      typeof s.id === 'string' &&
      s.s &&
      typeof s.s === 'object'
    ) {
      return new CarriedStates(s.id, shardId, false, new Map(Object.entries(s.s)));
    }
    return new CarriedStates(`${shardId}/${randomUUID()}`, shardId, true, new Map());
  }

  get size(): number {
    return this.entries.size;
  }

  has(sensorId: string): boolean {
    return this.entries.has(sensorId);
  }

  sensorIds(): string[] {
    return [...this.entries.keys()];
  }

  get(sensorId: string): SensorState | undefined {
    const e = this.entries.get(sensorId);
    if (!e) return undefined;
    const state = fromBody(sensorId, e.v, e.b);
    if (e.c) state.claim = { by: this.id, shardId: this.shardId, from: e.c.f, until: e.c.u };
    return state;
  }

  /**
   * Carries `state` as it is. Its outbox goes with it only when it was committed with it
   * (the commit's outbox may still be undelivered); a fold that was not committed had its
   * effects delivered before this, so its outbox is left out.
   */
  set(
    state: SensorState,
    committedOutbox: boolean,
    seen?: { at: number; handBackAt: number | undefined },
  ): void {
    const carried = committedOutbox ? state : { ...state, outbox: emptyOutbox() };
    const claim = state.claim?.by === this.id ? { c: { f: state.claim.from, u: state.claim.until } } : {};
    const before = this.entries.get(state.sensorId);
    const t = seen ? seen.at : before?.t;
    const d = seen ? seen.handBackAt : before?.d;
    this.entries.set(state.sensorId, {
      v: state.version,
      b: stateBody(carried),
      ...claim,
      ...(t !== undefined ? { t } : {}),
      ...(d !== undefined ? { d } : {}),
    });
  }

  /** Processing time of the sensor's last batch, when known (CS8). */
  seenAt(sensorId: string): number | undefined {
    return this.entries.get(sensorId)?.t;
  }

  /** Carried sensors due to be handed back to the idle sweeper by a batch of clock `clock` (CS8). */
  dueForHandBack(clock: number): string[] {
    const due: string[] = [];
    for (const [id, e] of this.entries) if (e.d !== undefined && e.d <= clock) due.push(id);
    return due;
  }

  /** When this carried state's claim on the sensor ends; undefined when it holds none. */
  claimUntil(sensorId: string): number | undefined {
    return this.entries.get(sensorId)?.c?.u;
  }

  delete(sensorId: string): void {
    this.entries.delete(sensorId);
  }

  /** UTF-8 bytes of a sensor's entry in the JSON (its body dominates). */
  entryBytes(sensorId: string): number {
    const e = this.entries.get(sensorId);
    return e ? Buffer.byteLength(e.b, 'utf8') + sensorId.length + 16 : 0;
  }

  toJSON(): CarriedJson {
    return { f: FORMAT, id: this.id, shard: this.shardId, s: Object.fromEntries(this.entries) };
  }

  bytes(): number {
    return Buffer.byteLength(JSON.stringify(this.toJSON()), 'utf8');
  }
}
