/**
 * Recovery tools for a running windowpane (`npm run recover`): inspect and redrive the
 * event source mapping's on-failure queue (DLQ) and the invalid-record queue, and
 * re-process a stream range through the real window handler (backfill).
 *
 * Every function here is callable in-process (tests, scripts); `cli/recover.ts` only
 * parses flags, resolves the target and prints. Why the operations are safe:
 *
 * - DLQ redrive and backfill invoke the real handler with events shaped like Lambda's.
 *   The handler fences every sensor by the last applied sequence number of each shard, so
 *   a record that was already applied is a duplicate and changes nothing: both are safe
 *   to repeat. The same fence means a discarded record is dropped as a duplicate when the
 *   sensor's LATER records of that shard were applied after the discard (order per sensor
 *   is kept, so it cannot be slotted in behind them); the report shows such records as
 *   duplicates, and RECOVERY.md says what that means.
 * - Invalid redrive puts the original bytes back on the stream as NEW records: they get
 *   new sequence numbers and are processed once more. That is right only for records the
 *   handler rejected (they never touched any state), which is all the invalid queue holds.
 * - Queue messages are read without being deleted: they are received with a visibility
 *   timeout (hidden while this process works on them) and made visible again at the end;
 *   a message is deleted only once what it stands for was done.
 */
import { randomUUID } from 'node:crypto';
import {
  type _Record,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  ListShardsCommand,
  PutRecordCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent } from 'aws-lambda';
import { padSequence } from '../functions/domain/sequence.js';
import type { AwsClients } from '../functions/lib/clients.js';
import type { InvalidRecordMessage } from '../functions/lib/effects.js';
import type { BatchReport } from '../functions/pipeline/report.js';
import type { WindowHandler } from '../functions/window-handler/build.js';
import {
  type FunctionIdentity,
  invocationContext,
  type OnFailureMessage,
  parseStreamArn,
  type RecordSource,
  toLambdaRecord,
} from './esm/records.js';

export class RecoveryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RecoveryError';
  }
}

// ---------------------------------------------------------------------------------------
// Reading a queue without consuming it
// ---------------------------------------------------------------------------------------

export interface HeldMessage {
  messageId: string;
  receiptHandle: string;
  raw: string;
  body: unknown;
}

/** How long received messages stay hidden while the tool works on them (seconds). */
export const HOLD_SECONDS = { inspect: 60, apply: 900 } as const;

/**
 * Receives every message of the queue, up to `limit`, keeping each hidden for
 * `holdSeconds` so that one pass sees each message once. The caller deletes what it has
 * done and hands the rest to `releaseMessages`; if the process dies, they reappear by
 * themselves when the timeout ends.
 */
export async function holdMessages(
  clients: AwsClients,
  queueUrl: string,
  opts: { holdSeconds: number; limit?: number },
): Promise<HeldMessage[]> {
  const limit = opts.limit ?? 10_000;
  const held: HeldMessage[] = [];
  while (held.length < limit) {
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, limit - held.length),
        VisibilityTimeout: opts.holdSeconds,
        // Long polling asks every SQS server: an empty answer then means an empty queue.
        WaitTimeSeconds: 1,
      }),
    );
    if (Messages.length === 0) break;
    held.push(...Messages.map(toHeld));
  }
  return held;
}

function toHeld(m: Message): HeldMessage {
  const raw = m.Body ?? '';
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    body = undefined;
  }
  return { messageId: m.MessageId ?? '', receiptHandle: m.ReceiptHandle ?? '', raw, body };
}

/** Makes held messages visible again at once. */
export async function releaseMessages(
  clients: AwsClients,
  queueUrl: string,
  messages: readonly HeldMessage[],
): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    const { Failed = [] } = await clients.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((m, j) => ({
          Id: String(j),
          ReceiptHandle: m.receiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
    // The message reappears by itself when its timeout ends, but until then it looks gone: say so.
    if (Failed.length > 0) {
      throw new RecoveryError(
        `${Failed.length} message(s) of ${queueUrl} could not be made visible again ` +
          `(they reappear within the visibility timeout): ${Failed[0]?.Message}`,
      );
    }
  }
}

async function deleteMessage(clients: AwsClients, queueUrl: string, m: HeldMessage): Promise<void> {
  await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.receiptHandle }));
}

