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
 *   closed shard read to its end flushes at once, since nothing more can come, and so does
 *   a shard read to its tip after the producer said it is done (`inputComplete()`).
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
 * - Resharding, by the documented contract (ListShards, GetRecords API references). Shards
 *   are listed every `shardRefreshMs`; a child names its parents (ParentShardId,
 *   AdjacentParentShardId) and is read only once all of them are drained: read until
 *   GetRecords returned no NextShardIterator, and every record of theirs done. A parent's
 *   EndingSequenceNumber only says it is closed; its value is never compared against
 *   (kinesis-local reports 2^63-1). A parent listed closed that GetRecords does not end
 *   within `closedShardGraceMs` at its tip makes drain() fail with UnendedParentShardError
 *   naming it, instead of waiting for the drain timeout (moto 5 never ends closed shards).
 * - Tumbling windows (`tumblingWindowSeconds` > 0): batches are cut at window boundaries,
 *   carry the window's state, and each window ends with a final invocation (tumbling.ts).
 * - Kinesis errors. Throttling (ProvisionedThroughputExceeded, LimitExceeded) and any other
 *   read error are retried with backoff; an expired iterator is renewed after the last
 *   record read, so nothing is skipped or read twice.
 *
 * Where things are: shard-worker.ts reads a shard, lane-runner.ts invokes a lane's
 * batches, policy.ts decides retry, bisect or discard, lane.ts cuts batches, tumbling.ts
 * keeps a lane's tumbling window and its state.
 */
import { setMaxListeners } from 'node:events';
import { DescribeStreamSummaryCommand, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { EventSourceConfig } from '../../functions/domain/config.js';
import type { AwsClients } from '../../functions/lib/clients.js';
import {
  DrainStalledError,
  DrainTimeoutError,
  MappingStateError,
  MappingStoppedSignal,
  UnendedParentShardError,
} from './errors.js';
import { batchRetryPolicy } from './policy.js';
import { Signal } from './progress.js';
import { MAX_PAYLOAD_BYTES, parseStreamArn } from './records.js';
import {
  type Counters,
  callBackoffMs,
  errorName,
  errorText,
  type Runtime,
  THROTTLING_ERRORS,
} from './runtime.js';
import { ShardWorker } from './shard-worker.js';
import type { MappingFaults } from './tumbling.js';

export {
  DrainStalledError,
  DrainTimeoutError,
  MappingStateError,
  UnendedParentShardError,
} from './errors.js';

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
  /** Successful final invocations of tumbling windows (`isFinalInvokeForWindow`). */
  finalInvokes: number;
  /** Tumbling windows ended early because the handler returned a state over 1 MB. */
  windowsTerminatedEarly: number;
  /** Invocations handed `{}` instead of their window's state by the `windowStateFault` hook. */
  windowStatesDropped: number;
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
  /**
   * How long a parent shard listed closed may sit idle at its tip, still handed a
   * NextShardIterator, before drain() fails with UnendedParentShardError (default 5000 ms).
   */
  closedShardGraceMs?: number;
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
  /** Fault hooks (tumbling.ts): what chaos mode and the tests inject into the mapping itself. */
  faults?: MappingFaults;
  onBatch?: (info: BatchInfo) => void;
  log?: (line: string) => void;
}

