/**
 * Backfill: re-process a range of the stream through the real handler, shard by shard,
 * parents before children. Records already applied are duplicates, so on a range that was
 * processed before the results stay the same.
 */
import {
  type _Record,
  DescribeStreamSummaryCommand,
  type GetShardIteratorCommandInput,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import type { AwsClients } from '../../functions/lib/clients.js';
import type { WindowHandler } from '../../functions/window-handler/build.js';
import { RecoveryError } from './errors.js';
import { emptyTotals, type HandlerTotals, invokeWithRetries, readShard } from './handler-runs.js';

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
