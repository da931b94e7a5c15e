/**
 * A local stand-in for Lambda's Kinesis event source mapping: it polls every shard of a
 * stream and invokes a handler exactly as Lambda would, with the settings of
 * `config.eventSource` (the object the CDK app gives the real mapping), so the local
 * cloud, the replay CLI and the tests run the real handler under Lambda's delivery rules.
 *
 *   const mapping = new LocalEventSourceMapping({ clients, streamName, settings, handler });
 *   mapping.start();
 *   await mapping.drain();   // everything put so far is processed or sent to the DLQ
 *   await mapping.stop();
 *
 * Semantics (Lambda developer guide, "Using Lambda with Amazon Kinesis" and "Reporting
 * batch item failures"; where the guide is silent, the choice is stated here):
 *
 * - Batching. A batch holds up to `batchSize` records of one shard and stays under the 6 MB
 *   invocation payload. With `maxBatchingWindowSeconds` > 0 a lane waits, from the arrival
 *   (here: the read) of its oldest queued record, up to that long for a full batch; a
 *   closed shard read to its end flushes at once, since nothing more can come.
 * - Starting position. Shards present at `start()` begin at `startingPosition`; shards
 *   that appear later (children of a reshard) begin at TRIM_HORIZON, or the records put
 *   between the reshard and their discovery would be lost.
 * - Parallelization factor N. Each shard has N lanes; a record goes to the lane
 *   `hash(partitionKey) mod N`, each lane runs one batch at a time in shard order, so each
 *   key is processed in order while up to N batches of the shard run at once. The shard's
 *   checkpoint (`ShardProgress`) only passes a record once every record before it is done.
 * - Function errors (a throw, a timeout, or a response Lambda treats as a complete failure:
 *   see `response.ts`). With `bisectBatchOnFunctionError` a failing batch of more than one
 *   record is split in two halves that are retried in order, left first; a split does not
 *   count as a retry ("Splitting a batch does not count towards the retry quota"), so the
 *   halves inherit the batch's retry count. A batch that cannot be split (one record, or
 *   bisect off) is retried with exponential backoff; after `retryAttempts` retries (-1:
 *   never give up) its records are discarded to the on-failure destination.
 * - Partial failures (`batchItemFailures`). Records before the failed one with the lowest
 *   sequence number are done; the retry carries exactly the remaining records of the batch
 *   and counts as a retry (with bisect on, Lambda "bisects at the returned sequence number
 *   and retries only the remaining records", which is the same thing).
 * - Record age. Before every invocation, records older than `maxRecordAgeSeconds`
 *   (approximateArrivalTimestamp; -1: no limit) are discarded to the on-failure
 *   destination with condition RecordAgeExceeded; the rest of the batch is invoked.
 * - Discarding sends Lambda's invocation record (`OnFailureMessage`) to the SQS queue,
 *   retrying until it is accepted, then skips the records. Without a queue the records are
 *   skipped with a log line, as Lambda does without a destination.
 * - Resharding. Shards are listed every `shardRefreshMs`. A child shard is read only once
 *   all its parents are drained: read until GetRecords returned no NextShardIterator
 *   (kinesis-local reports a closed shard's EndingSequenceNumber as 2^63-1, so that value
 *   is never compared against) and every record of theirs is done.
 * - Kinesis errors. Throttling (ProvisionedThroughputExceeded, LimitExceeded) and any other
 *   read error are retried with backoff; an expired iterator is renewed after the last
 *   record read, so nothing is skipped or read twice.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';
import type { EventSourceConfig } from '../../functions/domain/config.js';
import type { AwsClients } from '../../functions/lib/clients.js';
import { type BackoffPolicy, backoffDelay } from '../../functions/lib/retry.js';
import { batchRetryPolicy, CALL_RETRY, expiredRecords, settleBatch } from './policy.js';
import { ShardProgress, Signal } from './progress.js';
import {
  executionRoleArn,
  type FunctionIdentity,
  invocationContext,
  lambdaRecordBytes,
  laneOf,
  MAX_PAYLOAD_BYTES,
  type OnFailureCondition,
  onFailureMessage,
  parseStreamArn,
  type RecordSource,
  toLambdaRecord,
} from './records.js';
import { classifyResponse, type InvocationOutcome } from './response.js';

export interface BatchInfo {
  shardId: string;
  records: number;
  firstSequence: string;
  lastSequence: string;
  durationMs: number;
  outcome: 'ok' | 'partial' | 'error';
  /** Items reported in batchItemFailures (partial), or every record of the batch (error). */
  failedItems: number;
  /** 1 for the first invocation of these records, +1 per retry (a bisected half keeps its batch's count). */
  attempt: number;
  millisBehindLatest: number;
  /** The batch is (part of) a half produced by bisecting a failed batch. */
  bisected: boolean;
}

