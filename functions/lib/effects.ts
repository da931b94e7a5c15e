/**
 * Delivery of the effects of committed state: final windows to the results table, alerts
 * to SNS, late readings and invalid records to their SQS queues.
 *
 * Why this order cannot lose an effect, and duplicates an alert only in one narrow case:
 * - An effect exists only after the state change that caused it has been committed, in
 *   the outbox of that same item. Until every effect in it is confirmed delivered, the
 *   batch is reported failed (batchItemFailures) and Lambda redelivers it; the retry
 *   finds the outbox in the stored state and delivers what this process has not seen
 *   delivered. Nothing is lost.
 * - Final windows: a conditional put on (sensorId, windowKey). A second delivery fails
 *   the condition and changes nothing: exactly once.
 * - Alerts: the alert ledger holds one item per alertId, written AFTER the SNS publish
 *   succeeded and read BEFORE publishing. Writing the ledger first could lose an alert
 *   (crash between ledger write and publish: the retry sees "published" and skips it).
 *   Publishing first can duplicate, and only in one place: the process dies after SNS
 *   accepted a message and before the ledger write recording it. The handler keeps that
 *   gap as small as it can: alerts are published in a phase of their own, after every
 *   sensor's state is committed, and their ledger entries are written in one
 *   BatchWriteItem right after the publishes. A crash anywhere else (before the publish,
 *   or after the ledger write) publishes nothing twice; a crash in the gap redelivers a
 *   byte-identical message with the same alertId (derived from sensor, rule and cooldown
 *   bucket). No order of "record" and "publish" can close that gap against a
 *   non-idempotent sink, and SNS standard topics are at-least-once anyway: subscribers
 *   drop repeats by alertId (the local console and `replay` do).
 * - Late readings and invalid records go to SQS with deterministic ids (shard and
 *   sequence number): at-least-once, deduplicated by id downstream.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { SNSClient } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Transition } from '../domain/alarms/transition.js';
import { WindowpaneError } from '../domain/errors.js';
import type { Alert } from '../domain/rules.js';
import type { ActionOutcome, FinalWindow, LateReading, Outbox } from '../domain/state.js';
import { AlarmProjection } from './alarm-projection.js';
import { batchGetAll, type WriteCounter } from './dynamo-batch.js';
import { runPool } from './pool.js';
import { alertMessage, publishOnce, transitionMessage } from './publish-once.js';
import { BACKOFF, backoffDelay, sleep } from './retry.js';

/** An effect could not be delivered; the batch is reported failed and retried. */
export class DeliveryError extends WindowpaneError {}

export interface EffectTargets {
  resultsTable: string;
  /** Output stream of final windows (optional): one record per final window. */
  resultsStreamName?: string;
  alertLedgerTable: string;
  alertTopicArn: string;
  lateQueueUrl: string;
  invalidQueueUrl: string;
  ledgerTtlDays: number;
  /** The alarms projection (A-C4); absent: transitions are published only. */
  alarmsTable?: string;
}

export interface DeliveryCounts {
  results: number;
  resultsAlreadyPresent: number;
  alertsPublished: number;
  /** Alerts and transitions skipped because the ledger had them. */
  alertsAlreadyPublished: number;
  transitionsPublished: number;
  late: number;
}

/** Identifies a final window on the output stream: `<sensorId>#<windowKey>`. */
export function resultId(result: Pick<FinalWindow, 'sensorId' | 'windowKey'>): string {
  return `${result.sensorId}#${result.windowKey}`;
}

export function emptyCounts(): DeliveryCounts {
  return {
    results: 0,
    resultsAlreadyPresent: 0,
    alertsPublished: 0,
    alertsAlreadyPublished: 0,
    transitionsPublished: 0,
    late: 0,
  };
}

