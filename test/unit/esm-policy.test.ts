/**
 * The local event source mapping's retry, bisect and discard decision, and its record-age
 * rule (local/esm/policy.ts), against Lambda's documented behaviour for Kinesis sources.
 */
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../functions/lib/retry.js';
import {
  batchRetryPolicy,
  CALL_RETRY,
  expiredRecords,
  type InvocationOutcome,
  type RetrySettings,
  settleBatch,
} from '../../local/esm/index.js';

const ok: InvocationOutcome = { kind: 'ok' };
const threw: InvocationOutcome = { kind: 'error', functionError: true, message: 'boom' };
const badAnswer: InvocationOutcome = { kind: 'error', functionError: false, message: 'bad' };
const partialAt = (i: number): InvocationOutcome => ({
  kind: 'partial',
  firstFailedIndex: i,
  failedItems: 1,
});

const settings = (over: Partial<RetrySettings> = {}): RetrySettings => ({
  bisectBatchOnFunctionError: false,
  retryAttempts: 3,
  ...over,
});

describe('settleBatch: what happens to a batch after an invocation', () => {
  it('a success completes the batch, whatever the retries so far', () => {
    expect(settleBatch({ outcome: ok, records: 5, retries: 0, settings: settings() })).toEqual({
      action: 'done',
    });
    expect(settleBatch({ outcome: ok, records: 1, retries: 9, settings: settings() })).toEqual({
      action: 'done',
    });
  });

  it('a partial failure completes the records before the first failed one and retries the rest, counting a retry', () => {
    expect(settleBatch({ outcome: partialAt(3), records: 5, retries: 0, settings: settings() })).toEqual({
      action: 'retry',
      done: 3,
      retries: 1,
    });
  });

  it('a partial failure is not bisected even with bisect on (Lambda retries from the returned record)', () => {
    const s = settings({ bisectBatchOnFunctionError: true });
    expect(settleBatch({ outcome: partialAt(2), records: 4, retries: 1, settings: s })).toEqual({
      action: 'retry',
      done: 2,
      retries: 2,
    });
  });

  it.each([
    ['a thrown error', threw],
    ['an unusable answer', badAnswer],
  ])('%s with bisect on splits the batch, left half first, without counting a retry', (_what, outcome) => {
    const s = settings({ bisectBatchOnFunctionError: true });
    expect(settleBatch({ outcome, records: 5, retries: 2, settings: s })).toEqual({
      action: 'bisect',
      at: 3,
    });
    expect(settleBatch({ outcome, records: 2, retries: 0, settings: s })).toEqual({
      action: 'bisect',
      at: 1,
    });
  });

  it('a failing single record cannot be split: it is retried', () => {
    const s = settings({ bisectBatchOnFunctionError: true });
    expect(settleBatch({ outcome: threw, records: 1, retries: 0, settings: s })).toEqual({
      action: 'retry',
      done: 0,
      retries: 1,
    });
  });

  it('with bisect off a failing batch is retried whole', () => {
    expect(settleBatch({ outcome: threw, records: 8, retries: 0, settings: settings() })).toEqual({
      action: 'retry',
      done: 0,
      retries: 1,
    });
  });

  it('after retryAttempts retries the remaining records are discarded (RetryAttemptsExhausted)', () => {
    const s = settings({ retryAttempts: 2 });
    expect(settleBatch({ outcome: threw, records: 1, retries: 1, settings: s })).toMatchObject({
      action: 'retry',
      retries: 2,
    });
    expect(settleBatch({ outcome: threw, records: 1, retries: 2, settings: s })).toEqual({
      action: 'discard',
      done: 0,
      retries: 3,
      condition: 'RetryAttemptsExhausted',
    });
    expect(settleBatch({ outcome: partialAt(1), records: 3, retries: 2, settings: s })).toEqual({
      action: 'discard',
      done: 1,
      retries: 3,
      condition: 'RetryAttemptsExhausted',
    });
  });

  it('retryAttempts 0 discards at the first failure; -1 never gives up', () => {
    expect(
      settleBatch({ outcome: threw, records: 1, retries: 0, settings: settings({ retryAttempts: 0 }) }),
    ).toMatchObject({ action: 'discard', retries: 1 });
    expect(
      settleBatch({ outcome: threw, records: 1, retries: 10_000, settings: settings({ retryAttempts: -1 }) }),
    ).toMatchObject({ action: 'retry', retries: 10_001 });
  });
});

describe('backoff of the mapping (functions/lib/retry.ts policies)', () => {
  it('a failed batch waits about the base delay first, doubling up to the maximum, never at once', () => {
    const policy = batchRetryPolicy(100, 2_000);
    const low = () => 0;
    const high = () => 0.999_999;
    expect(backoffDelay(1, policy, high)).toBeCloseTo(100, 3);
    expect(backoffDelay(1, policy, low)).toBe(50);
    expect(backoffDelay(2, policy, high)).toBeCloseTo(200, 3);
    expect(backoffDelay(5, policy, high)).toBeCloseTo(1_600, 2);
    expect(backoffDelay(6, policy, high)).toBeCloseTo(2_000, 2);
    expect(backoffDelay(60, policy, low)).toBe(1_000);
  });

  it('its own Kinesis and SQS calls back off from 100 ms to 2 s', () => {
    expect(backoffDelay(1, CALL_RETRY, () => 0.999_999)).toBeCloseTo(100, 3);
    expect(backoffDelay(20, CALL_RETRY, () => 0)).toBe(1_000);
    expect(CALL_RETRY.maxAttempts).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('expiredRecords: maxRecordAgeSeconds', () => {
  const now = 1_000_000;
  it('names the records that arrived before now - maxRecordAgeSeconds', () => {
    expect(expiredRecords([now - 61_000, now - 59_000, now - 60_001, now], now, 60)).toEqual([0, 2]);
  });
  it('a record exactly at the limit is still young enough', () => {
    expect(expiredRecords([now - 60_000], now, 60)).toEqual([]);
  });
  it('-1 means no limit', () => {
    expect(expiredRecords([0, 1, 2], now, -1)).toEqual([]);
  });
});
