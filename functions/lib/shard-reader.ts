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
import { type RecordSource, toLambdaRecord } from './lambda-record.js';
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
  /** Records asked for by each GetRecords call (default DEFAULT_PAGE_LIMIT). */
  pageLimit?: number;
}

const THROTTLED = new Set(['ProvisionedThroughputExceededException', 'LimitExceededException']);

/** Records a GetRecords call asks for, at most (Kinesis allows 10,000). */
export const DEFAULT_PAGE_LIMIT = 10_000;

/**
 * The stretch page by page (one GetRecords answer each, as Lambda records), so a caller
 * keeps only what it needs of a long stretch: a window of a full shard is far more than
 * an invocation can hold at once.
 */
export async function* readShardStretch(
  kinesis: KinesisClient,
  stretch: ShardStretch,
): AsyncGenerator<KinesisStreamRecord[]> {
  const source: RecordSource = {
    shardId: stretch.shardId,
    streamArn: stretch.streamArn ?? '',
    region: stretch.streamArn ? regionOf(stretch.streamArn) : '',
    invokeIdentityArn: '',
  };
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
  let read = 0;
  while (iterator) {
    let page: GetRecordsCommandOutput;
    try {
      page = await kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: stretch.pageLimit ?? DEFAULT_PAGE_LIMIT }),
      );
      attempt = 0;
    } catch (err) {
      if (!(err instanceof Error) || !THROTTLED.has(err.name) || ++attempt >= BACKOFF.read.maxAttempts)
        throw err;
      await sleep(backoffDelay(attempt, BACKOFF.read));
      continue;
    }
    const out: KinesisStreamRecord[] = [];
    let ended = false;
    for (const r of page.Records ?? []) {
      if (stretch.before !== undefined && compareSequence(r.SequenceNumber!, stretch.before) >= 0) {
        ended = true;
        break;
      }
      out.push(toLambdaRecord(r, source));
    }
    read += out.length;
    if (read > stretch.maxRecords) {
      throw new CatchUpTooLargeError(
        `catch-up of ${stretch.shardId} from ${stretch.from ?? 'TRIM_HORIZON'} passed ${stretch.maxRecords} records`,
      );
    }
    if (out.length > 0) yield out;
    // The end of what there is: the record to stop before, a closed shard's end, or the
    // tip with nothing behind it.
    const empty = (page.Records ?? []).length === 0;
    if (ended || (empty && (page.MillisBehindLatest ?? 0) === 0)) return;
    iterator = page.NextShardIterator;
  }
}

/** `arn:aws:kinesis:<region>:<account>:stream/<name>` */
function streamNameOf(arn: string): string {
  return arn.slice(arn.indexOf(':stream/') + ':stream/'.length);
}

function regionOf(arn: string): string {
  return arn.split(':')[3] ?? '';
}
