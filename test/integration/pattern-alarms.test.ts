/**
 * Pattern rules through the handler on the emulators: A-K6 n-of-m goes ACTIVE then
 * RESOLVED, and A-K8 absence is raised by the idle sweeper (the state table's scan finds
 * the sensor by its `silentDue`) and resolved by the sensor's next reading; every
 * transition once on SNS, whatever the redeliveries and repeated sweeps. A replay (no
 * sweeps) sees every pattern from its input alone: two runs, identical `alarms.jsonl`.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { parseConfig } from '../../functions/domain/config.js';
import { RuleSchema } from '../../functions/domain/rules/registry.js';
import { createClients, localClientOptions } from '../../functions/lib/clients.js';
import { parseHandlerEnv } from '../../functions/lib/env.js';
import { TableRuleSource } from '../../functions/lib/rule-source.js';
import { RulesTable } from '../../functions/lib/rules-table.js';
import { type BatchDeps, buildBatchDeps } from '../../functions/pipeline/deps.js';
import { sweepIdleSensors } from '../../functions/pipeline/flush.js';
import { processBatch } from '../../functions/window-handler/process-batch.js';
import {
  provisionLocalCloud,
  readAlertsTap,
  type SnsEnvelope,
  uniquePrefix,
} from '../../local/cloud/index.js';
import { createActiveTable } from '../../local/cloud/provision.js';
import { runReplay } from '../../local/replay.js';
import { kinesisEvent, putRecords, readAllRecords } from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const T0 = Date.UTC(2026, 0, 1);
const SILENT_FOR = 60_000;
const config = parseConfig({
  rules: [
    {
      name: 'burst',
      type: 'n-of-m',
      metric: 'temperature',
      above: 30,
      count: 3,
      withinMs: 10_000,
      scope: { prefix: 'burst-' },
    },
    {
      name: 'sensor-silent',
      type: 'absence',
      metric: 'temperature',
      silentForMs: SILENT_FOR,
      scope: { prefix: 'quiet-' },
    },
  ],
  stream: { shardCount: 1 },
});

type Cloud = Awaited<ReturnType<typeof provisionLocalCloud>>;
let cloud: Cloud;
const depsOf = (): BatchDeps =>
  buildBatchDeps(parseHandlerEnv(cloud.env), createClients(localClientOptions(endpoints)));

async function eventFor(points: [string, number, number][]) {
  const stream = cloud.resources.stream.name;
  const before = (await readAllRecords(cloud.clients, stream))[0]!.records.length;
  await putRecords(
    cloud.clients,
    stream,
    points.map(([sensorId, ts, v]) => ({
      partitionKey: sensorId,
      data: Buffer.from(JSON.stringify({ sensorId, timestamp: T0 + ts, temperature: v })),
    })),
  );
  const shard = (await readAllRecords(cloud.clients, stream))[0]!;
  return kinesisEvent(shard.shardId, shard.records.slice(before), cloud.resources.stream.arn);
}

/** Alarm messages on the topic for `sensorId`, as SNS delivered them. */
async function alarmsOf(sensorId: string, expected: number): Promise<{ t: Transition; e: SnsEnvelope }[]> {
  const envelopes = await readAlertsTap(cloud.clients, cloud.resources, {
    waitMs: 3_000,
    expect: expected + 1,
  });
  return envelopes
    .filter((e) => e.MessageAttributes?.kind?.Value === 'alarm')
    .map((e) => ({ t: JSON.parse(e.Message) as Transition, e }))
    .filter(({ t }) => t.sensorId === sensorId);
}

beforeAll(async () => {
  cloud = await provisionLocalCloud(endpoints, { config, prefix: uniquePrefix('pat') });
});
afterAll(() => cloud?.destroyClients());

describe('A-K6 n-of-m on the emulators', () => {
  it('ACTIVE at the third breach within 10 s, RESOLVED when they age out; each once on SNS under redelivery', async () => {
    const event = await eventFor([
      ['burst-1', 1_000, 40],
      ['burst-1', 2_000, 20],
      ['burst-1', 3_000, 41],
      ['burst-1', 9_000, 42],
      ['burst-1', 12_000, 20],
      ['burst-1', 14_000, 20],
    ]);
    const deps = depsOf();
    await processBatch(deps, event);
    await processBatch(deps, event); // redelivered
    await processBatch(depsOf(), event); // and to a cold container
    const got = await alarmsOf('burst-1', 2);
    expect(got.map(({ t }) => `${t.transition}@${t.at - T0}`)).toEqual(['ALARM@9000', 'RESOLVED@12000']);
    expect(got.map(({ e }) => e.MessageAttributes?.state?.Value)).toEqual(['ACTIVE', 'NORMAL']);
    expect(got[0]!.t).toMatchObject({ ruleType: 'n-of-m', peak: 42, detail: { inSpan: 3, count: 3 } });
  });
});

