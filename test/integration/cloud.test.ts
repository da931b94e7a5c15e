/**
 * The embedded local cloud against the real emulators: what provisioning creates, that
 * alerts reach the alerts-tap queue as SNS delivers them, that queue URLs work with both
 * explicit and environment-selected endpoints, and that no kinesis-local outlives the
 * process that started it, however that process ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DescribeTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { GetSubscriptionAttributesCommand, PublishCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { parseConfig, parseConfigJson } from '../../functions/domain/config.js';
import { createClients } from '../../functions/lib/clients.js';
import {
  ALERT_LEDGER_TABLE,
  ENV,
  RESULTS_TABLE,
  STATE_TABLE,
  TABLES,
} from '../../functions/lib/resources.js';
import {
  drainQueue,
  EmulatorStartError,
  enableTimeToLive,
  findTable,
  isProcessAlive,
  type LocalPipeline,
  planFromConfig,
  provisionLocalCloud,
  ResourcePlanError,
  readAlertsTap,
  startEmulators,
  uniquePrefix,
} from '../../local/cloud/index.js';

const endpoints = inject('endpoints');

describe('provisioned resources', () => {
  const config = parseConfig({ stream: { shardCount: 3 } });
  const logs: string[] = [];
  let cloud: LocalPipeline;

  beforeAll(async () => {
    cloud = await provisionLocalCloud(endpoints, {
      config,
      prefix: uniquePrefix('cloud'),
      log: (line) => logs.push(line),
    });
  });
  afterAll(() => cloud?.destroyClients());

  it('creates an ACTIVE stream with the configured shard count', async () => {
    const { kinesis } = cloud.clients;
    const { StreamDescriptionSummary: s } = await kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: cloud.resources.stream.name }),
    );
    expect(s?.StreamStatus).toBe('ACTIVE');
    expect(s?.StreamARN).toBe(cloud.resources.stream.arn);
    const { Shards = [] } = await kinesis.send(
      new ListShardsCommand({ StreamName: cloud.resources.stream.name }),
    );
    expect(Shards).toHaveLength(3);
  });

  it.each(TABLES.map((def) => [def.id, def] as const))(
    'creates table %s with its key schema',
    async (_id, def) => {
      const table = findTable(cloud.resources, def);
      const { Table } = await cloud.clients.dynamodb.send(
        new DescribeTableCommand({ TableName: table.name }),
      );
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.TableArn).toBe(table.arn);
      expect(Table?.KeySchema).toEqual([
        { AttributeName: def.partitionKey, KeyType: 'HASH' },
        ...(def.sortKey ? [{ AttributeName: def.sortKey, KeyType: 'RANGE' }] : []),
      ]);
      expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    },
  );

  it('reports TTL as unsupported on dynalite with one notice per TTL table, without failing', () => {
    const ttlTables = TABLES.filter((def) => def.ttlAttribute);
    expect(ttlTables.map((def) => findTable(cloud.resources, def).ttl)).toEqual(
      ttlTables.map(() => 'unsupported'),
    );
    expect(findTable(cloud.resources, RESULTS_TABLE).ttl).toBe('none');
    const notices = logs.filter((line) => line.startsWith('notice: TTL not supported'));
    expect(notices).toHaveLength(ttlTables.length);
    for (const def of ttlTables) {
      expect(
        notices.some((n) => n.includes(`${findTable(cloud.resources, def).name}.${def.ttlAttribute}`)),
      ).toBe(true);
    }
  });

  it('gives queue URLs on the SQS endpoint that work with explicit and environment endpoints', async () => {
    const queues = Object.values(cloud.resources.queues);
    expect(new Set(queues.map((q) => q.name)).size).toBe(4);
    for (const queue of queues) {
      expect(queue.url).toBe(`${endpoints.sqs}/000000000000/${queue.name}`);
      const { Attributes } = await cloud.clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['QueueArn'] }),
      );
      expect(Attributes?.QueueArn).toBe(queue.arn);
    }

    // Explicit endpoint (the local client options).
    const { invalid, late } = cloud.resources.queues;
    await cloud.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: invalid.url, MessageBody: '{"reason":"x"}' }),
    );
    const viaExplicit = await drainQueue(cloud.clients, invalid.url, { expect: 1, waitMs: 5_000 });
    expect(viaExplicit.map((m) => m.body)).toEqual([{ reason: 'x' }]);

    // Endpoint from AWS_ENDPOINT_URL_SQS, as the handler's clients get it: the SDK then
    // sends to the queue URL's host, which must therefore be the endpoint itself.
    for (const [name, value] of Object.entries(cloud.env)) vi.stubEnv(name, value);
    try {
      const fromEnv = createClients();
      await fromEnv.sqs.send(
        new SendMessageCommand({ QueueUrl: cloud.env[ENV.lateQueueUrl], MessageBody: 'late' }),
      );
      const viaEnv = await drainQueue(fromEnv, late.url, { expect: 1, waitMs: 5_000 });
      expect(viaEnv.map((m) => m.raw)).toEqual(['late']);
      fromEnv.sqs.destroy();
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('delivers a message published to the alert topic to alerts-tap as an SNS envelope', async () => {
    const SubscriptionArn = cloud.resources.alertsTapSubscriptionArn;
    const { Attributes } = await cloud.clients.sns.send(
      new GetSubscriptionAttributesCommand({ SubscriptionArn }),
    );
    expect(Attributes?.RawMessageDelivery).toBe('false');

    const alert = {
      alertId: 'a-1',
      sensorId: 's-7',
      rule: 'too-hot',
      metric: 'temperature',
      value: 40,
      timestamp: 1,
    };
    await cloud.clients.sns.send(
      new PublishCommand({
        TopicArn: cloud.resources.topic.arn,
        Message: JSON.stringify(alert),
        MessageAttributes: {
          sensorId: { DataType: 'String', StringValue: 's-7' },
          rule: { DataType: 'String', StringValue: 'too-hot' },
          severity: { DataType: 'String', StringValue: 'critical' },
        },
      }),
    );
    const envelopes = await readAlertsTap(cloud.clients, cloud.resources, { expect: 1, waitMs: 5_000 });
    expect(envelopes).toHaveLength(1);
    const [envelope] = envelopes;
    expect(envelope?.TopicArn).toBe(cloud.resources.topic.arn);
    expect(JSON.parse(envelope?.Message ?? 'null')).toEqual(alert);
    expect(envelope?.MessageAttributes).toEqual({
      sensorId: { Type: 'String', Value: 's-7' },
      rule: { Type: 'String', Value: 'too-hot' },
      severity: { Type: 'String', Value: 'critical' },
    });
    // Drained means deleted: nothing is left to read.
    expect(await readAlertsTap(cloud.clients, cloud.resources, { waitMs: 200 })).toEqual([]);
  });

  it('gives the handler its environment', () => {
    const env = cloud.env;
    expect(env[ENV.stateTable]).toBe(findTable(cloud.resources, STATE_TABLE).name);
    expect(env[ENV.resultsTable]).toBe(findTable(cloud.resources, RESULTS_TABLE).name);
    expect(env[ENV.alertLedgerTable]).toBe(findTable(cloud.resources, ALERT_LEDGER_TABLE).name);
    expect(env[ENV.alertTopicArn]).toBe(cloud.resources.topic.arn);
    expect(env[ENV.invalidQueueUrl]).toBe(cloud.resources.queues.invalid.url);
    expect(env[ENV.lateQueueUrl]).toBe(cloud.resources.queues.late.url);
    expect(parseConfigJson(env[ENV.config])).toEqual(config);
    expect(env.AWS_ENDPOINT_URL_KINESIS).toBe(endpoints.kinesis);
    expect(env.AWS_ENDPOINT_URL_DYNAMODB).toBe(endpoints.dynamodb);
  });

  it('reuses existing resources when provisioned again under the same names', async () => {
    const again = await provisionLocalCloud(endpoints, {
      config,
      prefix: cloud.resources.stream.name.replace(/-readings$/, ''),
    });
    try {
      expect(again.resources.stream.arn).toBe(cloud.resources.stream.arn);
      expect(again.resources.tables.map((t) => t.arn)).toEqual(cloud.resources.tables.map((t) => t.arn));
      expect(again.resources.queues).toEqual(cloud.resources.queues);
      expect(again.resources.topic).toEqual(cloud.resources.topic);
    } finally {
      again.destroyClients();
    }
  });
});

describe('planFromConfig', () => {
  it('rejects a prefix that would make an invalid resource name', () => {
    expect(() => planFromConfig(parseConfig({}), { prefix: 'has space' })).toThrow(ResourcePlanError);
    expect(() => planFromConfig(parseConfig({}), { prefix: 'x'.repeat(61) })).toThrow(ResourcePlanError);
  });
});

describe('drainQueue', () => {
  it('waits up to waitMs for messages that arrive later, then returns', async () => {
    const cloud = await provisionLocalCloud(endpoints, { prefix: uniquePrefix('drain') });
    try {
      const { url } = cloud.resources.queues.dlq;
      const started = Date.now();
      expect(await drainQueue(cloud.clients, url, { waitMs: 300 })).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);

      setTimeout(() => {
        void cloud.clients.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'later' }));
      }, 300);
      const later = await drainQueue(cloud.clients, url, { waitMs: 3_000, expect: 1 });
      expect(later.map((m) => m.raw)).toEqual(['later']);
    } finally {
      cloud.destroyClients();
    }
  });
});

// aws-sdk-client-mock: dynalite cannot answer UpdateTimeToLive at all, so the paths of an
// endpoint that supports TTL (success, or a refusal such as missing permissions) need a mock.
describe('enableTimeToLive on endpoints that know UpdateTimeToLive', () => {
  const dynamodb = new DynamoDBClient({ region: 'us-east-1' });
  const mock = mockClient(dynamodb);
  afterEach(() => mock.reset());

  it('reports enabled when the call succeeds', async () => {
    mock.on(UpdateTimeToLiveCommand).resolves({});
    const log = vi.fn();
    expect(await enableTimeToLive(dynamodb, 'T', 'expiresAt', log)).toBe('enabled');
    expect(log).not.toHaveBeenCalled();
    expect(mock.commandCalls(UpdateTimeToLiveCommand)[0]?.args[0].input).toEqual({
      TableName: 'T',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('reports failed, with a notice naming the error, and does not throw', async () => {
    mock
      .on(UpdateTimeToLiveCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    const log = vi.fn();
    expect(await enableTimeToLive(dynamodb, 'T', 'expiresAt', log)).toBe('failed');
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0]?.[0]).toMatch(/T\.expiresAt failed \(AccessDeniedException: not authorized\)/);
  });
});

/** kinesis-local processes whose parent is `ppid` (read from /proc). */
function kinesisChildrenOf(ppid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== ppid || fields[0] === 'Z') continue;
      // kinesis-local is started as `node --require .../parent-watchdog.cjs main.js`.
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('parent-watchdog.cjs'))
        pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

