/**
 * Builds Lambda `KinesisStreamEvent`s from plain records, in the exact shape the Kinesis
 * event source mapping delivers (base64 data, `shardId:sequenceNumber` event ids,
 * arrival time in epoch seconds). Used by unit tests, by the integration tests to wrap
 * records read back from kinesis-local, and to generate `events/kinesis-batch.json`.
 */
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

export interface KinesisRecordInput {
  partitionKey: string;
  data: Uint8Array;
  /** Kinesis sequence number, a decimal string (see `fakeSequenceNumber`). */
  sequenceNumber: string;
  /** Default `shardId-000000000000`. */
  shardId?: string;
  /** Epoch seconds (as Lambda sends it) or a Date (as the SDK's GetRecords returns it). Default: now. */
  approximateArrivalTimestamp?: number | Date;
}

export interface KinesisEventOptions {
  /** Default DEFAULT_STREAM_ARN; the region of every record is taken from it. */
  streamArn?: string;
  /** Default DEFAULT_INVOKE_IDENTITY_ARN. */
  invokeIdentityArn?: string;
}

export const DEFAULT_STREAM_ARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/windowpane-readings';
export const DEFAULT_INVOKE_IDENTITY_ARN = 'arn:aws:iam::123456789012:role/windowpane-window-handler';
export const DEFAULT_SHARD_ID = 'shardId-000000000000';

export class InvalidStreamArnError extends Error {
  constructor(readonly arn: string) {
    super(`not a Kinesis stream ARN: ${arn}`);
    this.name = 'InvalidStreamArnError';
  }
}

const STREAM_ARN = /^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):\d{12}:stream\/[A-Za-z0-9_.-]{1,128}$/;

export function buildKinesisEvent(
  records: readonly KinesisRecordInput[],
  options: KinesisEventOptions = {},
): KinesisStreamEvent {
  const streamArn = options.streamArn ?? DEFAULT_STREAM_ARN;
  const awsRegion = STREAM_ARN.exec(streamArn)?.[1];
  if (awsRegion === undefined) throw new InvalidStreamArnError(streamArn);
  const invokeIdentityArn = options.invokeIdentityArn ?? DEFAULT_INVOKE_IDENTITY_ARN;
  const now = Date.now() / 1000;
  return {
    Records: records.map(
      (r): KinesisStreamRecord => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.partitionKey,
          sequenceNumber: r.sequenceNumber,
          data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).toString('base64'),
          approximateArrivalTimestamp: toEpochSeconds(r.approximateArrivalTimestamp) ?? now,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${r.shardId ?? DEFAULT_SHARD_ID}:${r.sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn,
        awsRegion,
        eventSourceARN: streamArn,
      }),
    ),
  };
}

function toEpochSeconds(value: number | Date | undefined): number | undefined {
  return value instanceof Date ? value.getTime() / 1000 : value;
}

/**
 * A sequence number shaped like Kinesis's (56 decimal digits starting with 49) that
 * orders like `n`, both as a number and as a string. Real ones are larger than 2^53 and
 * must stay strings, as these do.
 */
export function fakeSequenceNumber(n: number | bigint): string {
  const digits = BigInt(n).toString();
  if (digits.startsWith('-') || digits.length > 54) throw new RangeError(`sequence index out of range: ${n}`);
  return `49${digits.padStart(54, '0')}`;
}
