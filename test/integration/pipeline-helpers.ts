/**
 * Helpers for handler integration tests: put records to the Kinesis emulator, read them
 * back as Lambda would receive them, count DynamoDB write requests and inject crashes
 * through client middleware, and read back everything the pipeline produced.
 */
import {
  type _Record,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, KinesisStreamEvent } from 'aws-lambda';
import type { WindowpaneConfig } from '../../functions/domain/config.js';
import type { SensorState } from '../../functions/domain/state.js';
import { decodeStateBody } from '../../functions/domain/state-codec.js';
import { type AwsClients, type ClientOptions, localClientOptions } from '../../functions/lib/clients.js';
import { parseHandlerEnv } from '../../functions/lib/env.js';
import { toLambdaRecord } from '../../functions/lib/lambda-record.js';
import { ALERT_LEDGER_TABLE, RESULTS_TABLE, STATE_TABLE } from '../../functions/lib/resources.js';
import {
  type BuildHandlerOptions,
  buildHandler,
  type WindowHandler,
} from '../../functions/window-handler/build.js';
import {
  drainQueue,
  type EmulatorEndpoints,
  findTable,
  provisionLocalCloud,
  uniquePrefix,
} from '../../local/cloud/index.js';

export const DYNAMODB_WRITES = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
]);

export class InjectedCrashError extends Error {
  constructor(message = 'injected crash: the process died') {
    super(message);
    this.name = 'InjectedCrashError';
  }
}

/**
 * Client middleware that counts DynamoDB write requests and, optionally, kills the
 * "process" when the write after `crashAfterWrites` is attempted: from then on every AWS
 * call of these clients fails, as if the Lambda container had died.
 */
export class FaultProbe {
  writes = 0;
  dead = false;
  /** SNS publishes that succeeded since the last DynamoDB write was attempted. */
  publishesSinceWrite = 0;
  /** `publishesSinceWrite` at the moment of the crash: >0 means the crash hit the publish/ledger gap. */
  publishesInGapAtCrash = 0;
  constructor(public crashAfterWrites = Number.POSITIVE_INFINITY) {}

  readonly decorate: NonNullable<ClientOptions['decorate']> = (client) => {
    const stack = client.middlewareStack as {
      add(mw: unknown, opts: { step: string; name: string }): void;
    };
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: unknown) => {
          if (this.dead) throw new InjectedCrashError();
          if (DYNAMODB_WRITES.has(context.commandName ?? '')) {
            if (this.writes >= this.crashAfterWrites) {
              this.dead = true;
              this.publishesInGapAtCrash = this.publishesSinceWrite;
              throw new InjectedCrashError();
            }
            this.writes++;
            this.publishesSinceWrite = 0;
          }
          const result = await next(args);
          if (context.commandName === 'PublishCommand') this.publishesSinceWrite++;
          return result;
        },
      { step: 'initialize', name: 'faultProbe' },
    );
    return client;
  };
}

export interface TestPipeline {
  prefix: string;
  clients: AwsClients;
  env: Record<string, string>;
  streamName: string;
  streamArn: string;
  queues: { invalid: string; late: string; alertsTap: string };
  tables: { state: string; results: string; ledger: string };
  /** A fresh handler (a new "container") whose clients go through `probe`. */
  handler(probe?: Pick<FaultProbe, 'decorate'>, options?: BuildHandlerOptions): WindowHandler;
  destroy(): void;
}

export async function createTestPipeline(
  endpoints: EmulatorEndpoints,
  config: WindowpaneConfig,
  label = 'it',
): Promise<TestPipeline> {
  const prefix = uniquePrefix(label);
  const cloud = await provisionLocalCloud(endpoints, { config, prefix });
  const env = parseHandlerEnv(cloud.env);
  return {
    prefix,
    clients: cloud.clients,
    env: cloud.env,
    streamName: cloud.resources.stream.name,
    streamArn: cloud.resources.stream.arn,
    queues: {
      invalid: cloud.resources.queues.invalid.url,
      late: cloud.resources.queues.late.url,
      alertsTap: cloud.resources.queues.alertsTap.url,
    },
    tables: {
      state: findTable(cloud.resources, STATE_TABLE).name,
      results: findTable(cloud.resources, RESULTS_TABLE).name,
      ledger: findTable(cloud.resources, ALERT_LEDGER_TABLE).name,
    },
    handler: (probe, options) =>
      buildHandler(
        env,
        { ...localClientOptions(endpoints), ...(probe ? { decorate: probe.decorate } : {}) },
        options,
      ),
    destroy: cloud.destroyClients,
  };
}