/** Log lines a DrainStalledError quotes. */
const RECENT_LOG_LINES = 20;

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
    finalInvokes: 0,
    windowsTerminatedEarly: 0,
    windowStatesDropped: 0,
    inFlight: 0,
    maxMillisBehindLatest: 0,
  };
  private started = false;
  private stopping = false;
  private readonly recentLog: string[] = [];
  private stopped: Promise<void> | undefined;
  private running: Promise<void> = Promise.resolve();
  private fatal: unknown;
  /** Start time of the latest successful ListShards. */
  private listedAt = 0;
  private runtime: Runtime | undefined;
  private readonly closedShardGraceMs: number;
  private inputCompletedAt: number | undefined;

  constructor(private readonly opts: LocalMappingOptions) {
    this.closedShardGraceMs = opts.closedShardGraceMs ?? 5_000;
    const { tumblingWindowSeconds, parallelizationFactor } = opts.settings;
    if (tumblingWindowSeconds > 0 && parallelizationFactor !== 1) {
      // The config refuses it (SEMANTICS.md CS7); settings built by hand are checked here.
      throw new MappingStateError(
        `tumblingWindowSeconds ${tumblingWindowSeconds} needs parallelizationFactor 1, got ${parallelizationFactor}`,
      );
    }
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
   * `timeoutMs` (default 60 s; `Infinity` for no overall bound), with `DrainStalledError`
   * when `stallMs` passed without one more record processed or discarded, or with the
   * error that stopped the mapping.
   *
   * The stall bound is the one that tells a slow drain from a stuck one: a sensor's
   * 10-day backlog on an emulator shared with other work takes as long as it takes, and
   * every invocation that finishes some of it is progress; a batch retried without end,
   * or an endpoint that stopped answering, is not.
   */
  async drain(opts: { timeoutMs?: number; settleMs?: number; stallMs?: number } = {}): Promise<void> {
    if (!this.started) throw new MappingStateError('drain() needs a started mapping');
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const settleMs = opts.settleMs ?? 0;
    const stallMs = opts.stallMs ?? Number.POSITIVE_INFINITY;
    const since = Date.now();
    this.refreshWake.notify();
    for (const w of this.workers.values()) w.wake();
    let quietSince: number | undefined;
    let done = this.counters.records + this.counters.discarded;
    let progressAt = since;
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
      const doneNow = this.counters.records + this.counters.discarded;
      if (doneNow !== done) {
        done = doneNow;
        progressAt = now;
      }
      const timedOut = now - since >= timeoutMs;
      const stalled = now - progressAt >= stallMs;
      const stuck = this.unendedParent(now, timedOut || stalled ? 0 : this.closedShardGraceMs);
      if (stuck) throw stuck;
      if (timedOut) throw new DrainTimeoutError(timeoutMs, this.stats());
      if (stalled) throw new DrainStalledError(stallMs, this.stats(), [...this.recentLog]);
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * The producer is done: nothing more will be put on the stream. A lane then invokes as
   * soon as its shard has been read to its tip, instead of waiting out
   * `maxBatchingWindowSeconds` for records that will not come (a replay's last batch).
   * Batch size and payload limits still apply; records put later are still delivered,
   * without the batching window.
   */
  inputComplete(): void {
    this.inputCompletedAt ??= Date.now();
    for (const w of this.workers.values()) w.wake();
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

  /**
   * Each shard's tumbling-window state as the handler last returned it (carried state,
   * docs/SEMANTICS.md "Carried state"): what a live view reads for the sensors the state
   * table holds only as of their last checkpoint. Read-only; empty without carried state.
   */
  windowStates(): { shardId: string; state: unknown }[] {
    return [...this.workers.values()].flatMap((w) =>
      w.windowStates().map((state) => ({ shardId: w.shardId, state })),
    );
  }

  /**
   * A parent that children wait for, listed closed, idle at its tip for `graceMs`, and
   * still not ended by GetRecords: the drain can never complete, so say so, naming it.
   */
  private unendedParent(now: number, graceMs: number): UnendedParentShardError | undefined {
    const waiting = [...this.workers.values()].filter((w) => w.state === 'waiting-for-parents');
    for (const w of this.workers.values()) {
      const since = w.openAfterCloseSince;
      if (w.state !== 'active' || since === undefined || !w.idle || now - since < graceMs) continue;
      const children = waiting.filter((c) => c.parents.includes(w.shardId)).map((c) => c.shardId);
      if (children.length === 0) continue;
      return new UnendedParentShardError({
        streamName: this.opts.streamName,
        shardId: w.shardId,
        endingSequenceNumber: w.endingSequenceNumber ?? '',
        children,
        waitedMs: now - since,
      });
    }
    return undefined;
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
    // The last lines go into a stalled drain's error, so a stall says what the lanes saw.
    this.recentLog.push(line);
    if (this.recentLog.length > RECENT_LOG_LINES) this.recentLog.shift();
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
      inputCompleteAt: () => this.inputCompletedAt,
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
      if (!id) continue;
      const known = this.workers.get(id);
      if (known) {
        known.updateListing(shard);
        continue;
      }
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter(
        (p): p is string => typeof p === 'string' && p !== '',
      );
      const worker = new ShardWorker(
        rt,
        id,
        parents,
        initial ? this.opts.settings.startingPosition : 'TRIM_HORIZON',
      );
      worker.updateListing(shard);
      this.workers.set(id, worker);
      added.push(worker);
      if (!initial) this.log(`discovered shard ${id} (parents: ${parents.join(', ') || 'none'})`);
    }
    // Started once every new shard is registered, so a child never takes a parent listed
    // in the same answer for an unknown (trimmed) one.
    for (const w of added) w.start();
  }
}