describe('A-K8 absence on the emulators: raised by the idle sweeper, resolved by the next reading', () => {
  it('the sweep after silentForMs of processing time raises ALARM once; the next reading RESOLVED once', async () => {
    const deps = depsOf();
    await processBatch(
      deps,
      await eventFor([
        ['quiet-1', 1_000, 20],
        ['quiet-1', 2_000, 21],
      ]),
    );
    const heard = await deps.store.load('quiet-1');
    expect(heard.sd).toBeGreaterThan(Date.now() - 60_000); // last arrival (processing time) + 60 s
    const due = heard.sd!;

    // Not yet due: the scan does not even list it (no open windows are idle either).
    const early = await sweepIdleSensors(deps, { nowMs: due - 1_000, idleTimeoutMs: 10 * 60_000 });
    expect(early.itemsWritten).toBe(0);
    expect(await alarmsOf('quiet-1', 0)).toEqual([]);

    // Due: raised; sweeping again, or by a second sweeper, raises nothing more.
    const swept = await sweepIdleSensors(deps, { nowMs: due + 1, idleTimeoutMs: 10 * 60_000 });
    expect(swept.itemsWritten).toBe(1);
    await sweepIdleSensors(depsOf(), { nowMs: due + 30_000, idleTimeoutMs: 10 * 60_000 });
    const raised = await alarmsOf('quiet-1', 1);
    expect(raised.map(({ t }) => t.transition)).toEqual(['ALARM']);
    expect(raised[0]!.t).toMatchObject({
      alarmId: 'sensor-silent@quiet-1',
      ruleType: 'absence',
      at: T0 + 2_000 + SILENT_FOR,
      clock: 'event',
      value: null,
      detail: { lastReadingAt: T0 + 2_000, silentForMs: SILENT_FOR },
    });
    expect(raised[0]!.t.recordId).toBeUndefined();
    expect(raised[0]!.e.MessageAttributes?.state?.Value).toBe('ACTIVE');

    // The sensor is back: its next reading resolves it, once, whatever the redeliveries.
    const back = await eventFor([['quiet-1', 200_000, 22]]);
    await processBatch(deps, back);
    await processBatch(depsOf(), back);
    const resolved = await alarmsOf('quiet-1', 1);
    expect(resolved.map(({ t }) => `${t.transition}@${t.at - T0}`)).toEqual(['RESOLVED@200000']);
    expect(resolved[0]!.t).toMatchObject({ since: T0 + 62_000, value: 22, state: 'NORMAL' });
    expect((await deps.store.load('quiet-1')).sd).toBeGreaterThan(due);
  });
});

describe('Replay contract: pattern alarms in alarms.jsonl, from the input alone', () => {
  it('a silence longer than silentForMs in the file is ALARM and RESOLVED on the returning line; two runs are identical', async () => {
    const lines = [
      ...[0, 1_000, 2_000].map((t) => ({ sensorId: 'p1', timestamp: T0 + t, temperature: 40 })), // lines 1-3: burst
      { sensorId: 'p1', timestamp: T0 + 20_000, temperature: 20 }, // 4: burst resolved
      { sensorId: 'p1', timestamp: T0 + 200_000, temperature: 20 }, // 5: back after 180 s of silence
    ];
    const dir = await mkdtemp(path.join(tmpdir(), 'windowpane-patterns-'));
    try {
      const input = path.join(dir, 'input.jsonl');
      await writeFile(input, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
      const replayConfig = parseConfig({
        rules: config.rules.map((r) => ({ ...r, scope: 'all' })),
        stream: { shardCount: 1 },
      });
      const once = async (name: string) => {
        const outDir = path.join(dir, name);
        await runReplay({
          input,
          outDir,
          config: replayConfig,
          target: localClientOptions(endpoints),
          prefix: uniquePrefix(`pr${name}`),
          resourceSource: 'config',
        });
        return readFile(path.join(outDir, 'alarms.jsonl'), 'utf8');
      };
      const a = await once('a');
      const b = await once('b');
      expect(b).toBe(a);
      const got = a
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Transition & { line: number })
        .map((t) => `${t.line} ${t.rule} ${t.transition}@${t.at - T0}`);
      expect(got).toEqual([
        '3 burst ALARM@2000',
        '4 burst RESOLVED@20000',
        '5 sensor-silent ALARM@80000',
        '5 sensor-silent RESOLVED@200000',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('A-K8 with rules at runtime (A-R4): a silence rule put in the rules table is raised by a sweeper that has not loaded the rules yet', () => {
  const table = `patterns-rules-${process.pid}-${Date.now()}`;
  const clients = () => createClients(localClientOptions(endpoints));
  afterAll(async () => {
    await clients()
      .dynamodb.send(new DeleteTableCommand({ TableName: table }))
      .catch(() => undefined);
  });

  it('ALARM once, carrying the row version', async () => {
    const c = clients();
    await createActiveTable(c.dynamodb, {
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    });
    const rows = new RulesTable({ doc: c.doc, tableName: table });
    const rule = RuleSchema.parse({
      name: 'table-silent',
      type: 'absence',
      metric: 'temperature',
      silentForMs: SILENT_FOR,
      scope: { sensor: 'rows-quiet' },
    });
    await rows.put(rule, { expectedVersion: 0, by: 'test' });
    const withRows = (): BatchDeps => {
      const deps = depsOf();
      return { ...deps, rules: new TableRuleSource({ table: rows, config: deps.config }) };
    };
    const handler = withRows();
    await processBatch(handler, await eventFor([['rows-quiet', 5_000, 20]]));
    const due = (await handler.store.load('rows-quiet')).sd!;
    expect(due).toBeGreaterThan(0);
    await sweepIdleSensors(withRows(), { nowMs: due + 1, idleTimeoutMs: 10 * 60_000 });
    const raised = await alarmsOf('rows-quiet', 1);
    expect(raised.map(({ t }) => [t.rule, t.transition, t.ruleVersion, t.at - T0])).toEqual([
      ['table-silent', 'ALARM', 1, 5_000 + SILENT_FOR],
    ]);
  });
});
