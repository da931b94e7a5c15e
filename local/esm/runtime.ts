/**
 * What the shard workers of the local event source mapping share with it (`Runtime`), and
 * the small helpers both use: error names, waits that end when the mapping stops, the
 * backoff of its own AWS calls, and the invocation timeout.
 */
import type { EventSourceConfig } from '../../functions/domain/config.js';
import { type BackoffPolicy, backoffDelay } from '../../functions/lib/retry.js';
import { InvocationTimeoutError } from './errors.js';
import type { LocalMappingOptions, MappingStats } from './mapping.js';
import { CALL_RETRY } from './policy.js';
import { Signal } from './progress.js';
import type { FunctionIdentity } from './records.js';

export const THROTTLING_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'ThrottlingException',
  'KMSThrottlingException',
]);

export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Waits `ms`, or less if the mapping stops; never rejects. */
export function pause(ms: number, abort: AbortSignal): Promise<void> {
  return new Signal().wait(ms, abort);
}

/** Backoff with jitter for the mapping's own Kinesis and SQS calls. */
export function callBackoffMs(failures: number): number {
  return backoffDelay(failures, CALL_RETRY);
}

/** Everything in MappingStats but the per-shard view, which is computed on demand. */
export type Counters = Omit<MappingStats, 'shards'>;

/** What the shard workers share with the mapping. */
export interface Runtime {
  readonly opts: LocalMappingOptions;
  readonly settings: EventSourceConfig;
  readonly stats: Counters;
  readonly abort: AbortSignal;
  readonly idlePollMs: number;
  readonly timeoutMs: number;
  readonly batchRetry: BackoffPolicy;
  readonly maxPayloadBytes: number;
  readonly streamArn: string;
  readonly fn: FunctionIdentity;
  /** Notified whenever a shard is drained (children wait on it). */
  readonly shardDrained: Signal;
  stopping(): boolean;
  /** When the producer said it is done (`inputComplete()`), if it did. */
  inputCompleteAt(): number | undefined;
  log(line: string): void;
  /** A parent is done when it is drained, or unknown (trimmed from the stream). */
  isShardDone(shardId: string): boolean;
  onShardEnded(shardId: string): void;
  onShardDrained(shardId: string): void;
  fail(err: unknown): void;
}

export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InvocationTimeoutError(ms)), ms);
  });
  // A timed-out invocation may still settle later; its outcome is ignored, never unhandled.
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
