/**
 * Puts records on a Kinesis stream in batches, in order, with bounded memory: what the
 * local MQTT bridge (and anything else that receives records one at a time) needs.
 *
 * - Batching: PutRecords of up to 500 records / 5 MiB (the API's limits), sent when a
 *   batch is full or `lingerMs` after its first record.
 * - Order: one request in flight, so a batch never overtakes an earlier one. Entries a
 *   response reports failed (throttled) are sent again, only them and in their order, as
 *   the replay does (local/put-in-order.ts): sending again entries that had
 *   succeeded would put second copies on the stream, new readings to the handler. A
 *   failed entry whose key had a later entry succeed in the same request lands after it;
 *   Kinesis cannot undo that, so such keys are counted (`reorderedKeys`).
 * - Backpressure: `enqueue` resolves once the record is buffered; while `maxBuffered`
 *   records wait, it waits too, which slows the producer instead of growing the buffer.
 * - Nothing dropped: a request that keeps failing after BACKOFF.failedEntries keeps its
 *   records at the head of the buffer, is reported to `onError`, and is tried again
 *   after the policy's longest delay. `close()` sends everything and rejects, naming the
 *   count, if it cannot.
 */
import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { WindowpaneError } from '../../functions/domain/errors.js';
import { BACKOFF, type BackoffPolicy, backoffDelay, sleep } from '../../functions/lib/retry.js';
import { PUT_RECORDS_MAX_BYTES, PUT_RECORDS_MAX_ENTRIES } from '../put-in-order.js';

export interface ForwardRecord {
  partitionKey: string;
  data: Uint8Array;
}

export interface KinesisForwarderOptions {
  kinesis: Pick<KinesisClient, 'send'>;
  streamName: string;
  /** Longest a record waits for its batch to fill. */
  lingerMs?: number;
  /** Records buffered before `enqueue` waits. */
  maxBuffered?: number;
  retry?: BackoffPolicy;
  onError?: (error: ForwardError) => void;
}

export interface ForwarderStats {
  forwarded: number;
  buffered: number;
  /** Largest number of records buffered at once. */
  maxBuffered: number;
  requests: number;
  /** Entries PutRecords reported failed and that were sent again. */
  retriedEntries: number;
  /** Partition keys whose order a partial failure changed (see the module header). */
  reorderedKeys: number;
}

export class ForwardError extends WindowpaneError {}

export class ForwarderClosedError extends WindowpaneError {
  constructor() {
    super('the Kinesis forwarder is closed');
  }
}

export class KinesisForwarder {
  private readonly kinesis: Pick<KinesisClient, 'send'>;
  private readonly streamName: string;
  private readonly lingerMs: number;
  private readonly capacity: number;
  private readonly retry: BackoffPolicy;
  private readonly onError: (error: ForwardError) => void;
  private buffer: ForwardRecord[] = [];
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private closing = false;
  private readonly counts = { forwarded: 0, maxBuffered: 0, requests: 0, retriedEntries: 0 };
  private readonly reordered = new Set<string>();

  constructor(options: KinesisForwarderOptions) {
    this.kinesis = options.kinesis;
    this.streamName = options.streamName;
    this.lingerMs = options.lingerMs ?? 100;
    this.capacity = options.maxBuffered ?? 10_000;
    this.retry = options.retry ?? BACKOFF.failedEntries;
    this.onError = options.onError ?? (() => {});
  }

  get stats(): ForwarderStats {
    return { ...this.counts, buffered: this.buffer.length, reorderedKeys: this.reordered.size };
  }

