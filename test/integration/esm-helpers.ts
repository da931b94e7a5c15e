/**
 * Helpers for the local event source mapping tests: a bare stream (plus an on-failure
 * queue) per test, records whose payload says which key and which position in that key
 * they are, and a recording handler that remembers every invocation in order.
 */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';
import { DEFAULT_CONFIG, type EventSourceConfig } from '../../functions/domain/config.js';
import {
  type AwsClients,
  type ClientOptions,
  createClients,
  localClientOptions,
} from '../../functions/lib/clients.js';
import { type EmulatorEndpoints, uniquePrefix } from '../../local/cloud/index.js';

export interface TestStream {
  clients: AwsClients;
  streamName: string;
  streamArn: string;
  /** On-failure destination of the mapping under test. */
  dlqUrl: string;
  destroy(): void;
}

export async function createTestStream(
  endpoints: EmulatorEndpoints,
  opts: { shardCount: number; label: string; decorate?: ClientOptions['decorate'] },
): Promise<TestStream> {
  const clients = createClients({
    ...localClientOptions(endpoints),
    ...(opts.decorate ? { decorate: opts.decorate } : {}),
  });
  const streamName = uniquePrefix(opts.label);
  await clients.kinesis.send(
    new CreateStreamCommand({ StreamName: streamName, ShardCount: opts.shardCount }),
  );
  const streamArn = await waitForStreamActive(clients, streamName);
  const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: `${streamName}-dlq` }));
  return {
    clients,
    streamName,
    streamArn,
    dlqUrl: QueueUrl!,
    destroy: () => {
      clients.kinesis.destroy();
      clients.sqs.destroy();
      clients.dynamodb.destroy();
      clients.sns.destroy();
    },
  };
}

export async function waitForStreamActive(
  clients: AwsClients,
  streamName: string,
  timeoutMs = 15_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { StreamDescriptionSummary: s } = await clients.kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: streamName }),
    );
    if (s?.StreamStatus === 'ACTIVE' && s.StreamARN) return s.StreamARN;
    if (Date.now() > deadline) throw new Error(`stream ${streamName} not ACTIVE after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function listShards(clients: AwsClients, streamName: string): Promise<Shard[]> {
  const { Shards = [] } = await clients.kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  return Shards;
}

/**
 * Event source settings for the mapping's own mechanics: the defaults with carried state
 * off (per-batch invocations, so a test's batches are the mapping's), no batching window,
 * then `overrides` (esm-tumbling turns carried state back on).
 */
export function esmSettings(overrides: Partial<EventSourceConfig> = {}): EventSourceConfig {
  return {
    ...DEFAULT_CONFIG.eventSource,
    maxBatchingWindowSeconds: 0,
    tumblingWindowSeconds: 0,
    ...overrides,
  };
}

/** The test payload: record `n` of partition key `key`. */
export interface Tagged {
  key: string;
  n: number;
}

export function tagged(key: string, n: number): { partitionKey: string; data: Uint8Array } {
  return { partitionKey: key, data: Buffer.from(JSON.stringify({ key, n })) };
}

/** `count` records for each of `keys` keys, interleaved: k0#0, k1#0, ..., k0#1, ... */
export function interleaved(keys: number, count: number, offset = 0, prefix = 'key') {
  const out: { partitionKey: string; data: Uint8Array }[] = [];
  for (let n = offset; n < offset + count; n++) {
    for (let k = 0; k < keys; k++) out.push(tagged(`${prefix}-${k}`, n));
  }
  return out;
}

export function untag(record: KinesisStreamRecord): Tagged {
  return JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString()) as Tagged;
}

export interface Invocation {
  shardId: string;
  requestId: string;
  records: Tagged[];
  sequences: string[];
  startedAt: number;
  endedAt: number;
  /** Concurrent invocations of the same shard when this one started (itself included). */
  concurrentInShard: number;
}

type Behaviour = (
  records: Tagged[],
  event: KinesisStreamEvent,
  call: number,
) => KinesisStreamBatchResponse | undefined | Promise<KinesisStreamBatchResponse | undefined>;

/**
 * A handler that records every invocation (in start order) and then behaves as told:
 * resolve nothing by default, or whatever `behaviour` returns or throws.
 */
export class Recorder {
  readonly invocations: Invocation[] = [];
  readonly contexts: Context[] = [];
  readonly events: KinesisStreamEvent[] = [];
  private inShard = new Map<string, number>();
  private calls = 0;

  constructor(
    private readonly behaviour: Behaviour = () => undefined,
    private readonly delayMs = 0,
  ) {}

  readonly handler = async (
    event: KinesisStreamEvent,
    context: Context,
  ): Promise<KinesisStreamBatchResponse | undefined> => {
    const shardId = event.Records[0]!.eventID.split(':')[0]!;
    const concurrent = (this.inShard.get(shardId) ?? 0) + 1;
    this.inShard.set(shardId, concurrent);
    const invocation: Invocation = {
      shardId,
      requestId: context.awsRequestId,
      records: event.Records.map(untag),
      sequences: event.Records.map((r) => r.kinesis.sequenceNumber),
      startedAt: performance.now(),
      endedAt: Number.NaN,
      concurrentInShard: concurrent,
    };
    this.invocations.push(invocation);
    this.contexts.push(context);
    this.events.push(event);
    try {
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      return await this.behaviour(invocation.records, event, this.calls++);
    } finally {
      invocation.endedAt = performance.now();
      this.inShard.set(shardId, (this.inShard.get(shardId) ?? 1) - 1);
    }
  };

  /** `key#n` of each invocation's records, e.g. `[['a#0','a#1'], ['a#2']]`. */
  batches(): string[][] {
    return this.invocations.map((i) => i.records.map((r) => `${r.key}#${r.n}`));
  }
}

/** The records of every successful invocation, per key, in processing order. */
export function perKey(invocations: readonly Invocation[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const inv of invocations) {
    for (const r of inv.records) {
      const list = out.get(r.key) ?? [];
      list.push(r.n);
      out.set(r.key, list);
    }
  }
  return out;
}

export const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