// ---------------------------------------------------------------------------------------
// Reading the stream and invoking the handler
// ---------------------------------------------------------------------------------------

/** Identity of the recovery "function" in the events and contexts it builds. */
const RECOVERY_FUNCTION: FunctionIdentity = {
  functionName: 'windowpane-recovery',
  region: 'us-east-1',
  accountId: '000000000000',
  partition: 'aws',
  memoryLimitInMB: 512,
  timeoutMs: 15 * 60_000,
};

/**
 * Sums of the handler's batch reports (`readings`: newly applied; `duplicates`: at or below
 * their sensor's last applied sequence number, so they changed nothing).
 */
export interface HandlerTotals
  extends Pick<
    BatchReport,
    | 'records'
    | 'readings'
    | 'duplicates'
    | 'invalid'
    | 'late'
    | 'alerts'
    | 'windowsFinalised'
    | 'failedSensors'
  > {
  invocations: number;
}

export function emptyTotals(): HandlerTotals {
  return {
    invocations: 0,
    records: 0,
    readings: 0,
    duplicates: 0,
    invalid: 0,
    late: 0,
    alerts: 0,
    windowsFinalised: 0,
    failedSensors: 0,
  };
}

function addReport(totals: HandlerTotals, report: BatchReport | undefined): void {
  totals.invocations++;
  if (!report) return;
  totals.records += report.records;
  totals.readings += report.readings;
  totals.duplicates += report.duplicates;
  totals.invalid += report.invalid;
  totals.late += report.late;
  totals.alerts += report.alerts;
  totals.windowsFinalised += report.windowsFinalised;
  totals.failedSensors += report.failedSensors;
}

/**
 * One invocation of the real handler with records of one shard, shaped as Lambda shapes
 * them. Returns whether the handler reported every record done; a throw propagates.
 */
async function invoke(
  handler: WindowHandler,
  source: { shardId: string; streamArn: string },
  records: readonly _Record[],
  totals: HandlerTotals,
): Promise<boolean> {
  const recordSource: RecordSource = {
    shardId: source.shardId,
    streamArn: source.streamArn,
    region: RECOVERY_FUNCTION.region,
    invokeIdentityArn: `arn:aws:iam::${RECOVERY_FUNCTION.accountId}:role/${RECOVERY_FUNCTION.functionName}`,
  };
  const event: KinesisStreamEvent = { Records: records.map((r) => toLambdaRecord(r, recordSource)) };
  const response = await handler(event, invocationContext(RECOVERY_FUNCTION, randomUUID()));
  addReport(totals, handler.lastReport());
  return (response?.batchItemFailures ?? []).length === 0;
}

/** Retries of one batch whose handler reported failures (it is idempotent, so the whole batch). */
const INVOKE_ATTEMPTS = 3;

async function invokeWithRetries(
  handler: WindowHandler,
  source: { shardId: string; streamArn: string },
  records: readonly _Record[],
  totals: HandlerTotals,
): Promise<boolean> {
  for (let attempt = 1; attempt <= INVOKE_ATTEMPTS; attempt++) {
    if (await invoke(handler, source, records, totals)) return true;
    await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
  }
  return false;
}

/**
 * Records of one shard from `iterator`, page by page, until `stop` says a record is past
 * the range (it is not returned), the shard's tip is reached or a closed shard ends.
 */
async function* readShard(
  clients: AwsClients,
  iteratorInput: GetShardIteratorCommandInput,
  stop: (record: _Record) => boolean,
): AsyncGenerator<_Record[]> {
  let { ShardIterator: iterator } = await clients.kinesis.send(new GetShardIteratorCommand(iteratorInput));
  while (iterator) {
    const page = await clients.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1_000 }));
    const records = page.Records ?? [];
    const cut = records.findIndex(stop);
    if (cut >= 0) {
      if (cut > 0) yield records.slice(0, cut);
      return;
    }
    if (records.length > 0) yield records;
    // At the tip: MillisBehindLatest 0 with nothing (more) to read.
    if (records.length === 0 && page.MillisBehindLatest === 0) return;
    iterator = page.NextShardIterator;
  }
}

