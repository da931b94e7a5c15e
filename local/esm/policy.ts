/**
 * What the local event source mapping does with a batch after an invocation, and which of
 * its records are too old to invoke: Lambda's rules as pure functions, no AWS, no timers.
 * From the Lambda developer guide, "Using Lambda with Amazon Kinesis" (error handling) and
 * "Reporting batch item failures":
 *
 * - success: the batch is done;
 * - a partial failure (`batchItemFailures`): the records before the failed one with the
 *   lowest sequence number are done, the rest is retried, and that counts as a retry;
 * - a function error with `bisectBatchOnFunctionError` and more than one record: the batch
 *   is split in two halves, left first, that inherit its retry count ("Splitting a batch
 *   does not count towards the retry quota");
 * - otherwise a retry, after exponential backoff, until `retryAttempts` retries were made
 *   (-1: never give up); then the records are discarded to the on-failure destination.
 *
 * The backoff delays use the project's one formula (functions/lib/retry.ts).
 */
import type { EventSourceConfig } from '../../functions/domain/config.js';
import type { BackoffPolicy } from '../../functions/lib/retry.js';
import type { InvocationOutcome } from './response.js';

export type RetrySettings = Pick<EventSourceConfig, 'bisectBatchOnFunctionError' | 'retryAttempts'>;

/** A batch after one invocation: `retries` counts the retries made before it. */
export interface SettleInput {
  outcome: InvocationOutcome;
  records: number;
  retries: number;
  settings: RetrySettings;
}

export type BatchDecision =
  /** Every record is done. */
  | { action: 'done' }
  /** Records [0, done) are done; [done, records) are invoked again after a delay. */
  | { action: 'retry'; done: number; retries: number }
  /** Records [0, done) are done; [done, records) go to the on-failure destination. */
  | { action: 'discard'; done: number; retries: number; condition: 'RetryAttemptsExhausted' }
  /** The batch becomes [0, at) and [at, records), in that order, each with the same retry count. */
  | { action: 'bisect'; at: number };

export function settleBatch(input: SettleInput): BatchDecision {
  const { outcome, records, settings } = input;
  if (outcome.kind === 'ok') return { action: 'done' };
  if (outcome.kind === 'error' && settings.bisectBatchOnFunctionError && records > 1) {
    return { action: 'bisect', at: Math.ceil(records / 2) };
  }
  const done = outcome.kind === 'partial' ? outcome.firstFailedIndex : 0;
  const retries = input.retries + 1;
  if (settings.retryAttempts >= 0 && retries > settings.retryAttempts) {
    return { action: 'discard', done, retries, condition: 'RetryAttemptsExhausted' };
  }
  return { action: 'retry', done, retries };
}

/**
 * Backoff between retries of a failed batch: the first retry waits about `baseMs`, each
 * further one twice as long, never more than `maxMs`. Equal jitter: never at once.
 */
export function batchRetryPolicy(baseMs: number, maxMs: number): BackoffPolicy {
  // backoffDelay's ceiling is baseMs * 2^retry: half the base gives `baseMs` for retry 1.
  return { baseMs: baseMs / 2, maxMs, jitter: 'equal', maxAttempts: Number.POSITIVE_INFINITY };
}

/**
 * Kinesis and SQS calls of the mapping itself (ListShards, GetRecords, GetShardIterator,
 * the on-failure SendMessage): retried without limit while the mapping runs, as Lambda's
 * poller does; throttling is expected, so equal jitter keeps pollers apart.
 */
export const CALL_RETRY: BackoffPolicy = {
  baseMs: 50,
  maxMs: 2_000,
  jitter: 'equal',
  maxAttempts: Number.POSITIVE_INFINITY,
};

/**
 * Positions of the records older than `maxRecordAgeSeconds` at `nowMs` (by their
 * approximate arrival time); -1 means no limit. Lambda discards them with condition
 * RecordAgeExceeded before invoking the rest.
 */
export function expiredRecords(
  arrivalsMs: readonly number[],
  nowMs: number,
  maxRecordAgeSeconds: number,
): number[] {
  if (maxRecordAgeSeconds < 0) return [];
  const cutoff = nowMs - maxRecordAgeSeconds * 1000;
  const out: number[] = [];
  arrivalsMs.forEach((arrival, i) => {
    if (arrival < cutoff) out.push(i);
  });
  return out;
}