export interface InvalidRecordMessage {
  /** `<shardId>:<sequenceNumber>` */
  id: string;
  reason: string;
  detail: string;
  partitionKey: string;
  shardId: string;
  sequenceNumber: string;
  /**
   * For a user record of a KPL aggregate: its index there (`id` ends `.<subIndex>` above
   * 0), and `data` and `partitionKey` are the user record's own.
   */
  subIndex?: number;
  approximateArrivalTimestamp?: number;
  /** The record's original bytes, base64. */
  data: string;
  byteLength: number;
  /** Set when the bytes did not fit in one queue message; `sha256` identifies them. */
  truncated?: boolean;
  sha256?: string;
}

/** SQS's message size limit (256 KiB on most implementations) minus envelope headroom. */
const MAX_SQS_BODY_BYTES = 250_000;
/** SendMessageBatch takes at most 10 entries (SQS limit). */
const SQS_BATCH_MAX_ENTRIES = 10;
/** Bytes a queue entry costs beyond its body (id, attributes), when filling a batch. */
const SQS_ENTRY_OVERHEAD_BYTES = 200;
/** Room kept for the invalid-record message's other fields when its data is truncated. */
const INVALID_MESSAGE_FIELDS_BYTES = 2_000;
/** PutRecords takes at most 500 records (Kinesis limit). */
const PUT_RECORDS_MAX = 500;

export { ALERT_PUBLISH_CONCURRENCY } from './publish-once.js';
/** Conditional puts of final windows in flight at once, per delivery. */
export const RESULT_PUT_CONCURRENCY = 16;

export interface EffectDeliveryOptions {
  doc: DynamoDBDocumentClient;
  sns: SNSClient;
  sqs: SQSClient;
  /** Needed when `targets.resultsStreamName` is set. */
  kinesis?: KinesisClient;
  targets: EffectTargets;
  /** Counts DynamoDB write requests; shared with the state store for the batch report. */
  counter?: WriteCounter;
  /** Processing time (epoch ms): `finalisedAt` of results, `publishedAt` of ledger entries. */
  now?: () => number;
}

export class EffectDelivery {
  private readonly doc: DynamoDBDocumentClient;
  private readonly sns: SNSClient;
  private readonly sqs: SQSClient;
  private readonly kinesis: KinesisClient | undefined;
  private readonly targets: EffectTargets;
  private readonly counter: WriteCounter;
  private readonly now: () => number;
  private readonly projection: AlarmProjection | undefined;

  constructor(options: EffectDeliveryOptions) {
    if (options.targets.resultsStreamName && !options.kinesis) {
      throw new DeliveryError('a results stream is configured but no Kinesis client was given');
    }
    this.doc = options.doc;
    this.sns = options.sns;
    this.sqs = options.sqs;
    this.kinesis = options.kinesis;
    this.targets = options.targets;
    this.counter = options.counter ?? { writes: 0 };
    this.now = options.now ?? Date.now;
    this.projection = options.targets.alarmsTable
      ? new AlarmProjection({
          doc: options.doc,
          tableName: options.targets.alarmsTable,
          counter: this.counter,
          now: this.now,
        })
      : undefined;
  }

  /** Final windows and late readings of an outbox (alerts go through `deliverAlerts`). */
  async deliverWindowsAndLate(
    outbox: Outbox,
    counts: DeliveryCounts = emptyCounts(),
  ): Promise<DeliveryCounts> {
    await this.putResults(outbox.results, counts);
    await this.sendLate(outbox.late, counts);
    return counts;
  }

