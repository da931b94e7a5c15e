/**
 * Sliding and session windows through the handler, the output stream of final windows,
 * and the idle sweeper, including both orders of its race with the stream handler.
 */
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { createClients, localClientOptions } from '../../functions/lib/clients.js';
import { parseHandlerEnv } from '../../functions/lib/env.js';
import { type BatchDeps, buildBatchDeps } from '../../functions/pipeline/deps.js';
import { sweepIdleSensors } from '../../functions/pipeline/flush.js';
import { processBatch } from '../../functions/window-handler/process-batch.js';
import { drainQueue, provisionLocalCloud, uniquePrefix } from '../../local/cloud/index.js';
import { kinesisEvent, putRecords, readAllRecords, scanAll } from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const T0 = Date.UTC(2026, 0, 1);
const config = parseConfig({
  rules: [],
  stream: { shardCount: 1 },
  windows: [
    { type: 'tumbling', sizeMs: 60_000 },
    { type: 'sliding', sizeMs: 60_000, slideMs: 30_000 },
    { type: 'session', gapMs: 20_000 },
  ],
});

type Cloud = Awaited<ReturnType<typeof provisionLocalCloud>>;

/** Deps whose state-table puts wait for `gate` (to force one side of a race to commit second). */
function gatedDeps(cloud: Cloud, gate?: { wait: Promise<void>; reached: () => void }): BatchDeps {
  const env = parseHandlerEnv(cloud.env);
  const clients = createClients({
    ...localClientOptions(endpoints),
    decorate: (client) => {
      if (!gate) return client;
      const stack = client.middlewareStack as { add(mw: unknown, o: { step: string; name: string }): void };
      stack.add(
        (next: (a: unknown) => Promise<unknown>, ctx: { commandName?: string }) => async (args: unknown) => {
          const input = (args as { input?: { TableName?: string } }).input;
          if (ctx.commandName === 'PutItemCommand' && input?.TableName === env.stateTable) {
            gate.reached();
            await gate.wait;
          }
          return next(args);
        },
        { step: 'initialize', name: 'raceGate' },
      );
      return client;
    },
  });
  return buildBatchDeps(env, clients);
}

function gate() {
  let open!: () => void;
  let reached!: () => void;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  const arrived = new Promise<void>((r) => {
    reached = r;
  });
  return { wait, open, reached, arrived };
}

async function eventFor(cloud: Cloud, points: [string, number, number][]): Promise<KinesisStreamEvent> {
  const before = (await readAllRecords(cloud.clients, cloud.resources.stream.name))[0]!.records.length;
  await putRecords(
    cloud.clients,
    cloud.resources.stream.name,
    points.map(([sensorId, ts, v]) => ({
      partitionKey: sensorId,
      data: Buffer.from(JSON.stringify({ sensorId, timestamp: T0 + ts, temperature: v })),
    })),
  );
  const shard = (await readAllRecords(cloud.clients, cloud.resources.stream.name))[0]!;
  return kinesisEvent(shard.shardId, shard.records.slice(before), cloud.resources.stream.arn);
}

async function outputStream(cloud: Cloud): Promise<{ resultId: string; windowType: string }[]> {
  const name = cloud.resources.resultsStream!.name;
  const { Shards = [] } = await cloud.clients.kinesis.send(new ListShardsCommand({ StreamName: name }));
  const out: { resultId: string; windowType: string }[] = [];
  for (const s of Shards) {
    const { ShardIterator } = await cloud.clients.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: name,
        ShardId: s.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const page = await cloud.clients.kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
    for (const r of page.Records ?? []) out.push(JSON.parse(Buffer.from(r.Data!).toString()));
  }
  return out;
}

let cloud: Cloud;
beforeAll(async () => {
  cloud = await provisionLocalCloud(endpoints, { config, prefix: uniquePrefix('win') });
});
afterAll(() => cloud?.destroyClients());

describe('Windows: several definitions through the handler, final results emitted exactly once to the table and the output stream', () => {
  it('emits tumbling, sliding and session results, each tagged, once each even when the batch is redelivered', async () => {
    const deps = gatedDeps(cloud);
    const event = await eventFor(cloud, [
      ['multi', 1_000, 10],
      ['multi', 5_000, 20],
      ['multi', 50_000, 30],
      ['multi', 200_000, 40],
    ]);
    await processBatch(deps, event);
    await processBatch(deps, event);
    await processBatch(gatedDeps(cloud), event); // a cold container too
    const results = (await scanAll(cloud.clients, cloud.resources.tables[1]!.name)).filter(
      (r) => r.sensorId === 'multi',
    );
    const tags = results.map((r) => [
      r.windowType,
      Number(r.windowStart) - T0,
      r.windowSizeMs,
      r.windowSlideMs,
      r.windowGapMs,
    ]);
    expect(tags.sort()).toEqual(
      [
        ['tumbling', 0, 60_000, undefined, undefined],
        ['sliding', -30_000, 60_000, 30_000, undefined],
        ['sliding', 0, 60_000, 30_000, undefined],
        ['sliding', 30_000, 60_000, 30_000, undefined],
        ['session', 1_000, 24_000, undefined, 20_000],
        ['session', 50_000, 20_000, undefined, 20_000],
      ].sort(),
    );
    const streamed = (await outputStream(cloud)).filter((r) => r.resultId.startsWith('multi#'));
    expect(streamed.map((r) => r.resultId).sort()).toEqual(results.map((r) => `multi#${r.windowKey}`).sort());
  });
});

