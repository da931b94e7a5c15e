/**
 * Lambda's tumbling windows (`TumblingWindowInSeconds`, config
 * `eventSource.tumblingWindowSeconds`) for one lane of the local event source mapping.
 * From the Lambda developer guide, "Using Lambda with Amazon Kinesis", tumbling windows:
 *
 * - Windows are aligned to the epoch and a record belongs to the window of its
 *   ApproximateArrivalTimestamp; a batch never spans two windows (lane.ts cuts it).
 * - Every invocation carries `window {start, end}` (ISO, seconds), the `state` the previous
 *   successful invocation of the window returned (`{}` at its start), `shardId`,
 *   `eventSourceARN`, `isFinalInvokeForWindow` and `isWindowTerminatedEarly`.
 * - "The Lambda function response must contain a state property. If the response does not
 *   contain a state property, Lambda considers this a failed invocation." A failed
 *   invocation is retried (or bisected) as any other, with the state from before: the state
 *   advances only with the checkpoint (a partial failure moves both).
 * - At the end of a window the function is invoked once more with no records and
 *   `isFinalInvokeForWindow: true`; "if the invocation fails, your Lambda function
 *   suspends further processing until a successful invocation". The window ends when the
 *   shard's next record belongs to a later window, or when its end passed on the wall
 *   clock with nothing more read; locally also as soon as the producer is done
 *   (`inputComplete()`) and the shard was read to its tip, so a replay need not wait out
 *   the window.
 * - "Your state can be a maximum of 1 MB per shard. If it exceeds that size, Lambda
 *   terminates the window early": the next invocation is the final one, with
 *   `isWindowTerminatedEarly: true` and the oversized state, and the same window then
 *   continues with a fresh state.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { backoffDelay } from '../../functions/lib/retry.js';
import { MappingStoppedSignal } from './errors.js';
import type { QueuedRecord } from './lane.js';
import type { InvocationOutcome } from './response.js';
import { errorText, pause, type Runtime } from './runtime.js';

/** Lambda's limit of a tumbling window's state, per shard. */
export const MAX_WINDOW_STATE_BYTES = 1024 * 1024;

export interface TimeWindowFields {
  window: { start: string; end: string };
  state: unknown;
  shardId: string;
  eventSourceARN: string;
  isFinalInvokeForWindow: boolean;
  isWindowTerminatedEarly: boolean;
}

export type TimeWindowEvent = KinesisStreamEvent & TimeWindowFields;

/** What the `windowStateFault` hook is asked about: an invocation in the middle of a window. */
export interface WindowStateFaultInfo {
  shardId: string;
  window: { start: string; end: string };
  /** Successful invocations of the window so far (at least 1: mid-window only). */
  invocations: number;
}

/** Fault hooks of the mapping (chaos and tests): decisions only, the mapping applies them. */
export interface MappingFaults {
  /** True: the invocation is handed `{}` instead of the window's state (a state lost mid-window). */
  windowStateFault?: (info: WindowStateFaultInfo) => boolean;
}

/** Start (epoch ms) of the window of `arrivalMs`, windows of `seconds` aligned to the epoch. */
export function windowStartMs(arrivalMs: number, seconds: number): number {
  const size = seconds * 1000;
  return Math.floor(arrivalMs / size) * size;
}

/** ISO 8601 as Lambda writes window bounds: `2020-12-09T07:04:00Z`. */
function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

type CallResult = { ok: true; response: unknown } | { ok: false; error: unknown };

export class TumblingWindow {
  private startMs: number | undefined;
  private state: unknown = {};
  private invocations = 0;
  private terminatedEarly = false;
  private readonly sizeMs: number;

  constructor(
    private readonly rt: Runtime,
    private readonly shardId: string,
  ) {
    this.sizeMs = rt.settings.tumblingWindowSeconds * 1000;
  }

  /** The state the handler last returned for the open window (read-only: not a copy). */
  get currentState(): unknown {
    return this.state;
  }

  /** Start of the window a record belongs to (lane.ts cuts batches where it changes). */
  readonly windowOf = (r: QueuedRecord): number => windowStartMs(r.arrivalMs, this.sizeMs / 1000);

