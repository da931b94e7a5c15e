/**
 * The dashboard's deployed-stack source on the emulators: the real handler writes final
 * windows to the results table and the output stream, and the source shows the day's
 * history from the table and new windows from the stream; without a stream it re-reads
 * the table. `--stack` resolution reads CloudFormation outputs on moto_server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildTransition, type TransitionDraft } from '../../functions/domain/alarms/transition.js';
import { DEFAULT_CONFIG } from '../../functions/domain/config.js';
import { AlarmProjection } from '../../functions/lib/alarm-projection.js';
import {
  createCloudFormationClient,
  LOCAL_TIMEOUTS,
  localClientOptions,
} from '../../functions/lib/clients.js';
import { uniquePrefix } from '../../local/cloud/index.js';
import { DeployedSource } from '../../local/dashboard/sources/deployed.js';
import {
  resourcesFromPrefix,
  resourcesFromStack,
  StackOutputsError,
} from '../../local/dashboard/sources/locate.js';
import { DashboardStore } from '../../local/dashboard/store.js';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline/index.js';
import { putRecordsInOrder } from '../../local/put-in-order.js';
import { type SimulatedRecord, simulate } from '../../local/simulator.js';

const MINUTE = 60_000;

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Puts `minutes` of a 3-sensor fleet through the pipeline and closes every window (with
 * `flush` false, leaves the last ones open); returns the records.
 */
async function produce(
  pipeline: LocalPipeline,
  startMs: number,
  minutes: number,
  { flush = true } = {},
): Promise<SimulatedRecord[]> {
  const records = [
    ...simulate({
      sensors: 3,
      rateHz: 0.2,
      seed: 5,
      startMs,
      durationMs: minutes * MINUTE,
      malformedRate: 0,
      lateRate: 0,
    }),
  ];
  await putRecordsInOrder(
    pipeline.clients.kinesis,
    pipeline.resources.stream.name,
    records.map((r, i) => ({ line: i + 1, partitionKey: r.partitionKey, data: r.data })),
  );
  // As a replay ends (local/replay.ts): the producer is done, so the tumbling windows of
  // the carried state (the default) end too and checkpoint their sensors for the flush.
  pipeline.mapping.inputComplete();
  await pipeline.mapping.drain({ timeoutMs: 30_000 });
  if (flush) await pipeline.flush();
  return records;
}