// ---------------------------------------------------------------------------------------
// The on-failure queue (DLQ)
// ---------------------------------------------------------------------------------------

export interface DlqEntry {
  messageId: string;
  /** Parsed when the body is Lambda's Kinesis invocation record; else `undefined`. */
  failure?: {
    condition: string;
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    batchSize: number;
    streamArn: string;
    streamName: string;
    timestamp: string;
    approximateInvokeCount: number;
    firstArrival: string;
    lastArrival: string;
  };
  /** Why the body was not understood (such a message is never deleted). */
  unrecognised?: string;
}

function parseDlqMessage(m: HeldMessage): DlqEntry {
  const body = m.body as Partial<OnFailureMessage> | undefined;
  const info = body?.KinesisBatchInfo;
  if (!info || typeof info.shardId !== 'string' || typeof info.startSequenceNumber !== 'string') {
    return { messageId: m.messageId, unrecognised: 'not a Lambda Kinesis on-failure record' };
  }
  let streamName: string;
  try {
    streamName = parseStreamArn(info.streamArn).streamName;
  } catch (err) {
    return { messageId: m.messageId, unrecognised: (err as Error).message };
  }
  return {
    messageId: m.messageId,
    failure: {
      condition: body.requestContext?.condition ?? 'unknown',
      shardId: info.shardId,
      startSequenceNumber: info.startSequenceNumber,
      endSequenceNumber: info.endSequenceNumber,
      batchSize: info.batchSize,
      streamArn: info.streamArn,
      streamName,
      timestamp: body.timestamp ?? '',
      approximateInvokeCount: body.requestContext?.approximateInvokeCount ?? 0,
      firstArrival: info.approximateArrivalOfFirstRecord,
      lastArrival: info.approximateArrivalOfLastRecord,
    },
  };
}

/** Every message of the DLQ, left in the queue. */
export async function listDlq(clients: AwsClients, dlqUrl: string): Promise<DlqEntry[]> {
  const held = await holdMessages(clients, dlqUrl, { holdSeconds: HOLD_SECONDS.inspect });
  try {
    return held.map(parseDlqMessage);
  } finally {
    await releaseMessages(clients, dlqUrl, held);
  }
}

export interface DlqRangeResult {
  entry: DlqEntry;
  /** Records of the range still in the stream. */
  found: number;
  /**
   * False when the range's first record is gone (past the stream's retention): what is
   * left cannot be redriven completely.
   */
  inRetention: boolean;
  outcome: 'would-redrive' | 'redriven' | 'failed' | 'expired' | 'unrecognised';
  /** The handler's counts for this range (with apply). */
  totals?: HandlerTotals;
  error?: string;
}

export interface DlqRedriveReport {
  apply: boolean;
  ranges: DlqRangeResult[];
  totals: HandlerTotals;
  /** Messages deleted from the DLQ (apply only). */
  deleted: number;
}

/** The records of an on-failure range, read back from the stream. */
async function readRange(clients: AwsClients, f: NonNullable<DlqEntry['failure']>): Promise<_Record[]> {
  const end = padSequence(f.endSequenceNumber);
  const out: _Record[] = [];
  for await (const page of readShard(
    clients,
    {
      StreamName: f.streamName,
      ShardId: f.shardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      StartingSequenceNumber: f.startSequenceNumber,
    },
    (r) => padSequence(r.SequenceNumber ?? '0') > end,
  )) {
    out.push(...page);
  }
  return out;
}

/**
 * Re-processes each on-failure range through `handler` (apply) or says what would be
 * done (dry run). A message is deleted only when the handler reported no failure for its
 * range; ranges no longer (completely) in the stream are left alone.
 */