  /**
   * Publishes the alerts and alarm transitions the ledger does not know yet, then records
   * them in the ledger right after the publishes (functions/lib/publish-once.ts); then,
   * with an alarms table, writes the transitions and the actions' outcomes to the alarms
   * projection (A-C4), so a row there means its transition was published.
   */
  async deliverAlerts(
    alerts: readonly Alert[],
    counts: DeliveryCounts = emptyCounts(),
    transitions: readonly Transition[] = [],
    actions: readonly ActionOutcome[] = [],
  ): Promise<DeliveryCounts> {
    if (alerts.length === 0 && transitions.length === 0 && actions.length === 0) return counts;
    const out = await publishOnce(
      {
        doc: this.doc,
        sns: this.sns,
        topicArn: this.targets.alertTopicArn,
        ledgerTable: this.targets.alertLedgerTable,
        ledgerTtlDays: this.targets.ledgerTtlDays,
        counter: this.counter,
        now: this.now,
      },
      [...alerts.map(alertMessage), ...transitions.map(transitionMessage)],
    );
    const transitionIds = new Set(transitions.map((t) => t.transitionId));
    const published = out.published.filter((id) => transitionIds.has(id)).length;
    counts.transitionsPublished += published;
    counts.alertsPublished += out.published.length - published;
    counts.alertsAlreadyPublished += out.alreadyPublished;
    if (out.failure !== undefined) throw new DeliveryError('alert publish failed', { cause: out.failure });
    await this.projection?.write(transitions, actions);
    return counts;
  }

  /**
   * Final windows: to the output stream (when configured), then a conditional put on the
   * results table. The table is the ledger of emission: a window already there was
   * emitted, and is neither put nor streamed again. The stream record precedes the put,
   * so a crash between them re-sends an identical record (same `resultId`) rather than
   * losing it; consumers of the stream drop repeats by `resultId`, as Kinesis consumers
   * must anyway (producer retries duplicate records too).
   */
  private async putResults(results: readonly FinalWindow[], counts: DeliveryCounts): Promise<void> {
    if (results.length === 0) return;
    let pending = results;
    if (this.targets.resultsStreamName) {
      const existing = await this.existingResults(results);
      pending = results.filter((r) => !existing.has(resultId(r)));
      counts.resultsAlreadyPresent += results.length - pending.length;
      await this.streamResults(pending);
    }
    // Each put is conditional on its own key, so their order does not matter; a sensor's
    // backlog closes hundreds of windows a commit (SEMANTICS.md "Bounds" B2).
    await runPool(pending, RESULT_PUT_CONCURRENCY, async (result) => {
      this.counter.writes++;
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.targets.resultsTable,
            Item: { ...result, finalisedAt: this.now() },
            ConditionExpression: 'attribute_not_exists(sensorId)',
          }),
        );
        counts.results++;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        counts.resultsAlreadyPresent++;
      }
    });
  }

  private async existingResults(results: readonly FinalWindow[]): Promise<Set<string>> {
    const table = this.targets.resultsTable;
    const items = await batchGetAll(this.doc, {
      table,
      keys: results.map((r) => ({ sensorId: r.sensorId, windowKey: r.windowKey })),
      command: (keys) =>
        new BatchGetCommand({
          RequestItems: {
            [table]: {
              Keys: keys,
              ConsistentRead: true,
              ProjectionExpression: '#s, #w',
              ExpressionAttributeNames: { '#s': 'sensorId', '#w': 'windowKey' },
            },
          },
        }),
    });
    return new Set(items.map((item) => `${item.sensorId}#${item.windowKey}`));
  }

  /**
   * PutRecords in order; when entries fail (throttling), everything from the first failed
   * entry on is sent again, so records of one sensor keep their order on the stream.
   */
  private async streamResults(results: readonly FinalWindow[]): Promise<void> {
    const kinesis = this.kinesis!;
    let pending = results.map((r) => ({
      PartitionKey: r.sensorId,
      Data: Buffer.from(JSON.stringify({ resultId: resultId(r), ...r })),
    }));
    const policy = BACKOFF.failedEntries;
    let failedTries = 0; // consecutive tries that left records unsent
    while (pending.length > 0) {
      const chunk = pending.slice(0, PUT_RECORDS_MAX);
      const out = await kinesis.send(
        new PutRecordsCommand({ StreamName: this.targets.resultsStreamName, Records: chunk }),
      );
      const firstFailed = (out.Records ?? []).findIndex((r) => r.ErrorCode);
      if (firstFailed === -1) {
        pending = pending.slice(chunk.length);
        failedTries = 0;
        continue;
      }
      pending = pending.slice(firstFailed);
      if (++failedTries >= policy.maxAttempts)
        throw new DeliveryError(`results stream rejected records after ${failedTries} tries`);
      await sleep(backoffDelay(failedTries, policy));
    }
  }

  private async sendLate(late: readonly LateReading[], counts: DeliveryCounts): Promise<void> {
    await sendJsonMessages(
      this.sqs,
      this.targets.lateQueueUrl,
      late.map((l) => ({ id: l.id, body: l, sensorId: l.sensorId })),
    );
    counts.late += late.length;
  }

  /**
   * Sends invalid records to the invalid-record queue. Returns the ids that could not be
   * sent after retries (the caller reports their records as failed, never drops them).
   */
  async sendInvalid(messages: readonly InvalidRecordMessage[]): Promise<void> {
    await sendJsonMessages(
      this.sqs,
      this.targets.invalidQueueUrl,
      messages.map((m) => ({ id: m.id, body: fitInvalidMessage(m), sensorId: m.partitionKey })),
    );
  }
}

