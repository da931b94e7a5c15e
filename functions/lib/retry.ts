/**
 * The one way windowpane waits and retries (STYLE.md "One way to wait and retry"): named
 * backoff policies and one delay formula. The AWS SDK's own retries already cover
 * throttling and 5xx of a single request; these policies are for what the SDK does not
 * retry: keys a batch call left unprocessed, entries a PutRecords / SendMessageBatch
 * reported failed, optimistic-concurrency conflicts, and polling.
 */

export interface BackoffPolicy {
  /** Delay ceiling of the first retry; doubles with every further attempt. */
  baseMs: number;
  /** The ceiling never grows past this. */
  maxMs: number;
  /**
   * `full`: a uniform delay in [0, ceiling) (AWS Architecture Blog, "Exponential Backoff
   * and Jitter": the fewest total calls under contention). `equal`: [ceiling/2, ceiling),
   * which never retries at once (for conflicts, where an immediate retry meets the same writer).
   */
  jitter: 'full' | 'equal';
  /** Attempts before the caller gives up (the first try counts as attempt 1). */
  maxAttempts: number;
}

export const BACKOFF = {
  /** UnprocessedKeys / UnprocessedItems of BatchGetItem and BatchWriteItem. */
  batchLeftovers: { baseMs: 25, maxMs: 1_000, jitter: 'full', maxAttempts: 9 },
  /** Entries a PutRecords or SendMessageBatch reported failed (throttled). */
  failedEntries: { baseMs: 50, maxMs: 2_000, jitter: 'equal', maxAttempts: 9 },
  /** A conditional write lost to a concurrent writer: re-read, fold again. */
  conflict: { baseMs: 20, maxMs: 1_000, jitter: 'equal', maxAttempts: 6 },
  /** A GetRecords of a carried state's catch-up throttled by the shard's 5 reads/s. */
  read: { baseMs: 200, maxMs: 2_000, jitter: 'full', maxAttempts: 8 },
  /** A recovery tool's batch whose handler reported failed records, run again whole. */
  handlerRetry: { baseMs: 100, maxMs: 1_000, jitter: 'equal', maxAttempts: 3 },
  /** A replay's final flush taking over the claims whose takeover failed (flush.ts). */
  claimTakeover: { baseMs: 100, maxMs: 1_000, jitter: 'equal', maxAttempts: 3 },
} as const satisfies Record<string, BackoffPolicy>;

/**
 * The delay before retry number `retry` (1 for the first retry): the ceiling is
 * `min(maxMs, baseMs * 2^retry)`, then jittered as the policy says.
 */
export function backoffDelay(
  retry: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(retry, 0), 30));
  return policy.jitter === 'full' ? ceiling * random() : ceiling / 2 + (ceiling / 2) * random();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