export async function redriveDlq(opts: {
  clients: AwsClients;
  dlqUrl: string;
  handler?: WindowHandler;
  apply: boolean;
  log?: (line: string) => void;
}): Promise<DlqRedriveReport> {
  const { clients, dlqUrl } = opts;
  if (opts.apply && !opts.handler) throw new RecoveryError('redrive with apply needs the window handler');
  const held = await holdMessages(clients, dlqUrl, {
    holdSeconds: opts.apply ? HOLD_SECONDS.apply : HOLD_SECONDS.inspect,
  });
  const report: DlqRedriveReport = { apply: opts.apply, ranges: [], totals: emptyTotals(), deleted: 0 };
  const done = new Set<HeldMessage>();
  try {
    for (const m of held) {
      const entry = parseDlqMessage(m);
      const f = entry.failure;
      if (!f) {
        report.ranges.push({ entry, found: 0, inRetention: false, outcome: 'unrecognised' });
        continue;
      }
      let records: _Record[];
      try {
        records = await readRange(clients, f);
      } catch (err) {
        report.ranges.push({ entry, found: 0, inRetention: false, outcome: 'failed', error: errorText(err) });
        continue;
      }
      const inRetention = records[0]?.SequenceNumber === f.startSequenceNumber;
      const result: DlqRangeResult = { entry, found: records.length, inRetention, outcome: 'would-redrive' };
      report.ranges.push(result);
      if (!inRetention) {
        result.outcome = 'expired';
        continue;
      }
      if (!opts.apply || !opts.handler) {
        continue;
      }
      const totals = emptyTotals();
      result.totals = totals;
      try {
        const ok = await invokeWithRetries(
          opts.handler,
          { shardId: f.shardId, streamArn: f.streamArn },
          records,
          totals,
        );
        mergeTotals(report.totals, totals);
        if (!ok) {
          result.outcome = 'failed';
          result.error = 'the handler reported failed records';
          continue;
        }
      } catch (err) {
        mergeTotals(report.totals, totals);
        result.outcome = 'failed';
        result.error = errorText(err);
        continue;
      }
      await deleteMessage(clients, dlqUrl, m);
      done.add(m);
      report.deleted++;
      result.outcome = 'redriven';
      opts.log?.(`redriven ${f.shardId} ${f.startSequenceNumber}..${f.endSequenceNumber}`);
    }
  } finally {
    await releaseMessages(
      clients,
      dlqUrl,
      held.filter((m) => !done.has(m)),
    );
  }
  return report;
}

