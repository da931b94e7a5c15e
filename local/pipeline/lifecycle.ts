/**
 * The steps that bring a local pipeline's cloud up and take it down: the embedded
 * emulators or an endpoint, the resources, a first read of the stream, and (on a shared
 * endpoint) deleting what the run created.
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DeleteStreamCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { DeleteTopicCommand } from '@aws-sdk/client-sns';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import type { EventSourceConfig } from '../../functions/domain/config.js';
import {
  type AwsClients,
  type ClientOptions,
  type ClientTimeouts,
  LOCAL_TIMEOUTS,
  localClientOptions,
} from '../../functions/lib/clients.js';
import { type EmulatorEndpoints, type ProvisionedResources, startEmulators } from '../cloud/index.js';
import { SetupError } from './deadline.js';

export interface LocalCloudHandle {
  clientOptions: ClientOptions;
  /** Emulator endpoints and kinesis-local's pid (embedded mode). */
  endpoints?: EmulatorEndpoints;
  kinesisPid?: number;
  /** Stops the emulators (nothing on an endpoint); idempotent. */
  stop(): Promise<void>;
}

/**
 * The endpoint `target` with the local commands' request timeouts, or freshly started
 * embedded emulators. `timeouts` override LOCAL_TIMEOUTS either way.
 */
export async function startCloud(
  target: ClientOptions | undefined,
  timeouts: Partial<ClientTimeouts> | undefined,
  debug: (line: string) => void,
): Promise<LocalCloudHandle> {
  const limits = { ...LOCAL_TIMEOUTS, ...target?.timeouts, ...timeouts };
  if (target) return { clientOptions: { ...target, timeouts: limits }, stop: async () => {} };
  const emulators = await startEmulators({ log: debug });
  return {
    clientOptions: { ...localClientOptions(emulators.endpoints), timeouts: limits },
    endpoints: emulators.endpoints,
    kinesisPid: emulators.kinesisPid,
    stop: () => emulators.stop(),
  };
}

export const SETUP_STEPS = {
  provision: 'creating the stream, tables, topic and queues and waiting for them to be ACTIVE',
  openStream: 'opening the stream for reading (ListShards, the first GetShardIterator)',
} as const;

/**
 * What the event source mapping does first, done once up front so that a stream that
 * cannot be read fails the set-up, named, instead of a drain that waits for records the
 * mapping can never read (it retries those calls without end, as Lambda does).
 */
export async function openStream(
  clients: AwsClients,
  streamName: string,
  startingPosition: EventSourceConfig['startingPosition'],
): Promise<void> {
  const { Shards = [] } = await clients.kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const shardId = Shards[0]?.ShardId;
  if (!shardId) throw new SetupError(`stream ${streamName} has no shards`);
  const { ShardIterator } = await clients.kinesis.send(
    new GetShardIteratorCommand({
      StreamName: streamName,
      ShardId: shardId,
      ShardIteratorType: startingPosition,
    }),
  );
  if (!ShardIterator)
    throw new SetupError(`GetShardIterator on ${streamName} ${shardId} returned no iterator`);
}

/** Best-effort cleanup on a shared endpoint: every failure is one notice, never an error. */
export async function deleteResources(
  clients: AwsClients,
  resources: ProvisionedResources,
  log: (line: string) => void,
): Promise<void> {
  const streams = [resources.stream.name, ...(resources.resultsStream ? [resources.resultsStream.name] : [])];
  const attempts: [string, () => Promise<unknown>][] = [
    ...streams.map((name): [string, () => Promise<unknown>] => [
      `stream ${name}`,
      () => clients.kinesis.send(new DeleteStreamCommand({ StreamName: name })),
    ]),
    ...resources.tables.map((t): [string, () => Promise<unknown>] => [
      `table ${t.name}`,
      () => clients.dynamodb.send(new DeleteTableCommand({ TableName: t.name })),
    ]),
    [
      `topic ${resources.topic.name}`,
      () => clients.sns.send(new DeleteTopicCommand({ TopicArn: resources.topic.arn })),
    ],
    ...Object.values(resources.queues).map((q): [string, () => Promise<unknown>] => [
      `queue ${q.name}`,
      () => clients.sqs.send(new DeleteQueueCommand({ QueueUrl: q.url })),
    ]),
  ];
  const results = await Promise.allSettled(attempts.map(([, run]) => run()));
  results.forEach((r, i) => {
    if (r.status === 'rejected') {
      log(`notice: could not delete ${attempts[i]![0]}: ${(r.reason as Error).message ?? String(r.reason)}`);
    }
  });
}