describe('startEmulators', () => {
  it('fails with an error naming kinesis-local when it does not answer in time, leaving no child', async () => {
    const error = await startEmulators({ startTimeoutMs: 1 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(EmulatorStartError);
    expect((error as EmulatorStartError).emulator).toBe('kinesis-local');
    expect((error as Error).message).toMatch(/^kinesis-local: did not answer ListStreams within 1 ms/);
    expect(kinesisChildrenOf(process.pid)).toEqual([]);
  });
});

const FIXTURE = fileURLToPath(new URL('./fixtures/emulators-process.ts', import.meta.url));

interface Ready {
  pid: number;
  kinesisPid: number;
  bystanderPid: number;
}

interface Spawned {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  ready: Promise<Ready>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

function spawnFixture(mode: string): Spawned {
  const { NODE_OPTIONS: _ignored, ...env } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const events: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buffered = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<Ready>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (buffered + chunk.toString()).split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const event = JSON.parse(line) as Record<string, unknown>;
        events.push(event);
        if (event.event === 'ready') {
          resolve({
            pid: Number(event.pid),
            kinesisPid: Number(event.kinesisPid),
            bystanderPid: Number(event.bystanderPid),
          });
        }
      }
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`fixture exited (${code ?? signal}) before it was ready: ${stderr}`)),
    );
  });
  return { child, events, ready, exited, stderr: () => stderr };
}