export interface MappingStats {
  /** Invocations. */
  batches: number;
  /** Records the handler processed successfully. */
  records: number;
  /** Invocations that did not fully succeed (threw, timed out, bad response, or item failures). */
  errors: number;
  /** Retry invocations scheduled (bisected halves are not retries). */
  retries: number;
  bisects: number;
  /** Records whose on-failure message was accepted by the destination queue. */
  sentToDlq: number;
  /** Records discarded because they were older than maxRecordAgeSeconds. */
  expired: number;
  /** Records discarded for any reason (retries exhausted or too old), destination or not. */
  discarded: number;
  /** Kinesis calls answered with a throttling error (and retried). */
  throttles: number;
  inFlight: number;
  maxMillisBehindLatest: number;
  shards: { shardId: string; state: 'waiting-for-parents' | 'active' | 'drained'; checkpoint?: string }[];
}

export type MappingHandler = (
  event: KinesisStreamEvent,
  context: Context,
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler may resolve to nothing, as @types/aws-lambda's KinesisStreamHandler allows
) => Promise<KinesisStreamBatchResponse | void>;

export interface LocalMappingOptions {
  clients: AwsClients;
  streamName: string;
  settings: EventSourceConfig;
  handler: MappingHandler;
  /** On-failure destination (SQS queue URL). */
  onFailureQueueUrl?: string;
  /** For the Context and the on-failure message (default `local-function`). */
  functionName?: string;
  /** Poll interval of a shard at its tip (default 200 ms; Lambda polls about once a second). */
  idlePollMs?: number;
  /** How often shards are listed to follow resharding (default 1000 ms). */
  shardRefreshMs?: number;
  /** The function's timeout: a longer invocation fails as "Task timed out" (default 60 s, the stack's). */
  timeoutSeconds?: number;
  /** Reported in the Context (default 512, the stack's). */
  memoryLimitInMB?: number;
  /** About the first retry delay of a failed batch, doubled per retry up to `retryMaxDelayMs` (default 100 ms). */
  retryBaseDelayMs?: number;
  /** Default 2000 ms. */
  retryMaxDelayMs?: number;
  /**
   * Largest event (serialized) an invocation may carry: Lambda's 6 MB by default. Tests
   * lower it, because kinesis-local moves large records at about 1 MB/s.
   */
  maxPayloadBytes?: number;
  onBatch?: (info: BatchInfo) => void;
  log?: (line: string) => void;
}

export class DrainTimeoutError extends Error {
  constructor(
    timeoutMs: number,
    readonly stats: MappingStats,
  ) {
    const shards = stats.shards.map((s) => `${s.shardId}=${s.state}`).join(', ');
    super(
      `the event source mapping did not drain within ${timeoutMs} ms ` +
        `(in flight ${stats.inFlight}, shards ${shards}, processed ${stats.records}, errors ${stats.errors})`,
    );
    this.name = 'DrainTimeoutError';
  }
}

export class MappingStateError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MappingStateError';
  }
}

/** Thrown inside a lane to unwind it when the mapping stops mid-step. */
class MappingStoppedSignal extends Error {
  constructor() {
    super('the event source mapping is stopping');
    this.name = 'MappingStoppedSignal';
  }
}

const THROTTLING_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'ThrottlingException',
  'KMSThrottlingException',
]);

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Waits `ms`, or less if the mapping stops; never rejects. */
function pause(ms: number, abort: AbortSignal): Promise<void> {
  return new Signal().wait(ms, abort);
}

