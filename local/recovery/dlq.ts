/**
 * The event source mapping's on-failure queue (DLQ): list its messages, and redrive each
 * range they describe by reading it back from the stream and running it through the real
 * handler. Safe to repeat: the handler fences every sensor by the last applied sequence
 * number of each shard, so records already applied are duplicates and change nothing.
 */
import type { _Record } from '@aws-sdk/client-kinesis';
import { errorText } from '../../functions/domain/errors.js';
import { padSequence } from '../../functions/domain/sequence.js';
import type { AwsClients } from '../../functions/lib/clients.js';
import type { WindowHandler } from '../../functions/window-handler/build.js';
import { type OnFailureMessage, parseStreamArn } from '../esm/records.js';
import { RecoveryError } from './errors.js';
import {
  emptyTotals,
  type HandlerTotals,
  invokeWithRetries,
  mergeTotals,
  readShard,
} from './handler-runs.js';
import { type HeldMessage, HOLD_SECONDS, withHeldMessages } from './held-messages.js';

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
  return withHeldMessages(clients, dlqUrl, HOLD_SECONDS.inspect, async (held) => held.map(parseDlqMessage));
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
  const report: DlqRedriveReport = { apply: opts.apply, ranges: [], totals: emptyTotals(), deleted: 0 };
  await withHeldMessages(
    clients,
    dlqUrl,
    opts.apply ? HOLD_SECONDS.apply : HOLD_SECONDS.inspect,
    async (held, remove) => {
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
          report.ranges.push({
            entry,
            found: 0,
            inRetention: false,
            outcome: 'failed',
            error: errorText(err),
          });
          continue;
        }
        const inRetention = records[0]?.SequenceNumber === f.startSequenceNumber;
        const result: DlqRangeResult = {
          entry,
          found: records.length,
          inRetention,
          outcome: 'would-redrive',
        };
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
        await remove(m);
        report.deleted++;
        result.outcome = 'redriven';
        opts.log?.(`redriven ${f.shardId} ${f.startSequenceNumber}..${f.endSequenceNumber}`);
      }
    },
  );
  return report;
}
