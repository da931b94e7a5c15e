/**
 * One lane of a shard (parallelization factor N gives each shard N lanes): the records
 * read for it, in shard order, cut into batches by count and payload size, and the
 * batch in progress with its bisected halves.
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import { Signal } from './progress.js';
import type { TumblingWindow } from './tumbling.js';

export interface QueuedRecord {
  /** Position in the shard (ShardProgress). */
  position: number;
  record: KinesisStreamRecord;
  arrivalMs: number;
  bytes: number;
  readAt: number;
}

/** Records that are invoked together, and what they went through. */
export interface PendingBatch {
  records: QueuedRecord[];
  /** Retries so far (bisected halves inherit the count of the batch they came from). */
  retries: number;
  /** Invocations that carried these records (the on-failure message's approximateInvokeCount). */
  invokes: number;
  bisected: boolean;
  lastRequestId?: string;
  lastThrew: boolean;
}

export class Lane {
  private items: QueuedRecord[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** The batch in progress first; bisected halves follow in order. */
  readonly pending: PendingBatch[] = [];
  readonly signal = new Signal();
  inFlight = false;

  /** With `tumblingWindowSeconds` > 0, the lane's window and its state (tumbling.ts). */
  constructor(readonly window?: TumblingWindow) {}

  get size(): number {
    return this.items.length - this.head;
  }

  /** The next record to be taken, if any. */
  get next(): QueuedRecord | undefined {
    return this.items[this.head];
  }

  get oldestReadAt(): number {
    return this.items[this.head]?.readAt ?? Date.now();
  }

  get idle(): boolean {
    return this.size === 0 && this.pending.length === 0 && !this.inFlight;
  }

  isFull(batchSize: number, maxBytes: number): boolean {
    return this.size >= batchSize || this.queuedBytes >= maxBytes;
  }

  push(record: QueuedRecord): void {
    this.items.push(record);
    this.queuedBytes += record.bytes;
  }

  /**
   * The next batch: up to `max` records, at most `maxBytes` as an event, at least one
   * record, and with a tumbling window only records of the first one's window.
   */
  take(max: number, maxBytes: number): QueuedRecord[] {
    const batch: QueuedRecord[] = [];
    const windowOf = this.window?.windowOf;
    const window = windowOf && this.next ? windowOf(this.next) : undefined;
    // `{"Records":[...]}` around the records.
    let bytes = 14;
    while (this.head < this.items.length && batch.length < max) {
      const next = this.items[this.head]!;
      if (batch.length > 0 && bytes + next.bytes > maxBytes) break;
      if (windowOf && windowOf(next) !== window) break;
      batch.push(next);
      bytes += next.bytes;
      this.queuedBytes -= next.bytes;
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }
}