  /** Buffers one record; waits while the buffer is full. */
  async enqueue(record: ForwardRecord): Promise<void> {
    while (this.buffer.length >= this.capacity && !this.closing) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.closing) throw new ForwarderClosedError();
    this.buffer.push(record);
    this.counts.maxBuffered = Math.max(this.counts.maxBuffered, this.buffer.length);
    if (this.buffer.length >= PUT_RECORDS_MAX_ENTRIES) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.lingerMs);
  }

  /** Sends everything buffered, then refuses new records. */
  async close(): Promise<void> {
    this.closing = true;
    for (const wake of this.waiters.splice(0)) wake();
    this.clearTimer();
    await this.sending;
    const failure = await this.drain();
    if (failure !== undefined) {
      throw new ForwardError(
        `${this.buffer.length} records were not put on ${this.streamName}: ${failure.message}`,
        {
          cause: failure,
        },
      );
    }
  }

  private kick(): void {
    this.clearTimer();
    if (this.sending !== undefined) return;
    this.sending = this.drain().then((failure) => {
      this.sending = undefined;
      if (failure !== undefined && !this.closing) {
        this.onError(
          new ForwardError(`PutRecords to ${this.streamName} failed: ${failure.message}`, { cause: failure }),
        );
        this.timer = setTimeout(() => this.kick(), this.retry.maxMs);
      } else if (this.buffer.length > 0 && !this.closing) {
        this.timer ??= setTimeout(() => this.kick(), this.lingerMs);
      }
    });
  }

  /**
   * Sends what is buffered: the first batch (full or not, since the linger expired or it
   * filled), then further batches while they are full, or all of them when closing.
   * Returns the failure that stopped it, if any.
   */
  private async drain(): Promise<Error | undefined> {
    let first = true;
    while (
      this.buffer.length > 0 &&
      (first || this.closing || this.buffer.length >= PUT_RECORDS_MAX_ENTRIES)
    ) {
      first = false;
      const batch = this.nextBatch();
      try {
        await this.put(batch);
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
      this.acknowledge(batch.length);
    }
    return undefined;
  }

  private nextBatch(): ForwardRecord[] {
    let bytes = 0;
    let n = 0;
    for (const r of this.buffer) {
      const size = r.data.length + Buffer.byteLength(r.partitionKey);
      if (n === PUT_RECORDS_MAX_ENTRIES || (n > 0 && bytes + size > PUT_RECORDS_MAX_BYTES)) break;
      bytes += size;
      n++;
    }
    return this.buffer.slice(0, n);
  }

  /**
   * One batch, all of it; throws after the retry policy's attempts, with the records that
   * got through removed from the buffer and the ones that did not kept, in order.
   */
  private async put(batch: readonly ForwardRecord[]): Promise<void> {
    let pending = [...batch];
    for (let attempt = 1; ; attempt++) {
      this.counts.requests++;
      const entries: PutRecordsRequestEntry[] = pending.map((r) => ({
        PartitionKey: r.partitionKey,
        Data: r.data,
      }));
      const out = await this.kinesis.send(
        new PutRecordsCommand({ StreamName: this.streamName, Records: entries }),
      );
      const results = out.Records ?? [];
      const failed: ForwardRecord[] = [];
      const failedKeys = new Set<string>();
      let lastError = '';
      pending.forEach((r, i) => {
        const result = results[i];
        if (result === undefined || result.ErrorCode !== undefined) {
          failed.push(r);
          failedKeys.add(r.partitionKey);
          lastError = result?.ErrorCode ?? 'no result for the entry';
        } else if (failedKeys.has(r.partitionKey)) {
          this.reordered.add(r.partitionKey);
        }
      });
      if (failed.length === 0) return;
      if (attempt >= this.retry.maxAttempts) {
        // Every entry of the batch that is not failing now got through in some attempt.
        const failing = new Set(failed);
        this.forwardedOutOfOrder(new Set(batch.filter((r) => !failing.has(r))));
        throw new Error(`${failed.length} records still failing after ${attempt} tries (${lastError})`);
      }
      this.counts.retriedEntries += failed.length;
      pending = failed;
      await sleep(backoffDelay(attempt, this.retry));
    }
  }

  /** Removes records that reached the stream from wherever they are in the buffer. */
  private forwardedOutOfOrder(sent: ReadonlySet<ForwardRecord>): void {
    if (sent.size === 0) return;
    this.buffer = this.buffer.filter((r) => !sent.has(r));
    this.counts.forwarded += sent.size;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** The first `n` buffered records are on the stream. */
  private acknowledge(n: number): void {
    this.buffer.splice(0, n);
    this.counts.forwarded += n;
    for (const wake of this.waiters.splice(0)) wake();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
