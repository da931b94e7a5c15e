/**
 * Resharding mid-stream for chaos mode: UpdateShardCount to twice the shard count once a
 * third of the input is on the stream, back to the original count at two thirds. The
 * event source mapping must then read parents before children, so every sensor's records
 * keep their order across the two reshards (kinesis-local supports both directions of
 * UNIFORM_SCALING; the ESM resharding tests cover Split/Merge shapes).
 *
 * On an endpoint nobody here controls, `checkReshardContract` first tries a reshard on a
 * scratch stream: where the endpoint does not reshard as Kinesis documents, the fault is
 * left out of the run and the reason printed (see moto's deviations below).
 */
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordCommand,
  type Shard,
  UpdateShardCountCommand,
} from '@aws-sdk/client-kinesis';
import { WindowpaneError } from '../../functions/domain/errors.js';
import type { AwsClients } from '../../functions/lib/clients.js';
import { sleep } from '../../functions/lib/retry.js';
import type { ChaosPlan } from './plan.js';

export class ReshardError extends WindowpaneError {}

/** Waits until the stream is ACTIVE again and returns its open shard count. */
export async function waitForActive(
  clients: AwsClients,
  streamName: string,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    const s = out.StreamDescriptionSummary;
    if (s?.StreamStatus === 'ACTIVE') return s.OpenShardCount ?? 0;
    if (Date.now() > deadline) {
      throw new ReshardError(`stream ${streamName} not ACTIVE after ${timeoutMs} ms (${s?.StreamStatus})`);
    }
    await sleep(50);
  }
}

