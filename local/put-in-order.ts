/**
 * PutRecords in file order (the replay, `npm start`'s producer, the tests): one request at
 * a time, only failed entries sent again, and the request size adapted to how fast the
 * stream answers.
 */
import {
  type KinesisClient,
  PutRecordsCommand,
  type PutRecordsCommandOutput,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import { WindowpaneError } from '../functions/domain/errors.js';
import { BACKOFF, backoffDelay, sleep as defaultSleep } from '../functions/lib/retry.js';
import type { ReplayRecord } from './replay-input.js';

/** Records could not be put on the stream (the request failed, or entries kept failing). */
export class ReplaySendError extends WindowpaneError {}

/** Kinesis limits (PutRecords API reference): 500 records and 5 MiB a request. */
export const PUT_RECORDS_MAX_ENTRIES = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;

export interface SendResult {
  /** `<shardId>:<sequenceNumber>` of every record, by input line (index = line - 1). */
  ids: string[];
  /** Entries sent again after PutRecords reported them failed. */
  retried: number;
  /**
   * Keys whose order a partial failure broke: an entry failed while a later entry of the
   * same key in the same request succeeded. Kinesis cannot undo that, so it is reported.
   */
  reorderedKeys: string[];
}

export interface SendOptions {
  /**
   * Attempts of a failed entry before the replay fails (default 20, more than
   * BACKOFF.failedEntries' 9: a replay cannot hand its records to anyone else, and a
   * throttled stream recovers; the delays follow that policy).
   */
  maxAttempts?: number;
  onProgress?: (sent: number) => void;
  sleep?: (ms: number) => Promise<void>;
  /** Cancels the request in flight (shutdown must not wait for a stream that stopped answering). */
  abortSignal?: AbortSignal;
  /** The clock that times each request (tests). */
  now?: () => number;
}

/**
 * A PutRecords answered slower than this halves the next request's entries (down to
 * `SEND_MIN_ENTRIES`); one answered in under a fifth of it doubles them (up to the API's
 * 500). kinesis-local's cost per record grows with the records already on the shard (a
 * request of 500 took 0.5 s on an empty shard and 5.7 s on one of 15,000, on an idle
 * machine), so a one-sensor backlog on a busy machine would otherwise pass the SDK's 30 s
 * request timeout; real Kinesis answers in milliseconds and keeps the 500.
 */
export const SEND_TARGET_MS = 5_000;
export const SEND_MIN_ENTRIES = 25;

/**
 * PutRecords in file order: one request at a time (so a later request never overtakes an
 * earlier one), at most 500 entries and 5 MiB each, fewer while the stream answers slowly
 * (`SEND_TARGET_MS`). Entries a response reports failed
 * (throttled, internal error) are sent again, only them and in their original order: sending
 * again entries that had succeeded would put a second copy of them on the stream, with new
 * sequence numbers the handler cannot recognise, and count those readings twice.
 */
export async function putRecordsInOrder(
  kinesis: KinesisClient,
  streamName: string,
  records: readonly ReplayRecord[],
  opts: SendOptions = {},
): Promise<SendResult> {
  const maxAttempts = opts.maxAttempts ?? 20;
  const sleep = opts.sleep ?? defaultSleep;
  const ids: string[] = new Array(records.length);
  const reordered = new Set<string>();
  const now = opts.now ?? Date.now;
  let retried = 0;
  let sent = 0;
  let i = 0;
  let limit = PUT_RECORDS_MAX_ENTRIES;
  while (i < records.length) {
    let bytes = 0;
    const chunk: ReplayRecord[] = [];
    while (i < records.length && chunk.length < limit) {
      const r = records[i]!;
      const size = r.data.byteLength + Buffer.byteLength(r.partitionKey);
      if (chunk.length > 0 && bytes + size > PUT_RECORDS_MAX_BYTES) break;
      chunk.push(r);
      bytes += size;
      i++;
    }
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const entries: PutRecordsRequestEntry[] = pending.map((r) => ({
        PartitionKey: r.partitionKey,
        Data: r.data,
      }));
      let out: PutRecordsCommandOutput;
      try {
        const started = now();
        out = await kinesis.send(
          new PutRecordsCommand({ StreamName: streamName, Records: entries }),
          opts.abortSignal ? { abortSignal: opts.abortSignal } : {},
        );
        const took = now() - started;
        if (took > SEND_TARGET_MS) limit = Math.max(SEND_MIN_ENTRIES, Math.floor(limit / 2));
        else if (took < SEND_TARGET_MS / 5) limit = Math.min(PUT_RECORDS_MAX_ENTRIES, limit * 2);
      } catch (err) {
        // The SDK already retried throttling and transient errors of the whole request.
        throw new ReplaySendError(
          `PutRecords to ${streamName} failed at line ${pending[0]!.line}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const results = out.Records ?? [];
      if (results.length !== pending.length) {
        throw new ReplaySendError(
          `PutRecords answered ${results.length} results for ${pending.length} records`,
        );
      }
      const failed: ReplayRecord[] = [];
      const failedKeys = new Set<string>();
      let lastError = '';
      results.forEach((res, k) => {
        const r = pending[k]!;
        if (res.ErrorCode) {
          failed.push(r);
          failedKeys.add(r.partitionKey);
          lastError = `${res.ErrorCode}: ${res.ErrorMessage ?? ''}`;
        } else {
          if (failedKeys.has(r.partitionKey)) reordered.add(r.partitionKey);
          ids[r.line - 1] = `${res.ShardId}:${res.SequenceNumber}`;
          sent++;
        }
      });
      opts.onProgress?.(sent);
      if (failed.length === 0) break;
      if (attempt >= maxAttempts) {
        throw new ReplaySendError(
          `${failed.length} record(s) from line ${failed[0]!.line} still failed after ${attempt} attempts (${lastError})`,
        );
      }
      retried += failed.length;
      pending = failed;
      await sleep(backoffDelay(attempt, BACKOFF.failedEntries));
    }
  }
  return { ids, retried, reorderedKeys: [...reordered] };
}