describe('dashboard deployed-stack source', () => {
  let pipeline: LocalPipeline;
  const prefix = uniquePrefix('dash');

  beforeAll(async () => {
    const config = DEFAULT_CONFIG;
    pipeline = await startLocalPipeline({
      config,
      target: localClientOptions(inject('endpoints')),
      prefix,
      resourceSource: 'config',
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('shows the history from the results table, then new windows from the output stream', async () => {
    const now = Date.now();
    const dayStart = Math.floor(now / MINUTE) * MINUTE - 30 * MINUTE;
    await produce(pipeline, dayStart, 3);
    const resources = await resourcesFromPrefix(pipeline.clients, prefix);
    expect(resources).toEqual({
      resultsTable: `${prefix}-WindowResults`,
      resultsStream: `${prefix}-final-windows`,
      stream: `${prefix}-readings`,
      alarmsTable: `${prefix}-Alarms`,
      stateTable: `${prefix}-WindowState`,
    });

    const log: string[] = [];
    const store = new DashboardStore();
    const source = new DeployedSource({
      clients: pipeline.clients,
      resources,
      label: 'test',
      streamPollMs: 200,
      log: (l) => log.push(l),
    });
    await source.start(store);
    try {
      // History: 3 sensors x 3 minutes, from the table.
      expect(store.snapshot().counts.windows).toBe(9);
      expect(
        store
          .snapshot()
          .sensors.map((s) => s.id)
          .sort(),
      ).toEqual(['sensor_1', 'sensor_2', 'sensor_3']);
      expect(log.join('\n')).toContain(`following ${prefix}-final-windows`);
      // A record that is not a final window is skipped with its reason.
      await pipeline.clients.kinesis.send(
        new PutRecordsCommand({
          StreamName: resources.resultsStream,
          Records: [{ PartitionKey: 'x', Data: Buffer.from('{"sensorId":"x"}') }],
        }),
      );
      // Live: windows closed from now on arrive through the stream.
      await produce(pipeline, dayStart + 10 * MINUTE, 2);
      await until('the streamed windows', () => (store.snapshot().counts.windows >= 15 ? true : undefined));
      const [series] = store.sensorSeries('sensor_2', { points: 100 });
      expect(series?.columns.t).toHaveLength(5);
      expect(series?.columns.t.at(-1)).toBe(dayStart + 11 * MINUTE);
      await until('the skipped record', () =>
        log.some((l) => l.includes('skipped a results stream record')) ? true : undefined,
      );
      expect(log.find((l) => l.includes('skipped'))).toMatch(/windowKey|windowStart/);
    } finally {
      await source.stop();
    }
  });

  it("shows each sensor's newest open window as the state table holds it, and re-reads it", async () => {
    const minuteStart = Math.floor(Date.now() / MINUTE) * MINUTE;
    const from = minuteStart + 40 * MINUTE;
    const records = await produce(pipeline, from, 2, { flush: false });
    // What the records say: each sensor's newest window and its readings.
    const expected = new Map<string, { start: number; count: number }>();
    for (const r of records) {
      const start = Math.floor(r.eventTimeMs! / MINUTE) * MINUTE;
      const e = expected.get(r.partitionKey);
      if (!e || start > e.start) expected.set(r.partitionKey, { start, count: 1 });
      else if (start === e.start) e.count++;
    }
    expect(expected.size).toBe(3);

    const resources = await resourcesFromPrefix(pipeline.clients, prefix);
    const store = new DashboardStore();
    const log: string[] = [];
    const source = new DeployedSource({
      clients: pipeline.clients,
      resources: { resultsTable: resources.resultsTable, stateTable: resources.stateTable! },
      label: 'open',
      tablePollMs: 60_000,
      openPollMs: 200,
      log: (l) => log.push(l),
    });
    expect(source.provides).toContain('open');
    await source.start(store);
    try {
      const open = () =>
        new Map(store.snapshot().sensors.flatMap((s) => (s.open ? [[s.id, s.open] as const] : [])));
      for (const [sensorId, e] of expected) {
        expect(open().get(sensorId), sensorId).toMatchObject({
          metric: 'temperature',
          windowType: 'tumbling',
          start: e.start,
          end: e.start + MINUTE,
          count: e.count,
          // The drain's final invocation checkpointed every sensor: none is claimed.
          asOf: expect.any(Number),
        });
        expect(open().get(sensorId)?.carried).toBeUndefined();
      }
      expect(log.join('\n')).toContain(`3 open window(s) from ${resources.stateTable}`);
      // The next minutes: the re-read shows the sensors' new newest windows.
      const more = await produce(pipeline, from + 2 * MINUTE, 1, { flush: false });
      const newest = Math.max(...more.map((r) => r.eventTimeMs!));
      const newestStart = Math.floor(newest / MINUTE) * MINUTE;
      await until('the re-read', () =>
        [...open().values()].some((o) => o.start === newestStart) ? true : undefined,
      );
      // A sensor claimed by a carried state mid-window (the claim a window's first batch
      // writes, SEMANTICS.md CS2): the page is told its newer readings are not stored yet.
      await pipeline.clients.doc.send(
        new UpdateCommand({
          TableName: resources.stateTable,
          Key: { sensorId: 'sensor_2' },
          UpdateExpression: 'SET carriedBy = :by, updatedAt = :now',
          ExpressionAttributeValues: { ':by': 'test-lineage', ':now': Date.now() },
        }),
      );
      await until('the claimed sensor', () => (open().get('sensor_2')?.carried ? true : undefined));
      expect(open().get('sensor_1')?.carried).toBeUndefined();
    } finally {
      await source.stop();
    }
    // Off: no read of the state table, and the page is told there are none.
    const off = new DeployedSource({
      clients: pipeline.clients,
      resources: { resultsTable: resources.resultsTable, stateTable: resources.stateTable! },
      label: 'off',
      openPollMs: 0,
    });
    expect(off.provides).not.toContain('open');
  });

  it('shows the alarms of the projection table, and re-reads them for their new states', async () => {
    const alarmsTable = `${prefix}-Alarms`;
    const projection = new AlarmProjection({ doc: pipeline.clients.doc, tableName: alarmsTable });
    const ctx = {
      sensorId: 'sensor_9',
      rule: 'overheat',
      ruleVersion: 2,
      ruleType: 'threshold',
      severity: 'critical' as const,
      metric: 'temperature',
      detail: { above: 30 },
    };
    const raised: TransitionDraft = {
      transition: 'ALARM',
      from: 'NORMAL',
      state: 'ACTIVE',
      at: 1_000,
      clock: 'event',
      since: 1_000,
      value: 31,
      peak: 31,
      peakAt: 1_000,
    };
    await projection.write([buildTransition({ ...ctx, seq: 1 }, raised)], []);
    const store = new DashboardStore();
    const source = new DeployedSource({
      clients: pipeline.clients,
      resources: { resultsTable: `${prefix}-WindowResults`, alarmsTable },
      label: 'alarms',
      tablePollMs: 60_000,
      alarmsPollMs: 200,
    });
    expect(source.provides).toContain('alarms');
    await source.start(store);
    try {
      expect(store.alarm('overheat@sensor_9')).toMatchObject({
        state: 'ACTIVE',
        transition: 'ALARM',
        seq: 1,
        ruleVersion: 2,
        value: 31,
        peak: 31,
        since: 1_000,
      });
      await projection.write(
        [
          buildTransition(
            { ...ctx, seq: 2 },
            {
              ...raised,
              transition: 'ACKNOWLEDGED',
              from: 'ACTIVE',
              state: 'ACKNOWLEDGED',
              at: 9_000,
              clock: 'processing',
              by: 'ann',
              note: 'fan replaced',
            },
          ),
        ],
        [],
      );
      await until('the acknowledged alarm', () =>
        store.alarm('overheat@sensor_9')?.state === 'ACKNOWLEDGED' ? true : undefined,
      );
      expect(store.alarm('overheat@sensor_9')).toMatchObject({
        by: 'ann',
        note: 'fan replaced',
        since: 9_000,
      });
      expect(store.snapshot().alarms).toHaveLength(1);
    } finally {
      await source.stop();
    }
  });

  it('without an output stream, re-reads the table for windows finalised since', async () => {
    const resources = { resultsTable: `${prefix}-WindowResults` };
    const store = new DashboardStore();
    const source = new DeployedSource({
      clients: pipeline.clients,
      resources,
      label: 'table only',
      tablePollMs: 200,
    });
    await source.start(store);
    try {
      const before = store.snapshot().counts.windows;
      expect(before).toBeGreaterThan(0);
      await produce(pipeline, Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE, 1);
      await until('the re-read windows', () =>
        store.sensorSeries('sensor_1', { points: 100 })[0]!.columns.t.length > 5 ? true : undefined,
      );
    } finally {
      await source.stop();
    }
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('dashboard --stack: resources from CloudFormation outputs (moto_server)', () => {
  let moto: ChildProcess | undefined;
  let endpoint = '';

  beforeAll(async () => {
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const up = await fetch(`${endpoint}/moto-api/`).then(
        () => true,
        () => false,
      );
      if (up) break;
      if (Date.now() > deadline) throw new Error('moto_server did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  afterAll(() => {
    moto?.kill('SIGTERM');
  });

  // As `npm run dashboard` builds it: the local commands' timeouts (moto's CreateStack
  // takes seconds on a loaded machine; a timed-out one is retried and meets its own stack).
  const options = () => ({
    timeouts: LOCAL_TIMEOUTS,
    region: 'us-east-1',
    endpoints: { cloudformation: endpoint },
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });

  function template(outputs: Record<string, string>) {
    return JSON.stringify({
      Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
      Outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { Value: v }])),
    });
  }

  it('reads the results, state and alarms tables and stream names from the stack outputs, and names what is missing', async () => {
    const cfn = createCloudFormationClient(options());
    try {
      await cfn.send(
        new CreateStackCommand({
          StackName: 'Windowpane',
          TemplateBody: template({
            ResultsTableName: 'Windowpane-Results-1',
            ResultsStreamName: 'Windowpane-Out-1',
            StreamName: 'in',
            AlarmsTableName: 'Windowpane-Alarms-1',
            StateTableName: 'Windowpane-State-1',
          }),
        }),
      );
      await cfn.send(new CreateStackCommand({ StackName: 'Other', TemplateBody: template({ Foo: 'bar' }) }));
      expect(await resourcesFromStack(cfn, 'Windowpane')).toEqual({
        resultsTable: 'Windowpane-Results-1',
        resultsStream: 'Windowpane-Out-1',
        stream: 'in',
        alarmsTable: 'Windowpane-Alarms-1',
        stateTable: 'Windowpane-State-1',
      });
      await expect(resourcesFromStack(cfn, 'Other')).rejects.toThrow(
        /stack Other has no output ResultsTableName.*outputs: Foo/,
      );
      await expect(resourcesFromStack(cfn, 'Missing')).rejects.toBeInstanceOf(StackOutputsError);
      await expect(resourcesFromStack(cfn, 'Missing')).rejects.toThrow(/cannot describe stack Missing/);
    } finally {
      cfn.destroy();
    }
  });

  it('gives up on a CloudFormation endpoint that never answers, naming the call and endpoint', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const cfn = createCloudFormationClient({
      ...options(),
      endpoints: { cloudformation: url },
      timeouts: { requestMs: 300 },
      maxAttempts: 1,
    });
    try {
      const found = resourcesFromStack(cfn, 'Windowpane');
      await expect(found).rejects.toBeInstanceOf(StackOutputsError);
      await expect(found).rejects.toThrow(
        `cannot describe stack Windowpane: CloudFormation DescribeStacks to ${url} got no answer`,
      );
    } finally {
      cfn.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