/** UpdateShardCount (uniform scaling) to `target` open shards, counted as one `reshard` fault. */
export async function reshardTo(
  clients: AwsClients,
  plan: ChaosPlan,
  streamName: string,
  target: number,
  log: (line: string) => void = () => {},
): Promise<void> {
  const before = await waitForActive(clients, streamName);
  if (before === target) return;
  try {
    await clients.kinesis.send(
      new UpdateShardCountCommand({
        StreamName: streamName,
        TargetShardCount: target,
        ScalingType: 'UNIFORM_SCALING',
      }),
    );
  } catch (err) {
    throw new ReshardError(
      `UpdateShardCount ${streamName} ${before} -> ${target} failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const after = await waitForActive(clients, streamName);
  plan.injected('reshard');
  log(`chaos: resharded ${streamName} from ${before} to ${after} shard(s)`);
}

/** Where, in a run of `total` records, the two reshards happen: after a third and two thirds. */
export function reshardPoints(total: number): [number, number] {
  return [Math.floor(total / 3), Math.floor((2 * total) / 3)];
}

// ---------------------------------------------------------------------------------------
// Does this endpoint reshard as Kinesis documents?
// ---------------------------------------------------------------------------------------

/**
 * How a reshard must look (Kinesis API reference: ListShards, GetRecords; developer guide
 * "Resharding a stream"): after it, the parent is closed (an EndingSequenceNumber in
 * ListShards), new records of its hash range go to the children, reading the parent ends
 * with no NextShardIterator, and the children's sequence numbers follow the parent's
 * (the handler's per-sensor duplicate check compares them across shards).
 *
 * moto 5 (5.2.1, unchanged on its main branch at getmoto/moto 0af643a) breaks all three
 * after UpdateShardCount, SplitShard and MergeShards alike, which is why the chaos reshard
 * is left out there rather than worked around (citations: moto/kinesis/models.py at tag 5.2.1):
 * - `Stream.get_shard_for_key` (line 407) picks the first shard of the stream whose hash
 *   range holds the key, closed or not; closed parents come first, so every later
 *   PutRecord still lands on the parent;
 * - `KinesisBackend.get_records` (line 684) always composes a NextShardIterator, for closed
 *   shards too, so a parent never ends;
 * - `Shard.put_record` (line 141) numbers each shard's records from 1, so a child's
 *   sequence numbers start below its parent's; and `merge_shards` (lines 322-327) copies
 *   the parents' records into the child, which would deliver them twice.
 */
export type ReshardContract = { conforms: true } | { conforms: false; deviations: string[] };

const PROBE_KEY = 'windowpane-reshard-probe';

async function listShards(clients: AwsClients, streamName: string): Promise<Shard[]> {
  const { Shards = [] } = await clients.kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  return Shards;
}

async function putProbe(
  clients: AwsClients,
  streamName: string,
): Promise<{ shardId: string; sequence: string }> {
  const out = await clients.kinesis.send(
    new PutRecordCommand({ StreamName: streamName, PartitionKey: PROBE_KEY, Data: Buffer.from('probe') }),
  );
  return { shardId: out.ShardId ?? '', sequence: out.SequenceNumber ?? '' };
}

/** True when GetRecords from TRIM_HORIZON ends the shard (no NextShardIterator) within a few pages. */
async function readsToEnd(clients: AwsClients, streamName: string, shardId: string): Promise<boolean> {
  let { ShardIterator: iterator } = await clients.kinesis.send(
    new GetShardIteratorCommand({
      StreamName: streamName,
      ShardId: shardId,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  for (let page = 0; iterator && page < 5; page++) {
    const out = await clients.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
    iterator = out.NextShardIterator;
  }
  return iterator === undefined;
}

function isAfter(a: string, b: string): boolean {
  try {
    return BigInt(a) > BigInt(b);
  } catch {
    return false;
  }
}

/**
 * Reshards a scratch 1-shard stream to 2 shards and checks what the module comment above
 * lists; the scratch stream is deleted afterwards. Fails only when the endpoint cannot
 * create or reshard a stream at all.
 */
export async function checkReshardContract(
  clients: AwsClients,
  scratchStreamName: string,
): Promise<ReshardContract> {
  await clients.kinesis.send(new CreateStreamCommand({ StreamName: scratchStreamName, ShardCount: 1 }));
  try {
    await waitForActive(clients, scratchStreamName);
    const before = await putProbe(clients, scratchStreamName);
    await reshardScratch(clients, scratchStreamName);
    const after = await putProbe(clients, scratchStreamName);
    const shards = await listShards(clients, scratchStreamName);
    const parent = shards.find((s) => s.ShardId === before.shardId);
    const children = shards.filter((s) => s.ParentShardId === before.shardId);
    const deviations: string[] = [];
    if (parent?.SequenceNumberRange?.EndingSequenceNumber === undefined || children.length === 0) {
      deviations.push(`ListShards shows no closed parent with children after UpdateShardCount`);
    }
    if (after.shardId === before.shardId) {
      deviations.push(`PutRecord still writes to the closed parent shard ${before.shardId}`);
    } else if (!isAfter(after.sequence, before.sequence)) {
      deviations.push(
        `the child's sequence numbers restart below the parent's (${after.sequence} after ${before.sequence})`,
      );
    }
    if (!(await readsToEnd(clients, scratchStreamName, before.shardId))) {
      deviations.push(
        `GetRecords never ends the closed shard ${before.shardId} (it keeps returning a NextShardIterator)`,
      );
    }
    return deviations.length === 0 ? { conforms: true } : { conforms: false, deviations };
  } finally {
    await clients.kinesis
      .send(new DeleteStreamCommand({ StreamName: scratchStreamName }))
      .catch(() => undefined);
  }
}

async function reshardScratch(clients: AwsClients, streamName: string): Promise<void> {
  try {
    await clients.kinesis.send(
      new UpdateShardCountCommand({
        StreamName: streamName,
        TargetShardCount: 2,
        ScalingType: 'UNIFORM_SCALING',
      }),
    );
  } catch (err) {
    throw new ReshardError(
      `UpdateShardCount on the scratch stream ${streamName} failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  await waitForActive(clients, streamName);
}

/** The line printed when the reshard fault is left out of a run. */
export function reshardLeftOutNotice(contract: Extract<ReshardContract, { conforms: false }>): string {
  return (
    `chaos: the reshard fault is left out on this endpoint, which does not reshard as Kinesis documents: ` +
    `${contract.deviations.join('; ')} (moto 5 does this; see local/chaos/reshard.ts)`
  );
}
