/**
 * One shard under the local event source mapping: waits until its parents are drained,
 * reads it with GetRecords until it ends (no NextShardIterator: the shard was closed and
 * read to its end), and feeds its records to `parallelizationFactor` lanes by partition
 * key (lane-runner.ts invokes them). The checkpoint (`ShardProgress`) only passes a
 * record once every record before it is done.
 */
import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { Lane } from './lane.js';
import { LaneRunner } from './lane-runner.js';
import type { MappingStats } from './mapping.js';
import { ShardProgress, Signal } from './progress.js';
import { executionRoleArn, lambdaRecordBytes, laneOf, type RecordSource, toLambdaRecord } from './records.js';
import { callBackoffMs, errorName, errorText, type Runtime, THROTTLING_ERRORS } from './runtime.js';
import { TumblingWindow } from './tumbling.js';

export type ShardState = MappingStats['shards'][number]['state'];

export class ShardWorker {
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
  /** ListShards gave the shard an EndingSequenceNumber: it is closed and must end. */
  private listedEnding: string | undefined;
  /**
   * Since when the shard, listed closed, has been at its tip while GetRecords still hands
   * out a NextShardIterator: the contract says it ends, so this is a stuck lineage.
   */
  openAfterCloseSince: number | undefined;
  private readonly runner: LaneRunner;
  private finished: Promise<void> = Promise.resolve();

  constructor(
    private readonly rt: Runtime,
    readonly shardId: string,
    readonly parents: readonly string[],
    private readonly startType: 'TRIM_HORIZON' | 'LATEST',
  ) {
    const n = rt.settings.parallelizationFactor;
    // Tumbling windows need one lane (config CS7: parallelizationFactor 1).
    const windowed = rt.settings.tumblingWindowSeconds > 0;
    this.lanes = Array.from(
      { length: n },
      () => new Lane(windowed ? new TumblingWindow(rt, shardId) : undefined),
    );
    this.source = {
      shardId,
      streamArn: rt.streamArn,
      region: rt.fn.region,
      invokeIdentityArn: executionRoleArn(rt.fn),
    };
    // Read ahead at most a few rounds of batches for every lane.
    this.maxBuffered = Math.max(1_000, 2 * rt.settings.batchSize * n);
    this.runner = new LaneRunner(rt, this);
  }

  /** What the latest ListShards says of this shard (SequenceNumberRange). */
  updateListing(shard: Shard): void {
    this.listedEnding = shard.SequenceNumberRange?.EndingSequenceNumber ?? this.listedEnding;
  }

  get endingSequenceNumber(): string | undefined {
    return this.listedEnding;
  }

  get inputExhausted(): boolean {
    const at = this.rt.inputCompleteAt();
    return at !== undefined && this.tipAt >= at;
  }

  get readToEnd(): boolean {
    return this.ended;
  }

  bufferFreed(): void {
    this.space.notify();
  }

  start(): void {
    this.finished = this.run().catch((err) => this.rt.fail(err));
  }

  get done(): Promise<void> {
    return this.finished;
  }

  /** The tumbling windows' states of this shard's lanes (none without carried state). */
  windowStates(): unknown[] {
    return this.lanes.flatMap((l) => (l.window ? [l.window.currentState] : []));
  }

  /** Nothing queued, pending or in flight, and no tumbling window's final invocation due. */
  get idle(): boolean {
    const now = Date.now();
    return (
      this.progress.pending === 0 &&
      this.lanes.every((l) => l.idle && !l.window?.finalDue(undefined, now, this))
    );
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
    const lanes = this.lanes.map((lane) => this.runner.run(lane));
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
      if (records.length > 0) {
        this.enqueue(records);
        this.openAfterCloseSince = undefined;
      }
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
        if (this.listedEnding !== undefined) this.openAfterCloseSince ??= startedAt;
        // Lanes waiting out a batching window need not once the producer is done.
        if (this.inputExhausted) for (const lane of this.lanes) lane.signal.notify();
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
}