export async function putRecords(
  clients: AwsClients,
  streamName: string,
  records: readonly { partitionKey: string; data: Uint8Array }[],
): Promise<void> {
  // The emulator keeps the order of a PutRecords call; a partial failure fails the test
  // rather than being retried out of order.
  for (let i = 0; i < records.length; i += 500) {
    const chunk = records.slice(i, i + 500);
    const out = await clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: chunk.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })),
      }),
    );
    if ((out.FailedRecordCount ?? 0) > 0)
      throw new Error(`PutRecords failed ${out.FailedRecordCount} records`);
  }
}

/** Every record of every shard, in shard order, as the emulator returns them. */
export async function readAllRecords(
  clients: AwsClients,
  streamName: string,
): Promise<{ shardId: string; records: _Record[] }[]> {
  const { Shards = [] } = await clients.kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const out: { shardId: string; records: _Record[] }[] = [];
  for (const shard of Shards) {
    const shardId = shard.ShardId!;
    let { ShardIterator: iterator } = await clients.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const records: _Record[] = [];
    while (iterator) {
      const page = await clients.kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }),
      );
      records.push(...(page.Records ?? []));
      if ((page.Records ?? []).length === 0 || page.MillisBehindLatest === 0) break;
      iterator = page.NextShardIterator;
    }
    out.push({ shardId, records });
  }
  return out;
}

/** A Lambda KinesisStreamEvent for records of one shard, exactly as the service shapes it. */
export function kinesisEvent(
  shardId: string,
  records: readonly _Record[],
  streamArn: string,
): KinesisStreamEvent {
  const source = {
    shardId,
    streamArn,
    region: 'us-east-1',
    invokeIdentityArn: 'arn:aws:iam::000000000000:role/windowpane-test',
  };
  return { Records: records.map((r) => toLambdaRecord(r, source)) };
}

export function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'windowpane-window-handler',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:windowpane-window-handler',
    memoryLimitInMB: '512',
    awsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    logGroupName: '/aws/lambda/windowpane',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The state a state-table item holds, read as the store reads it (state-codec.ts, either format). */
export function stateOfItem(item: Record<string, unknown>): SensorState {
  return decodeStateBody(String(item.sensorId), Number(item.version), String(item.body));
}

export async function scanAll(clients: AwsClients, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** What the pipeline produced, with processing-time fields removed so runs compare. */
export async function snapshot(p: TestPipeline) {
  const state = (await scanAll(p.clients, p.tables.state))
    .map((i) => ({
      sensorId: i.sensorId,
      version: i.version,
      lastSequence: i.lastSequence,
      body: stateOfItem(i),
    }))
    .sort((a, b) => String(a.sensorId).localeCompare(String(b.sensorId)));
  const results = (await scanAll(p.clients, p.tables.results))
    .map(({ finalisedAt: _f, ...rest }) => rest)
    .sort((a, b) => `${a.sensorId}|${a.windowKey}`.localeCompare(`${b.sensorId}|${b.windowKey}`));
  const alerts = await drainQueue(p.clients, p.queues.alertsTap, { waitMs: 300 });
  const late = await drainQueue(p.clients, p.queues.late, { waitMs: 300 });
  const invalid = await drainQueue(p.clients, p.queues.invalid, { waitMs: 300 });
  return {
    state,
    results,
    alerts: alerts.map((m) => {
      const envelope = m.body as { Message: string; MessageAttributes?: Record<string, { Value: string }> };
      return { alert: JSON.parse(envelope.Message), attributes: envelope.MessageAttributes ?? {} };
    }),
    late: late.map((m) => m.body as { id: string }),
    invalid: invalid.map((m) => m.body as { id: string; reason: string; data: string }),
  };
}