/** Backoff with jitter for the mapping's own Kinesis and SQS calls. */
function callBackoffMs(failures: number): number {
  return backoffDelay(failures, CALL_RETRY);
}

interface QueuedRecord {
  /** Position in the shard (ShardProgress). */
  position: number;
  record: KinesisStreamRecord;
  arrivalMs: number;
  bytes: number;
  readAt: number;
}

/** Records that are invoked together, and what they went through. */
interface PendingBatch {
  records: QueuedRecord[];
  /** Retries so far (bisected halves inherit the count of the batch they came from). */
  retries: number;
  /** Invocations that carried these records (the on-failure message's approximateInvokeCount). */
  invokes: number;
  bisected: boolean;
  lastRequestId?: string;
  lastThrew: boolean;
}

class Lane {
  private items: QueuedRecord[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** The batch in progress first; bisected halves follow in order. */
  readonly pending: PendingBatch[] = [];
  readonly signal = new Signal();
  inFlight = false;

  get size(): number {
    return this.items.length - this.head;
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

  /** The next batch: up to `max` records, at most `maxBytes` as an event, at least one record. */
  take(max: number, maxBytes: number): QueuedRecord[] {
    const batch: QueuedRecord[] = [];
    // `{"Records":[...]}` around the records.
    let bytes = 14;
    while (this.head < this.items.length && batch.length < max) {
      const next = this.items[this.head]!;
      if (batch.length > 0 && bytes + next.bytes > maxBytes) break;
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

/** Everything in MappingStats but the per-shard view, which is computed on demand. */
type Counters = Omit<MappingStats, 'shards'>;

/** What the shard workers share with the mapping. */
interface Runtime {
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
  log(line: string): void;
  /** A parent is done when it is drained, or unknown (trimmed from the stream). */
  isShardDone(shardId: string): boolean;
  onShardEnded(shardId: string): void;
  onShardDrained(shardId: string): void;
  fail(err: unknown): void;
}

type ShardState = MappingStats['shards'][number]['state'];

class ShardWorker {
  state: ShardState = 'waiting-for-parents';
  /** Start time of the latest GetRecords that found the shard at its tip. */
  tipAt = 0;
  millisBehindLatest = 0;
  readonly progress = new ShardProgress();
  private readonly lanes: Lane[];
  private readonly readerWake = new Signal();
  private readonly space = new Signal();
  private readonly source: RecordSource;
  private readonly maxBuffered: number;
  private iterator: string | undefined;
  private lastReadSequence: string | undefined;
  private ended = false;
  private finished: Promise<void> = Promise.resolve();

  constructor(
    private readonly rt: Runtime,
    readonly shardId: string,
    readonly parents: readonly string[],
    private readonly startType: 'TRIM_HORIZON' | 'LATEST',
  ) {
    const n = rt.settings.parallelizationFactor;
    this.lanes = Array.from({ length: n }, () => new Lane());
    this.source = {
      shardId,
      streamArn: rt.streamArn,
      region: rt.fn.region,
      invokeIdentityArn: executionRoleArn(rt.fn),
    };
    // Read ahead at most a few rounds of batches for every lane.
    this.maxBuffered = Math.max(1_000, 2 * rt.settings.batchSize * n);
  }

  start(): void {
    this.finished = this.run().catch((err) => this.rt.fail(err));
  }

  get done(): Promise<void> {
    return this.finished;
  }

  /** Nothing queued, pending or in flight. */
  get idle(): boolean {
    return this.progress.pending === 0 && this.lanes.every((l) => l.idle);
  }

  /** Polls now (drain: a tip seen before the drain began does not count). */
  wake(): void {
    this.readerWake.notify();
  }

  private async run(): Promise<void> {
    while (!this.rt.stopping() && !this.parents.every((p) => this.rt.isShardDone(p))) {
      await this.rt.shardDrained.wait(undefined, this.rt.abort);
    }
    if (this.rt.stopping()) return;
    this.state = 'active';
    const lanes = this.lanes.map((lane) => this.laneLoop(lane));
    try {
      await this.readLoop();
    } catch (err) {
      // A bug, not a Kinesis error (those are retried): fail the drain, keep the lanes
      // running until stop() so nothing already read is half-processed.
      this.rt.fail(err);
    }
    for (const lane of this.lanes) lane.signal.notify();
    await Promise.all(lanes);
    if (!this.rt.stopping() && this.ended && this.idle) {
      this.state = 'drained';
      this.rt.onShardDrained(this.shardId);
    }
  }

  // -- reading ---------------------------------------------------------------------------

  private async readLoop(): Promise<void> {
    const { settings } = this.rt;
    // Pages larger than a batch: one GetRecords costs kinesis-local ~30 ms whatever its
    // size, and the lanes cut batches from what was read anyway.
    const limit = Math.min(10_000, Math.max(1_000, settings.batchSize * settings.parallelizationFactor));
    let failures = 0;
    while (!this.rt.stopping() && !this.ended) {
      if (this.progress.pending >= this.maxBuffered) {
        await this.space.wait(undefined, this.rt.abort);
        continue;
      }
      if (this.iterator === undefined) {
        this.iterator = await this.newIterator();
        if (this.iterator === undefined) break;
      }
      const startedAt = Date.now();
      let page: GetRecordsCommandOutput;
      try {
        page = await this.rt.opts.clients.kinesis.send(
          new GetRecordsCommand({ ShardIterator: this.iterator, Limit: limit }),
          { abortSignal: this.rt.abort },
        );
        failures = 0;
      } catch (err) {
        if (this.rt.stopping()) break;
        const name = errorName(err);
        if (name === 'ExpiredIteratorException') {
          // Renewed after the last record read: nothing skipped, nothing read twice.
          this.rt.log(`${this.shardId}: shard iterator expired, renewing it`);
          this.iterator = undefined;
          continue;
        }
        if (name === 'ResourceNotFoundException') {
          this.rt.log(`${this.shardId}: shard no longer exists (${errorText(err)}); stopped reading it`);
          this.ended = true;
          break;
        }
        failures++;
        if (THROTTLING_ERRORS.has(name)) this.rt.stats.throttles++;
        else this.rt.log(`${this.shardId}: GetRecords failed (${errorText(err)}), retrying`);
        await this.readerWake.wait(callBackoffMs(failures), this.rt.abort);
        continue;
      }
      const records = page.Records ?? [];
      if (records.length > 0) this.enqueue(records);
      this.millisBehindLatest = page.MillisBehindLatest ?? 0;
      if (this.millisBehindLatest > this.rt.stats.maxMillisBehindLatest) {
        this.rt.stats.maxMillisBehindLatest = this.millisBehindLatest;
      }
      if (!page.NextShardIterator) {
        // A closed shard read to its end: its children may start once it is drained.
        this.ended = true;
        this.rt.onShardEnded(this.shardId);
        break;
      }
      this.iterator = page.NextShardIterator;
      if (records.length === 0 && this.millisBehindLatest === 0) {
        this.tipAt = startedAt;
        await this.readerWake.wait(this.rt.idlePollMs, this.rt.abort);
      }
    }
  }

  private async newIterator(): Promise<string | undefined> {
    const position: Pick<GetShardIteratorCommandInput, 'ShardIteratorType' | 'StartingSequenceNumber'> = this
      .lastReadSequence
      ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: this.lastReadSequence }
      : { ShardIteratorType: this.startType };
    for (let failures = 1; !this.rt.stopping(); failures++) {
      try {
        const out = await this.rt.opts.clients.kinesis.send(
          new GetShardIteratorCommand({
            StreamName: this.rt.opts.streamName,
            ShardId: this.shardId,
            ...position,
          }),
          { abortSignal: this.rt.abort },
        );
        if (!out.ShardIterator) {
          this.rt.log(`${this.shardId}: GetShardIterator returned no iterator; treating the shard as ended`);
          this.ended = true;
          return undefined;
        }
        return out.ShardIterator;
      } catch (err) {
        if (this.rt.stopping()) return undefined;
        const name = errorName(err);
        if (name === 'ResourceNotFoundException') {
          this.rt.log(`${this.shardId}: shard no longer exists (${errorText(err)}); stopped reading it`);
          this.ended = true;
          return undefined;
        }
        if (THROTTLING_ERRORS.has(name)) this.rt.stats.throttles++;
        else this.rt.log(`${this.shardId}: GetShardIterator failed (${errorText(err)}), retrying`);
        await this.readerWake.wait(callBackoffMs(failures), this.rt.abort);
      }
    }
    return undefined;
  }

  private enqueue(records: NonNullable<GetRecordsCommandOutput['Records']>): void {
    const n = this.lanes.length;
    const now = Date.now();
    const touched = new Set<Lane>();
    for (const r of records) {
      const record = toLambdaRecord(r, this.source);
      const lane = this.lanes[laneOf(record.kinesis.partitionKey, n)]!;
      lane.push({
        position: this.progress.add(record.kinesis.sequenceNumber),
        record,
        arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? now,
        bytes: lambdaRecordBytes(record),
        readAt: now,
      });
      touched.add(lane);
      this.lastReadSequence = record.kinesis.sequenceNumber;
    }
    for (const lane of touched) lane.signal.notify();
  }

  // -- invoking --------------------------------------------------------------------------

  private async laneLoop(lane: Lane): Promise<void> {
    const { settings } = this.rt;
    const windowMs = settings.maxBatchingWindowSeconds * 1000;
    try {
      while (!this.rt.stopping()) {
        if (lane.pending.length > 0) {
          await this.step(lane);
          this.space.notify();
          continue;
        }
        if (lane.size === 0) {
          if (this.ended) return;
          await lane.signal.wait(undefined, this.rt.abort);
          continue;
        }
        if (windowMs > 0 && !this.ended && !lane.isFull(settings.batchSize, this.rt.maxPayloadBytes)) {
          const wait = lane.oldestReadAt + windowMs - Date.now();
          if (wait > 0) {
            await lane.signal.wait(wait, this.rt.abort);
            continue;
          }
        }
        lane.pending.push({
          records: lane.take(settings.batchSize, this.rt.maxPayloadBytes),
          retries: 0,
          invokes: 0,
          bisected: false,
          lastThrew: false,
        });
      }
    } catch (err) {
      if (err instanceof MappingStoppedSignal) return;
      // A bug: make drain() fail with it rather than wait for a lane that is gone.
      this.rt.fail(err);
    }
  }

  /** One step of the lane's current batch: discard what is too old, or invoke and settle. */
  private async step(lane: Lane): Promise<void> {
    const { settings } = this.rt;
    const batch = lane.pending[0]!;

    const expired = expiredRecords(
      batch.records.map((r) => r.arrivalMs),
      Date.now(),
      settings.maxRecordAgeSeconds,
    );
    if (expired.length > 0) {
      const old = new Set(expired);
      await this.discard(
        batch,
        batch.records.filter((_, i) => old.has(i)),
        'RecordAgeExceeded',
      );
      batch.records = batch.records.filter((_, i) => !old.has(i));
      if (batch.records.length === 0) lane.pending.shift();
      return;
    }

    const outcome = await this.invoke(lane, batch);
    const n = batch.records.length;
    if (outcome.kind !== 'ok') this.rt.stats.errors++;
    if (outcome.kind === 'error') {
      this.rt.log(
        `${this.shardId}: batch of ${n} failed (attempt ${batch.retries + 1}${batch.bisected ? ', bisected' : ''}): ${outcome.message}`,
      );
    }
    const decision = settleBatch({ outcome, records: n, retries: batch.retries, settings });
    switch (decision.action) {
      case 'done':
        this.complete(batch.records);
        this.rt.stats.records += n;
        lane.pending.shift();
        return;
      case 'bisect': {
        const half = (records: QueuedRecord[]): PendingBatch => ({ ...batch, records, bisected: true });
        lane.pending.splice(
          0,
          1,
          half(batch.records.slice(0, decision.at)),
          half(batch.records.slice(decision.at)),
        );
        this.rt.stats.bisects++;
        return;
      }
      case 'retry':
      case 'discard': {
        const done = batch.records.slice(0, decision.done);
        this.complete(done);
        this.rt.stats.records += done.length;
        batch.records = batch.records.slice(decision.done);
        batch.retries = decision.retries;
        if (decision.action === 'discard') {
          await this.discard(batch, batch.records, decision.condition);
          lane.pending.shift();
          return;
        }
        this.rt.stats.retries++;
        await pause(backoffDelay(decision.retries, this.rt.batchRetry), this.rt.abort);
        return;
      }
    }
  }

  private async invoke(lane: Lane, batch: PendingBatch): Promise<InvocationOutcome> {
    const { rt } = this;
    const requestId = randomUUID();
    // A fresh event per invocation, as Lambda deserializes one: the handler may mutate it.
    const event: KinesisStreamEvent = {
      Records: batch.records.map(({ record }) => ({ ...record, kinesis: { ...record.kinesis } })),
    };
    const context = invocationContext(rt.fn, requestId);
    batch.invokes++;
    batch.lastRequestId = requestId;
    lane.inFlight = true;
    rt.stats.inFlight++;
    rt.stats.batches++;
    const started = performance.now();
    let outcome: InvocationOutcome;
    try {
      const response = await withTimeout(
        Promise.resolve().then(() => rt.opts.handler(event, context)),
        rt.timeoutMs,
      );
      outcome = classifyResponse(
        batch.records.map((r) => r.record),
        response,
      );
    } catch (err) {
      outcome = { kind: 'error', functionError: true, message: errorText(err) };
    } finally {
      lane.inFlight = false;
      rt.stats.inFlight--;
    }
    batch.lastThrew = outcome.kind === 'error' && outcome.functionError;
    this.report({
      shardId: this.shardId,
      records: batch.records.length,
      firstSequence: batch.records[0]!.record.kinesis.sequenceNumber,
      lastSequence: batch.records[batch.records.length - 1]!.record.kinesis.sequenceNumber,
      durationMs: performance.now() - started,
      outcome: outcome.kind,
      failedItems:
        outcome.kind === 'ok' ? 0 : outcome.kind === 'partial' ? outcome.failedItems : batch.records.length,
      attempt: batch.retries + 1,
      millisBehindLatest: this.millisBehindLatest,
      bisected: batch.bisected,
    });
    return outcome;
  }

  private report(info: BatchInfo): void {
    try {
      this.rt.opts.onBatch?.(info);
    } catch (err) {
      this.rt.log(`onBatch callback failed: ${errorText(err)}`);
    }
  }

  /** Sends the on-failure message (retrying until accepted), then skips the records. */
  private async discard(
    batch: PendingBatch,
    records: QueuedRecord[],
    condition: OnFailureCondition,
  ): Promise<void> {
    const { rt } = this;
    const first = records[0]!.record.kinesis.sequenceNumber;
    const last = records[records.length - 1]!.record.kinesis.sequenceNumber;
    const queueUrl = rt.opts.onFailureQueueUrl;
    if (queueUrl) {
      const message = onFailureMessage(rt.fn, {
        shardId: this.shardId,
        streamArn: rt.streamArn,
        records: records.map((r) => r.record),
        condition,
        requestId: batch.lastRequestId ?? randomUUID(),
        invokeCount: batch.invokes,
        functionError: batch.lastThrew,
      });
      for (let failures = 1; ; failures++) {
        if (rt.stopping()) throw new MappingStoppedSignal();
        try {
          await rt.opts.clients.sqs.send(
            new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }),
            { abortSignal: rt.abort },
          );
          break;
        } catch (err) {
          if (rt.stopping()) throw new MappingStoppedSignal();
          rt.log(`${this.shardId}: on-failure destination unavailable (${errorText(err)}), retrying`);
          await pause(callBackoffMs(failures), rt.abort);
        }
      }
      rt.stats.sentToDlq += records.length;
      rt.log(`${this.shardId}: ${records.length} record(s) ${first}..${last} sent to the DLQ (${condition})`);
    } else {
      rt.log(
        `${this.shardId}: ${records.length} record(s) ${first}..${last} discarded (${condition}); no on-failure destination`,
      );
    }
    rt.stats.discarded += records.length;
    if (condition === 'RecordAgeExceeded') rt.stats.expired += records.length;
    this.complete(records);
  }

  private complete(records: readonly QueuedRecord[]): void {
    for (const r of records) this.progress.complete(r.position);
  }
}

class InvocationTimeoutError extends Error {
  constructor(ms: number) {
    super(`Task timed out after ${(ms / 1000).toFixed(2)} seconds`);
    this.name = 'InvocationTimeoutError';
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InvocationTimeoutError(ms)), ms);
  });
  // A timed-out invocation may still settle later; its outcome is ignored, never unhandled.
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class LocalEventSourceMapping {
  private readonly controller = new AbortController();
  private readonly workers = new Map<string, ShardWorker>();
  private readonly refreshWake = new Signal();
  private readonly shardDrained = new Signal();
  private readonly counters: Counters = {
    batches: 0,
    records: 0,
    errors: 0,
    retries: 0,
    bisects: 0,
    sentToDlq: 0,
    expired: 0,
    discarded: 0,
    throttles: 0,
    inFlight: 0,
    maxMillisBehindLatest: 0,
  };
  private started = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private running: Promise<void> = Promise.resolve();
  private fatal: unknown;
  /** Start time of the latest successful ListShards. */
  private listedAt = 0;
  private runtime: Runtime | undefined;

  constructor(private readonly opts: LocalMappingOptions) {
    // Every wait and SDK call listens on the one abort signal.
    setMaxListeners(100_000, this.controller.signal);
  }

  start(): void {
    if (this.started) throw new MappingStateError('the event source mapping was already started');
    this.started = true;
    this.running = this.run().catch((err) => this.fail(err));
  }

  /**
   * Resolves when every open shard has been read to its tip, nothing is in flight and no
   * retry is pending: every record put before the call was processed or discarded. The
   * condition must hold for `settleMs` (default 0). Rejects with `DrainTimeoutError` after
   * `timeoutMs` (default 60 s), or with the error that stopped the mapping.
   */
  async drain(opts: { timeoutMs?: number; settleMs?: number } = {}): Promise<void> {
    if (!this.started) throw new MappingStateError('drain() needs a started mapping');
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const settleMs = opts.settleMs ?? 0;
    const since = Date.now();
    this.refreshWake.notify();
    for (const w of this.workers.values()) w.wake();
    let quietSince: number | undefined;
    for (;;) {
      if (this.fatal !== undefined) throw this.fatalError();
      if (this.stopping) throw new MappingStateError('the event source mapping was stopped while draining');
      const now = Date.now();
      if (this.isDrained(since)) {
        quietSince ??= now;
        if (now - quietSince >= settleMs) return;
      } else {
        quietSince = undefined;
      }
      if (now - since >= timeoutMs) throw new DrainTimeoutError(timeoutMs, this.stats());
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Stops polling and waits for in-flight invocations; idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.controller.abort();
      await this.running;
      await Promise.all([...this.workers.values()].map((w) => w.done));
    })();
    return this.stopped;
  }

  stats(): MappingStats {
    return {
      ...this.counters,
      shards: [...this.workers.values()].map((w) => ({
        shardId: w.shardId,
        state: w.state,
        ...(w.progress.checkpoint ? { checkpoint: w.progress.checkpoint } : {}),
      })),
    };
  }

  private isDrained(since: number): boolean {
    if (this.listedAt < since || this.workers.size === 0) return false;
    for (const w of this.workers.values()) {
      if (w.state === 'drained') continue;
      if (w.state !== 'active' || w.tipAt < since || !w.idle) return false;
    }
    return true;
  }

  private fail(err: unknown): void {
    if (this.stopping && err instanceof MappingStoppedSignal) return;
    this.fatal ??= err;
    this.log(`event source mapping failed: ${errorText(err)}`);
  }

  private fatalError(): Error {
    return this.fatal instanceof Error
      ? this.fatal
      : new MappingStateError(`the event source mapping failed: ${String(this.fatal)}`);
  }

  private log(line: string): void {
    this.opts.log?.(`[esm ${this.opts.streamName}] ${line}`);
  }

  private async run(): Promise<void> {
    const streamArn = await this.describeStream();
    if (streamArn === undefined) return;
    const arn = parseStreamArn(streamArn);
    this.runtime = {
      opts: this.opts,
      settings: this.opts.settings,
      stats: this.counters,
      abort: this.controller.signal,
      idlePollMs: this.opts.idlePollMs ?? 200,
      timeoutMs: (this.opts.timeoutSeconds ?? 60) * 1000,
      batchRetry: batchRetryPolicy(this.opts.retryBaseDelayMs ?? 100, this.opts.retryMaxDelayMs ?? 2_000),
      maxPayloadBytes: this.opts.maxPayloadBytes ?? MAX_PAYLOAD_BYTES,
      streamArn,
      fn: {
        functionName: this.opts.functionName ?? 'local-function',
        region: arn.region,
        accountId: arn.accountId,
        partition: arn.partition,
        memoryLimitInMB: this.opts.memoryLimitInMB ?? 512,
        timeoutMs: (this.opts.timeoutSeconds ?? 60) * 1000,
      },
      shardDrained: this.shardDrained,
      stopping: () => this.stopping,
      log: (line) => this.log(line),
      isShardDone: (id) => {
        const w = this.workers.get(id);
        return w === undefined || w.state === 'drained';
      },
      onShardEnded: () => this.refreshWake.notify(),
      onShardDrained: () => this.shardDrained.notify(),
      fail: (err) => this.fail(err),
    };

    let first = true;
    let failures = 0;
    while (!this.stopping) {
      const startedAt = Date.now();
      try {
        const shards = await this.listShards();
        this.addShards(shards, first);
        first = false;
        failures = 0;
        this.listedAt = startedAt;
      } catch (err) {
        if (this.stopping) return;
        failures++;
        if (THROTTLING_ERRORS.has(errorName(err))) this.counters.throttles++;
        else this.log(`ListShards failed (${errorText(err)}), retrying`);
        await this.refreshWake.wait(callBackoffMs(failures), this.controller.signal);
        continue;
      }
      await this.refreshWake.wait(this.opts.shardRefreshMs ?? 1_000, this.controller.signal);
    }
  }

  private async describeStream(): Promise<string | undefined> {
    for (let failures = 1; !this.stopping; failures++) {
      try {
        const out = await this.opts.clients.kinesis.send(
          new DescribeStreamSummaryCommand({ StreamName: this.opts.streamName }),
          { abortSignal: this.controller.signal },
        );
        const arn = out.StreamDescriptionSummary?.StreamARN;
        if (!arn)
          throw new MappingStateError(`DescribeStreamSummary ${this.opts.streamName} returned no ARN`);
        return arn;
      } catch (err) {
        if (this.stopping) return undefined;
        if (errorName(err) === 'ResourceNotFoundException' || err instanceof MappingStateError) {
          throw new MappingStateError(`stream ${this.opts.streamName} cannot be read: ${errorText(err)}`, {
            cause: err,
          });
        }
        if (THROTTLING_ERRORS.has(errorName(err))) this.counters.throttles++;
        else this.log(`DescribeStreamSummary failed (${errorText(err)}), retrying`);
        await this.refreshWake.wait(callBackoffMs(failures), this.controller.signal);
      }
    }
    return undefined;
  }

  private async listShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let nextToken: string | undefined;
    do {
      const out = await this.opts.clients.kinesis.send(
        // NextToken and StreamName are mutually exclusive.
        new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: this.opts.streamName }),
        { abortSignal: this.controller.signal },
      );
      shards.push(...(out.Shards ?? []));
      nextToken = out.NextToken;
    } while (nextToken);
    return shards;
  }

  private addShards(shards: readonly Shard[], initial: boolean): void {
    const rt = this.runtime;
    if (!rt) return;
    const added: ShardWorker[] = [];
    for (const shard of shards) {
      const id = shard.ShardId;
      if (!id || this.workers.has(id)) continue;
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter(
        (p): p is string => typeof p === 'string' && p !== '',
      );
      const worker = new ShardWorker(
        rt,
        id,
        parents,
        initial ? this.opts.settings.startingPosition : 'TRIM_HORIZON',
      );
      this.workers.set(id, worker);
      added.push(worker);
      if (!initial) this.log(`discovered shard ${id} (parents: ${parents.join(', ') || 'none'})`);
    }
    // Started once every new shard is registered, so a child never takes a parent listed
    // in the same answer for an unknown (trimmed) one.
    for (const w of added) w.start();
  }
}