  /**
   * The open window must end now with its final invocation: terminated early, the shard's
   * next record is of another window, or nothing more is queued and the window's end
   * passed (or the producer is done and the shard read to its tip). A shard read to its
   * end (a closed parent) gets no final invocation for its last window, as on AWS: the
   * handler's catch-up (SEMANTICS.md CS5) reads the parent back from the claims instead.
   */
  finalDue(
    next: QueuedRecord | undefined,
    now: number,
    shard: { readToEnd: boolean; inputExhausted: boolean },
  ): boolean {
    if (this.startMs === undefined) return false;
    if (this.terminatedEarly) return true;
    if (next) return this.windowOf(next) !== this.startMs;
    if (shard.readToEnd) return false;
    return now >= this.startMs + this.sizeMs || shard.inputExhausted;
  }

  /** How long a lane with nothing queued may wait before its open window ends. */
  waitMs(now: number): number | undefined {
    return this.startMs === undefined ? undefined : Math.max(0, this.startMs + this.sizeMs - now);
  }

  /** The window fields of a batch's event (opening the window of its first record). */
  batchFields(first: QueuedRecord): TimeWindowFields {
    this.startMs ??= this.windowOf(first);
    let state = this.state;
    if (this.invocations > 0) {
      const info = { shardId: this.shardId, window: this.bounds(), invocations: this.invocations };
      if (this.rt.opts.faults?.windowStateFault?.(info)) {
        this.rt.stats.windowStatesDropped++;
        this.rt.log(`${this.shardId}: fault: the state of window ${info.window.start} is dropped`);
        state = {};
      }
    }
    return this.fields(state, false);
  }

  /**
   * A batch's outcome once the response's state is looked at: without a state object it
   * is a failure (the state stays); otherwise the state advances with the checkpoint.
   */
  settle(outcome: InvocationOutcome, response: unknown): InvocationOutcome {
    if (outcome.kind === 'error') return outcome;
    const state = stateOf(response);
    if (state === undefined) return NO_STATE;
    this.state = state;
    this.invocations++;
    const bytes = Buffer.byteLength(JSON.stringify(state), 'utf8');
    if (bytes > MAX_WINDOW_STATE_BYTES && !this.terminatedEarly) {
      this.terminatedEarly = true;
      this.rt.stats.windowsTerminatedEarly++;
      this.rt.log(
        `${this.shardId}: window ${this.bounds().start} terminated early (state of ${bytes} bytes)`,
      );
    }
    return outcome;
  }

  /** The final invocation of the open window, retried until it succeeds or the mapping stops. */
  async invokeFinal(call: (event: TimeWindowEvent) => Promise<CallResult>): Promise<void> {
    const { rt } = this;
    for (let retries = 0; ; retries++) {
      if (rt.stopping()) throw new MappingStoppedSignal();
      const event: TimeWindowEvent = { Records: [], ...this.fields(this.state, true) };
      const result = await call(event);
      const failure = !result.ok
        ? errorText(result.error)
        : stateOf(result.response) === undefined
          ? NO_STATE.message
          : undefined;
      if (failure === undefined) {
        rt.stats.finalInvokes++;
        this.startMs = undefined;
        this.state = {};
        this.invocations = 0;
        this.terminatedEarly = false;
        return;
      }
      rt.stats.errors++;
      rt.stats.retries++;
      rt.log(`${this.shardId}: final invocation of window ${event.window.start} failed: ${failure}`);
      await pause(backoffDelay(retries + 1, rt.batchRetry), rt.abort);
    }
  }

  private bounds(): { start: string; end: string } {
    const start = this.startMs ?? 0;
    return { start: iso(start), end: iso(start + this.sizeMs) };
  }

  private fields(state: unknown, final: boolean): TimeWindowFields {
    return {
      window: this.bounds(),
      // A fresh copy per invocation, as Lambda deserializes one: the handler may mutate it.
      state: structuredClone(state),
      shardId: this.shardId,
      eventSourceARN: this.rt.streamArn,
      isFinalInvokeForWindow: final,
      isWindowTerminatedEarly: final && this.terminatedEarly,
    };
  }
}

const NO_STATE = {
  kind: 'error',
  functionError: false,
  message: 'the response has no state object (a tumbling window needs one)',
} as const satisfies InvocationOutcome;

function stateOf(response: unknown): object | undefined {
  const state = (response as { state?: unknown } | null | undefined)?.state;
  return typeof state === 'object' && state !== null ? state : undefined;
}
