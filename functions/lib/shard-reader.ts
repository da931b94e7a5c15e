/**
 * Reads a stretch of one shard back from Kinesis (GetShardIterator, GetRecords) as the
 * records of a Lambda event, for the catch-up of a carried state that was lost
 * (window-handler/process-carried.ts), or to take over its expired claim
 * (pipeline/claim-takeover.ts); docs/SEMANTICS.md "Carried state".
 *
 * A stretch starts AT a sequence number or at TRIM_HORIZON, and ends before a sequence
 * number, at the end of a closed shard (GetRecords gives no NextShardIterator), or at the
 * shard's tip (a read that returns nothing and is 0 ms behind). moto 5 never ends a closed
 * shard, so a closed shard read to its tip counts as ended.
 */
import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamRecord } from 'aws-lambda';
import { WindowpaneError } from '../domain/errors.js';
import { compareSequence } from '../domain/sequence.js';
import { BACKOFF, backoffDelay, sleep } from './retry.js';

/** A catch-up needs more of the shard than a Lambda invocation can read. */
export class CatchUpTooLargeError extends WindowpaneError {}

export interface ShardStretch {
  /** The stream, by ARN (the handler has it from its event) or by name (the idle sweeper). */
  streamArn?: string;
  streamName?: string;
  shardId: string;
  /** First record (AT_SEQUENCE_NUMBER); absent: TRIM_HORIZON. */
  from?: string;
  /** Stop before this sequence number; absent: read to the end of the shard or its tip. */
  before?: string;
  /** Most records read before giving up with CatchUpTooLargeError. */
  maxRecords: number;
}

const THROTTLED = new Set(['ProvisionedThroughputExceededException', 'LimitExceededException']);

export async function readShardStretch(
  kinesis: KinesisClient,
  stretch: ShardStretch,
): Promise<KinesisStreamRecord[]> {
  const out: KinesisStreamRecord[] = [];
  const region = stretch.streamArn ? regionOf(stretch.streamArn) : '';
  const streamName = stretch.streamName ?? (stretch.streamArn ? streamNameOf(stretch.streamArn) : '');
  let iterator = (
    await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: stretch.shardId,
        ...(stretch.from
          ? { ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: stretch.from }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    )
  ).ShardIterator;
  let attempt = 0;
  while (iterator) {
    let page: GetRecordsCommandOutput;
    try {
      page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      attempt = 0;
    } catch (err) {
      if (!(err instanceof Error) || !THROTTLED.has(err.name) || ++attempt >= BACKOFF.read.maxAttempts)
        throw err;
      await sleep(backoffDelay(attempt, BACKOFF.read));
      continue;
    }
    for (const r of page.Records ?? []) {
      const seq = r.SequenceNumber!;
      if (stretch.before !== undefined && compareSequence(seq, stretch.before) >= 0) return out;
      out.push(toLambdaRecord(r, stretch, region));
    }
    if (out.length > stretch.maxRecords) {
      throw new CatchUpTooLargeError(
        `catch-up of ${stretch.shardId} from ${stretch.from ?? 'TRIM_HORIZON'} passed ${stretch.maxRecords} records`,
      );
    }
    const empty = (page.Records ?? []).length === 0;
    // The end of what there is: a closed shard's end, or the tip with nothing behind it.
    if (empty && (page.MillisBehindLatest ?? 0) === 0) return out;
    iterator = page.NextShardIterator;
  }
  return out;
}

function toLambdaRecord(
  r: NonNullable<GetRecordsCommandOutput['Records']>[number],
  stretch: ShardStretch,
  region: string,
): KinesisStreamRecord {
  const seq = r.SequenceNumber!;
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: r.PartitionKey!,
      sequenceNumber: seq,
      data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
      approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${stretch.shardId}:${seq}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: '',
    awsRegion: region,
    eventSourceARN: stretch.streamArn ?? '',
  };
}

/** `arn:aws:kinesis:<region>:<account>:stream/<name>` */
function streamNameOf(arn: string): string {
  return arn.slice(arn.indexOf(':stream/') + ':stream/'.length);
}

function regionOf(arn: string): string {
  return arn.split(':')[3] ?? '';
}