async function waitUntilDead(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

describe('process hygiene: no child outlives its parent', () => {
  const started: Spawned[] = [];
  const childPids: number[] = [];
  const start = async (mode: string) => {
    const spawned = spawnFixture(mode);
    started.push(spawned);
    const ready = await spawned.ready;
    childPids.push(ready.kinesisPid, ready.bystanderPid);
    expect(isProcessAlive(ready.kinesisPid)).toBe(true);
    expect(isProcessAlive(ready.bystanderPid)).toBe(true);
    return { spawned, ...ready };
  };

  afterEach(() => {
    // Whatever a test left behind (always the bystander after a SIGKILL).
    for (const s of started.splice(0)) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    for (const pid of childPids.splice(0)) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s: runs the shutdown hooks, stops kinesis-local and exits with %i', async (signal, code) => {
    const { spawned, kinesisPid, bystanderPid } = await start('wait');
    spawned.child.kill(signal);
    expect(await spawned.exited).toEqual({ code, signal: null });
    expect(spawned.events.map((e) => e.event)).toEqual(['ready', 'shutdown-hook']);
    // stop() awaited kinesis-local's exit before the process exited.
    expect(isProcessAlive(kinesisPid)).toBe(false);
    expect(await waitUntilDead(bystanderPid, 2_000)).toBe(true);
  });

  it('SIGKILL of the parent: kinesis-local notices through its watchdog and ends itself', async () => {
    const { spawned, kinesisPid } = await start('wait');
    spawned.child.kill('SIGKILL');
    expect(await spawned.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await waitUntilDead(kinesisPid, 5_000)).toBe(true);
  });

  it.each([
    ['exit', 'process.exit without stop()', 0],
    ['throw', 'an uncaught exception', 1],
  ] as const)('%s: after %s the exit hook kills the registered children', async (mode, _what, code) => {
    const { spawned, kinesisPid, bystanderPid } = await start(mode);
    spawned.child.stdin?.write('go\n');
    expect(await spawned.exited).toEqual({ code, signal: null });
    if (mode === 'throw') expect(spawned.stderr()).toContain('deliberate uncaught exception');
    expect(await waitUntilDead(bystanderPid, 2_000)).toBe(true);
    expect(await waitUntilDead(kinesisPid, 2_000)).toBe(true);
  });

  it('a host SIGTERM handler owns the shutdown: the default one stands aside', async () => {
    const { spawned, kinesisPid, bystanderPid } = await start('host-handler');
    spawned.child.kill('SIGTERM');
    expect(await spawned.exited).toEqual({ code: 0, signal: null });
    expect(spawned.events.map((e) => e.event)).toEqual(['ready', 'host-handler']);
    expect(isProcessAlive(kinesisPid)).toBe(false);
    expect(await waitUntilDead(bystanderPid, 2_000)).toBe(true);
  });
});
