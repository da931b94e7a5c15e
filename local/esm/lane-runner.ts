/**
 * Runs one lane of a shard: waits for a batch (batch size, payload limit, batching
 * window), discards what is too old, invokes the handler, and settles the outcome by the
 * retry/bisect/discard policy (policy.ts), sending what is given up on to the on-failure
 * destination.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent } from 'aws-lambda';
import { backoffDelay } from '../../functions/lib/retry.js';
import { MappingStoppedSignal } from './errors.js';
import type { Lane, PendingBatch, QueuedRecord } from './lane.js';
import type { BatchInfo } from './mapping.js';
import { expiredRecords, settleBatch } from './policy.js';
import type { ShardProgress } from './progress.js';
import { invocationContext, type OnFailureCondition, onFailureMessage } from './records.js';
import { classifyResponse, type InvocationOutcome } from './response.js';
import { callBackoffMs, errorText, pause, type Runtime, withTimeout } from './runtime.js';

/** What a lane needs of its shard. */
export interface LaneHost {
  readonly shardId: string;
  readonly progress: ShardProgress;
  readonly millisBehindLatest: number;
  /** The shard was read to its end: nothing more will be queued. */
  readonly readToEnd: boolean;
  /** The producer is done and the shard was read to its tip since: nothing more is coming. */
  readonly inputExhausted: boolean;
  /** Records left the read-ahead buffer: the reader may read more. */
  bufferFreed(): void;
}

export class LaneRunner {
  constructor(
    private readonly rt: Runtime,
    private readonly host: LaneHost,
  ) {}

  async run(lane: Lane): Promise<void> {
    const { settings } = this.rt;
    const windowMs = settings.maxBatchingWindowSeconds * 1000;
    try {
      while (!this.rt.stopping()) {
        if (lane.pending.length > 0) {
          await this.step(lane);
          this.host.bufferFreed();
          continue;
        }
        if (lane.window?.finalDue(lane.next, Date.now(), this.host)) {
          await lane.window.invokeFinal((event) => this.call(lane, event));
          continue;
        }
        if (lane.size === 0) {
          if (this.host.readToEnd) return;
          // An open tumbling window ends on the wall clock: wake up then.
          await lane.signal.wait(lane.window?.waitMs(Date.now()), this.rt.abort);
          continue;
        }
        if (
          windowMs > 0 &&
          !this.host.readToEnd &&
          !this.host.inputExhausted &&
          !lane.isFull(settings.batchSize, this.rt.maxPayloadBytes)
        ) {
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
        `${this.host.shardId}: batch of ${n} failed (attempt ${batch.retries + 1}${batch.bisected ? ', bisected' : ''}): ${outcome.message}`,
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
    const records = batch.records;
    // A fresh event per invocation, as Lambda deserializes one: the handler may mutate it.
    const event: KinesisStreamEvent = {
      Records: records.map(({ record }) => ({ ...record, kinesis: { ...record.kinesis } })),
      ...lane.window?.batchFields(records[0]!),
    };
    batch.invokes++;
    const started = performance.now();
    const result = await this.call(lane, event, (id) => {
      batch.lastRequestId = id;
    });
    let outcome: InvocationOutcome = result.ok
      ? classifyResponse(
          records.map((r) => r.record),
          result.response,
        )
      : { kind: 'error', functionError: true, message: errorText(result.error) };
    if (lane.window) outcome = lane.window.settle(outcome, result.ok ? result.response : undefined);
    batch.lastThrew = outcome.kind === 'error' && outcome.functionError;
    this.report({
      shardId: this.host.shardId,
      records: records.length,
      firstSequence: records[0]!.record.kinesis.sequenceNumber,
      lastSequence: records[records.length - 1]!.record.kinesis.sequenceNumber,
      durationMs: performance.now() - started,
      outcome: outcome.kind,
      failedItems:
        outcome.kind === 'ok' ? 0 : outcome.kind === 'partial' ? outcome.failedItems : records.length,
      attempt: batch.retries + 1,
      millisBehindLatest: this.host.millisBehindLatest,
      bisected: batch.bisected,
    });
    return outcome;
  }

  /** One invocation of the handler, under the function's timeout; never rejects. */
  private async call(
    lane: Lane,
    event: KinesisStreamEvent,
    onRequestId?: (id: string) => void,
  ): Promise<{ ok: true; response: unknown } | { ok: false; error: unknown }> {
    const { rt } = this;
    const requestId = randomUUID();
    onRequestId?.(requestId);
    const context = invocationContext(rt.fn, requestId);
    lane.inFlight = true;
    rt.stats.inFlight++;
    rt.stats.batches++;
    try {
      const response = await withTimeout(
        Promise.resolve().then(() => rt.opts.handler(event, context)),
        rt.timeoutMs,
      );
      return { ok: true, response };
    } catch (error) {
      return { ok: false, error };
    } finally {
      lane.inFlight = false;
      rt.stats.inFlight--;
    }
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
        shardId: this.host.shardId,
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
          rt.log(`${this.host.shardId}: on-failure destination unavailable (${errorText(err)}), retrying`);
          await pause(callBackoffMs(failures), rt.abort);
        }
      }
      rt.stats.sentToDlq += records.length;
      rt.log(
        `${this.host.shardId}: ${records.length} record(s) ${first}..${last} sent to the DLQ (${condition})`,
      );
    } else {
      rt.log(
        `${this.host.shardId}: ${records.length} record(s) ${first}..${last} discarded (${condition}); no on-failure destination`,
      );
    }
    rt.stats.discarded += records.length;
    if (condition === 'RecordAgeExceeded') rt.stats.expired += records.length;
    this.complete(records);
  }

  private complete(records: readonly QueuedRecord[]): void {
    for (const r of records) this.host.progress.complete(r.position);
  }
}