/** Keeps the message under the queue's size limit; the bytes' hash still identifies them. */
function fitInvalidMessage(message: InvalidRecordMessage): InvalidRecordMessage {
  if (JSON.stringify(message).length <= MAX_SQS_BODY_BYTES) return message;
  const keep = Math.floor(((MAX_SQS_BODY_BYTES - INVALID_MESSAGE_FIELDS_BYTES) * 3) / 4);
  const bytes = Buffer.from(message.data, 'base64');
  return {
    ...message,
    data: bytes.subarray(0, keep).toString('base64'),
    truncated: true,
    // The whole record stays in the stream for its retention period; the hash finds it.
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

interface OutgoingMessage {
  id: string;
  body: unknown;
  sensorId: string;
}

/**
 * SendMessageBatch in groups of 10 within the 256 KiB batch limit; entries the queue
 * reports failed are retried with backoff, and anything still failing throws.
 */
export async function sendJsonMessages(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly OutgoingMessage[],
) {
  const groups: OutgoingMessage[][] = [];
  let group: OutgoingMessage[] = [];
  let groupBytes = 0;
  for (const m of messages) {
    const bytes = JSON.stringify(m.body).length + SQS_ENTRY_OVERHEAD_BYTES;
    if (
      group.length === SQS_BATCH_MAX_ENTRIES ||
      (group.length > 0 && groupBytes + bytes > MAX_SQS_BODY_BYTES)
    ) {
      groups.push(group);
      group = [];
      groupBytes = 0;
    }
    group.push(m);
    groupBytes += bytes;
  }
  if (group.length > 0) groups.push(group);

  const policy = BACKOFF.failedEntries;

  for (const g of groups) {
    let pending = g.map((m, i) => ({
      Id: `m${i}`,
      MessageBody: JSON.stringify(m.body),
      MessageAttributes: {
        recordId: { DataType: 'String', StringValue: m.id },
        ...(m.sensorId ? { sensorId: { DataType: 'String', StringValue: m.sensorId.slice(0, 256) } } : {}),
      },
    }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) await sleep(backoffDelay(attempt - 1, policy));
      const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }));
      const failed = new Set((out.Failed ?? []).map((f) => f.Id));
      const senderFault = (out.Failed ?? []).find((f) => f.SenderFault);
      if (senderFault) {
        throw new DeliveryError(
          `queue ${queueUrl} rejected a message: ${senderFault.Code} ${senderFault.Message}`,
        );
      }
      pending = pending.filter((e) => failed.has(e.Id));
      if (pending.length > 0 && attempt >= policy.maxAttempts) {
        throw new DeliveryError(`queue ${queueUrl} failed ${pending.length} messages after ${attempt} tries`);
      }
    }
  }
}