function mergeTotals(into: HandlerTotals, from: HandlerTotals): void {
  for (const key of Object.keys(into) as (keyof HandlerTotals)[]) into[key] += from[key];
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}` : String(err);
}

// ---------------------------------------------------------------------------------------
// The invalid-record queue
// ---------------------------------------------------------------------------------------

export interface InvalidExample {
  id: string;
  reason: string;
  detail: string;
  partitionKey: string;
  byteLength: number;
  truncated: boolean;
  /** The first bytes, as text with control characters escaped. */
  head: string;
}

export interface InvalidSummary {
  total: number;
  byReason: Record<string, number>;
  /** Messages that are not invalid-record messages. */
  unrecognised: number;
  truncated: number;
  examples: InvalidExample[];
}

function parseInvalidMessage(m: HeldMessage): InvalidRecordMessage | undefined {
  const b = m.body as Partial<InvalidRecordMessage> | undefined;
  if (
    !b ||
    typeof b.reason !== 'string' ||
    typeof b.data !== 'string' ||
    typeof b.partitionKey !== 'string'
  ) {
    return undefined;
  }
  return b as InvalidRecordMessage;
}

const HEAD_BYTES = 60;

function headOf(data: string): string {
  const bytes = Buffer.from(data, 'base64').subarray(0, HEAD_BYTES);
  return JSON.stringify(bytes.toString('utf8')).slice(1, -1);
}

/** Counts the invalid-record queue by reason, with up to `examples` examples (left in the queue). */
export async function listInvalid(
  clients: AwsClients,
  queueUrl: string,
  opts: { examples?: number } = {},
): Promise<InvalidSummary> {
  const held = await holdMessages(clients, queueUrl, { holdSeconds: HOLD_SECONDS.inspect });
  try {
    const summary: InvalidSummary = {
      total: held.length,
      byReason: {},
      unrecognised: 0,
      truncated: 0,
      examples: [],
    };
    const wanted = opts.examples ?? 5;
    for (const m of held) {
      const msg = parseInvalidMessage(m);
      if (!msg) {
        summary.unrecognised++;
        continue;
      }
      summary.byReason[msg.reason] = (summary.byReason[msg.reason] ?? 0) + 1;
      if (msg.truncated) summary.truncated++;
      if (summary.examples.length < wanted) {
        summary.examples.push({
          id: msg.id,
          reason: msg.reason,
          detail: msg.detail,
          partitionKey: msg.partitionKey,
          byteLength: msg.byteLength,
          truncated: msg.truncated === true,
          head: headOf(msg.data),
        });
      }
    }
    return summary;
  } finally {
    await releaseMessages(clients, queueUrl, held);
  }
}

export interface InvalidRedriveItem {
  id: string;
  reason: string;
  partitionKey: string;
  byteLength: number;
  outcome: 'would-send' | 'sent' | 'refused-truncated' | 'failed';
  /** The new record's sequence number (apply). */
  newSequenceNumber?: string;
  shardId?: string;
  error?: string;
}

export interface InvalidRedriveReport {
  apply: boolean;
  reason?: string;
  /** Messages matching the reason filter. */
  selected: number;
  /** Messages left alone: another reason, or not an invalid-record message. */
  skipped: number;
  items: InvalidRedriveItem[];
  sent: number;
  refused: number;
  failed: number;
}

/**
 * Sends the original bytes of invalid records back to the stream (partition key as
 * before), after the configuration was fixed to accept them. Each is a NEW record. A
 * message is deleted only after its PutRecord succeeded; truncated messages (a prefix and
 * a hash, not the record) are refused and kept.
 */
export async function redriveInvalid(opts: {
  clients: AwsClients;
  queueUrl: string;
  streamName: string;
  apply: boolean;
  reason?: string;
}): Promise<InvalidRedriveReport> {
  const { clients, queueUrl } = opts;
  const held = await holdMessages(clients, queueUrl, {
    holdSeconds: opts.apply ? HOLD_SECONDS.apply : HOLD_SECONDS.inspect,
  });
  const report: InvalidRedriveReport = {
    apply: opts.apply,
    ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
    selected: 0,
    skipped: 0,
    items: [],
    sent: 0,
    refused: 0,
    failed: 0,
  };
  const done = new Set<HeldMessage>();
  try {
    for (const m of held) {
      const msg = parseInvalidMessage(m);
      if (!msg || (opts.reason !== undefined && msg.reason !== opts.reason)) {
        report.skipped++;
        continue;
      }
      report.selected++;
      const item: InvalidRedriveItem = {
        id: msg.id,
        reason: msg.reason,
        partitionKey: msg.partitionKey,
        byteLength: msg.byteLength,
        outcome: 'would-send',
      };
      report.items.push(item);
      if (msg.truncated) {
        item.outcome = 'refused-truncated';
        report.refused++;
        continue;
      }
      if (!opts.apply) continue;
      try {
        const out = await clients.kinesis.send(
          new PutRecordCommand({
            StreamName: opts.streamName,
            PartitionKey: msg.partitionKey,
            Data: Buffer.from(msg.data, 'base64'),
          }),
        );
        item.outcome = 'sent';
        if (out.SequenceNumber) item.newSequenceNumber = out.SequenceNumber;
        if (out.ShardId) item.shardId = out.ShardId;
        report.sent++;
      } catch (err) {
        item.outcome = 'failed';
        item.error = errorText(err);
        report.failed++;
        continue;
      }
      await deleteMessage(clients, queueUrl, m);
      done.add(m);
    }
  } finally {
    await releaseMessages(
      clients,
      queueUrl,
      held.filter((m) => !done.has(m)),
    );
  }
  return report;
}

// ---------------------------------------------------------------------------------------
// Backfill
// ---------------------------------------------------------------------------------------

export type BackfillStart =
  | { kind: 'timestamp'; at: Date }
  | { kind: 'sequence'; shardId: string; sequenceNumber: string };

export interface BackfillShardResult {
  shardId: string;
  records: number;
  invocations: number;
}

export interface BackfillReport {
  apply: boolean;
  streamName: string;
  shards: BackfillShardResult[];
  /** Records read from the stream in the range. */
  recordsRead: number;
  /** The handler's counts (apply only). */
  totals: HandlerTotals;
}

/** Parents before children, so a sensor's records are processed in order across a reshard. */
export function orderShards(shards: readonly Shard[]): Shard[] {
  const ids = new Set(shards.map((s) => s.ShardId));
  const done = new Set<string>();
  const out: Shard[] = [];
  let pending = [...shards].sort((a, b) => ((a.ShardId ?? '') < (b.ShardId ?? '') ? -1 : 1));
  while (pending.length > 0) {
    const ready = pending.filter((s) =>
      [s.ParentShardId, s.AdjacentParentShardId].every((p) => !p || !ids.has(p) || done.has(p)),
    );
    // A cycle cannot happen in Kinesis; if the listing were inconsistent, keep going in id order.
    const next = ready.length > 0 ? ready : pending.slice(0, 1);
    for (const s of next) {
      out.push(s);
      done.add(s.ShardId ?? '');
    }
    pending = pending.filter((s) => !next.includes(s));
  }
  return out;
}

async function listShards(clients: AwsClients, streamName: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    const page = await clients.kinesis.send(
      new ListShardsCommand(token ? { NextToken: token } : { StreamName: streamName }),
    );
    shards.push(...(page.Shards ?? []));
    token = page.NextToken;
  } while (token);
  return shards;
}

async function streamArnOf(clients: AwsClients, streamName: string): Promise<string> {
  const out = await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
  const arn = out.StreamDescriptionSummary?.StreamARN;
  if (!arn) throw new RecoveryError(`stream ${streamName} has no ARN`);
  return arn;
}

/**
 * Re-processes a range of the stream through `handler`, shard by shard in order (parents
 * before children), in batches of `batchSize`. Records already applied are duplicates, so
 * on a range that was processed before the results stay the same. Without `apply` the
 * range is only read and counted.
 */
export async function backfill(opts: {
  clients: AwsClients;
  streamName: string;
  from: BackfillStart;
  /** Stop at records that arrived after this time. */
  to?: Date;
  handler?: WindowHandler;
  apply: boolean;
  batchSize?: number;
  log?: (line: string) => void;
}): Promise<BackfillReport> {
  const { clients, streamName, from } = opts;
  if (opts.apply && !opts.handler) throw new RecoveryError('backfill with apply needs the window handler');
  const batchSize = opts.batchSize ?? 500;
  const streamArn = await streamArnOf(clients, streamName);
  const all = orderShards(await listShards(clients, streamName));
  const shards = from.kind === 'sequence' ? all.filter((s) => s.ShardId === from.shardId) : all;
  if (from.kind === 'sequence' && shards.length === 0) {
    throw new RecoveryError(`stream ${streamName} has no shard ${from.shardId}`);
  }
  const report: BackfillReport = {
    apply: opts.apply,
    streamName,
    shards: [],
    recordsRead: 0,
    totals: emptyTotals(),
  };
  const toMs = opts.to?.getTime();
  const pastEnd = (r: _Record) =>
    toMs !== undefined && (r.ApproximateArrivalTimestamp?.getTime() ?? 0) > toMs;

  for (const shard of shards) {
    const shardId = shard.ShardId!;
    const result: BackfillShardResult = { shardId, records: 0, invocations: 0 };
    report.shards.push(result);
    const iteratorInput: GetShardIteratorCommandInput =
      from.kind === 'sequence'
        ? {
            StreamName: streamName,
            ShardId: shardId,
            ShardIteratorType: 'AT_SEQUENCE_NUMBER',
            StartingSequenceNumber: from.sequenceNumber,
          }
        : { StreamName: streamName, ShardId: shardId, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: from.at };
    let pending: _Record[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      if (!opts.apply || !opts.handler) return;
      result.invocations++;
      const ok = await invokeWithRetries(opts.handler, { shardId, streamArn }, batch, report.totals);
      if (!ok) {
        throw new RecoveryError(
          `backfill stopped: the handler kept reporting failures for ${shardId} ` +
            `${batch[0]?.SequenceNumber}..${batch.at(-1)?.SequenceNumber}; ` +
            `re-run with --from-sequence ${shardId}:${batch[0]?.SequenceNumber}`,
        );
      }
    };
    for await (const page of readShard(clients, iteratorInput, pastEnd)) {
      result.records += page.length;
      report.recordsRead += page.length;
      for (const r of page) {
        pending.push(r);
        if (pending.length >= batchSize) await flush();
      }
    }
    await flush();
    opts.log?.(`${shardId}: ${result.records} record(s)`);
  }
  return report;
}
