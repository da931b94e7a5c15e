/**
 * Resharding mid-stream for chaos mode: UpdateShardCount to twice the shard count once a
 * third of the input is on the stream, back to the original count at two thirds. The
 * event source mapping must then read parents before children, so every sensor's records
 * keep their order across the two reshards (kinesis-local supports both directions of
 * UNIFORM_SCALING; the ESM resharding tests cover Split/Merge shapes).
 */
import { DescribeStreamSummaryCommand, UpdateShardCountCommand } from '@aws-sdk/client-kinesis';
import type { AwsClients } from '../../functions/lib/clients.js';
import type { ChaosPlan } from './plan.js';

export class ReshardError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReshardError';
  }
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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
    await pause(50);
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
