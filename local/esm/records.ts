/**
 * What Lambda's Kinesis event source mapping hands to a function and to an on-failure
 * destination, built as plain data: the event records, the invocation context, the lane
 * of a partition key, a batch's payload size and the invocation record sent when records
 * are discarded. Everything here is pure; `mapping.ts` does the I/O.
 *
 * Shapes follow the Lambda developer guide ("Using Lambda with Amazon Kinesis": example
 * event, example invocation record for an on-failure destination).
 */
import { createHash } from 'node:crypto';
import type { Context, KinesisStreamRecord } from 'aws-lambda';

/** Lambda's payload limit for a synchronous invocation (the batch is cut below it). */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

export class InvalidStreamArnError extends Error {
  constructor(arn: string) {
    super(`not a Kinesis stream ARN: "${arn}"`);
    this.name = 'InvalidStreamArnError';
  }
}

export interface StreamArnParts {
  partition: string;
  region: string;
  accountId: string;
  streamName: string;
}

export function parseStreamArn(arn: string): StreamArnParts {
  const m = /^arn:([^:]+):kinesis:([^:]*):([^:]*):stream\/(.+)$/.exec(arn);
  if (!m) throw new InvalidStreamArnError(arn);
  return { partition: m[1]!, region: m[2]!, accountId: m[3]!, streamName: m[4]! };
}

// The record shape itself is shared with the handler's catch-up (functions/lib/lambda-record.ts).
export { type RecordSource, toLambdaRecord } from '../../functions/lib/lambda-record.js';

/**
 * Serialized size of one record inside the event, in bytes (exact for ASCII keys, which
 * is what JSON.stringify of this object produces up to multi-byte partition keys).
 */
export function lambdaRecordBytes(record: KinesisStreamRecord): number {
  return Buffer.byteLength(JSON.stringify(record)) + 1;
}

/**
 * The lane (Lambda's "concurrent batch" of a shard) of a partition key: the same key always
 * maps to the same lane, so records of one key are processed in order even when
 * `parallelizationFactor` batches of one shard run at once.
 */
export function laneOf(partitionKey: string, lanes: number): number {
  if (lanes <= 1) return 0;
  return createHash('md5').update(partitionKey).digest().readUInt32BE(0) % lanes;
}

export interface FunctionIdentity {
  functionName: string;
  region: string;
  accountId: string;
  partition: string;
  memoryLimitInMB: number;
  timeoutMs: number;
}

export function functionArn(fn: FunctionIdentity): string {
  return `arn:${fn.partition}:lambda:${fn.region}:${fn.accountId}:function:${fn.functionName}`;
}

/** The execution role Lambda reports in `invokeIdentityArn` (a stand-in name locally). */
export function executionRoleArn(fn: FunctionIdentity): string {
  return `arn:${fn.partition}:iam::${fn.accountId}:role/${fn.functionName}-role`;
}

/** A fresh Context for one invocation; the remaining time counts down from `now`. */
export function invocationContext(fn: FunctionIdentity, requestId: string, now = Date.now()): Context {
  const deadline = now + fn.timeoutMs;
  const day = new Date(now).toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fn.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn(fn),
    memoryLimitInMB: String(fn.memoryLimitInMB),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${fn.functionName}`,
    logStreamName: `${day}/[$LATEST]${requestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export type OnFailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

/** The invocation record Lambda sends to an on-failure destination for a Kinesis source. */
export interface OnFailureMessage {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: OnFailureCondition;
    approximateInvokeCount: number;
  };
  responseContext: {
    statusCode: number;
    executedVersion: string;
    /** Present when the last invocation failed with an error ("Unhandled"). */
    functionError?: string;
  };
  version: '1.0';
  timestamp: string;
  KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

export interface DiscardedBatch {
  shardId: string;
  streamArn: string;
  /** The discarded records, in shard order (at least one). */
  records: readonly KinesisStreamRecord[];
  condition: OnFailureCondition;
  /** Request id of the last invocation that carried these records (a fresh id if none did). */
  requestId: string;
  /** Invocations that carried these records. */
  invokeCount: number;
  /** Whether the last of those invocations threw (rather than reporting item failures). */
  functionError: boolean;
}

export function onFailureMessage(
  fn: FunctionIdentity,
  batch: DiscardedBatch,
  now = new Date(),
): OnFailureMessage {
  const first = batch.records[0]!;
  const last = batch.records[batch.records.length - 1]!;
  const arrival = (r: KinesisStreamRecord) =>
    new Date(Math.round(r.kinesis.approximateArrivalTimestamp * 1000)).toISOString();
  return {
    requestContext: {
      requestId: batch.requestId,
      functionArn: functionArn(fn),
      condition: batch.condition,
      approximateInvokeCount: batch.invokeCount,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: '$LATEST',
      ...(batch.functionError ? { functionError: 'Unhandled' } : {}),
    },
    version: '1.0',
    timestamp: now.toISOString(),
    KinesisBatchInfo: {
      shardId: batch.shardId,
      startSequenceNumber: first.kinesis.sequenceNumber,
      endSequenceNumber: last.kinesis.sequenceNumber,
      approximateArrivalOfFirstRecord: arrival(first),
      approximateArrivalOfLastRecord: arrival(last),
      batchSize: batch.records.length,
      streamArn: batch.streamArn,
    },
  };
}