describe('Idle sensors: a scheduled sweeper finalises windows of sensors silent longer than the processing-time timeout', () => {
  it('flushes an idle sensor once and leaves an active one alone', async () => {
    const deps = gatedDeps(cloud);
    await processBatch(
      deps,
      await eventFor(cloud, [
        ['idle-1', 1_000, 10],
        ['idle-1', 2_000, 12],
      ]),
    );
    const state = await deps.store.load('idle-1');
    const notYet = await sweepIdleSensors(deps, { nowMs: state.updatedAt! + 1_000, idleTimeoutMs: 60_000 });
    expect(notYet.windowsFinalised).toBe(0);
    const swept = await sweepIdleSensors(deps, { nowMs: state.updatedAt! + 61_000, idleTimeoutMs: 60_000 });
    expect(swept.windowsFinalised).toBeGreaterThanOrEqual(3);
    const again = await sweepIdleSensors(deps, { nowMs: state.updatedAt! + 120_000, idleTimeoutMs: 60_000 });
    expect(again.windowsFinalised).toBe(0);
    const results = (await scanAll(cloud.clients, cloud.resources.tables[1]!.name)).filter(
      (r) => r.sensorId === 'idle-1',
    );
    expect(results.map((r) => r.windowType).sort()).toEqual(['session', 'sliding', 'sliding', 'tumbling']);
    expect((await deps.store.load('idle-1')).windows).toEqual({});
  });

  it('race, sweeper commits first: the handler re-reads, its readings for the flushed windows are late, one result each', async () => {
    const sensor = 'race-a';
    await processBatch(gatedDeps(cloud), await eventFor(cloud, [[sensor, 1_000, 10]]));
    const g = gate();
    const handlerDeps = gatedDeps(cloud, g);
    const batch2 = await eventFor(cloud, [
      [sensor, 2_000, 99],
      [sensor, 3_000, 98],
    ]);
    const handling = processBatch(handlerDeps, batch2);
    await g.arrived; // the handler has read and folded, and waits to commit
    const sweeper = gatedDeps(cloud);
    const updatedAt = (await sweeper.store.load(sensor)).updatedAt!;
    // (Other idle sensors of this file are flushed too; only this one is asserted on.)
    const swept = await sweepIdleSensors(sweeper, { nowMs: updatedAt + 10_000, idleTimeoutMs: 5_000 });
    expect(swept.windowsFinalised).toBeGreaterThanOrEqual(4);
    g.open();
    const { report } = await handling;
    expect(report.conflicts).toBe(1);
    const results = (await scanAll(cloud.clients, cloud.resources.tables[1]!.name)).filter(
      (r) => r.sensorId === sensor,
    );
    expect(results).toHaveLength(4);
    for (const r of results)
      expect((r.metrics as Record<string, { count: number }>).temperature!.count).toBe(1);
    const late = (await drainQueue(cloud.clients, cloud.resources.queues.late.url, { waitMs: 300 }))
      .map((m) => m.body as { sensorId: string; timestamp: number })
      .filter((l) => l.sensorId === sensor);
    expect(late.map((l) => l.timestamp - T0).sort()).toEqual([2_000, 3_000]);
  });

  it('race, handler commits first: the sweeper re-reads, sees fresh activity and flushes nothing', async () => {
    const sensor = 'race-b';
    await processBatch(gatedDeps(cloud), await eventFor(cloud, [[sensor, 1_000, 10]]));
    await new Promise((r) => setTimeout(r, 50));
    const g = gate();
    const sweeper = gatedDeps(cloud, g);
    const sweeping = sweepIdleSensors(sweeper, { nowMs: Date.now(), idleTimeoutMs: 20 });
    await g.arrived; // the sweeper has read an idle state and waits to commit its flush
    await processBatch(gatedDeps(cloud), await eventFor(cloud, [[sensor, 2_000, 11]]));
    g.open();
    const swept = await sweeping;
    expect(swept.conflicts).toBe(1);
    const mine = (await scanAll(cloud.clients, cloud.resources.tables[1]!.name)).filter(
      (r) => r.sensorId === sensor,
    );
    expect(mine).toEqual([]);
    // The windows stay open with both readings and are emitted once, later, by the handler.
    await processBatch(gatedDeps(cloud), await eventFor(cloud, [[sensor, 500_000, 12]]));
    const results = (await scanAll(cloud.clients, cloud.resources.tables[1]!.name)).filter(
      (r) => r.sensorId === sensor,
    );
    const tumbling = results.filter((r) => r.windowType === 'tumbling');
    expect(tumbling).toHaveLength(1);
    expect((tumbling[0]!.metrics as Record<string, { count: number }>).temperature!.count).toBe(2);
    const streamed = (await outputStream(cloud)).filter((r) => r.resultId.startsWith(`${sensor}#`));
    expect(streamed).toHaveLength(results.length);
  });
});
