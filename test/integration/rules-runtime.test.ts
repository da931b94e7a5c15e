/**
 * A-R3 Sources and versions, A-R4 Changes at runtime, against the rules table on dynalite:
 * rows written at increasing versions with a tombstone for a delete, a bad row skipped
 * and counted without stopping anything, and a running source that follows a change only
 * after its refresh interval, so that alarms raised after it carry the new version.
 */
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import type { Rule } from '../../functions/domain/rules/registry.js';
import { newSensorState } from '../../functions/domain/state.js';
import {
  type AwsClients,
  createClients,
  destroyClients,
  localClientOptions,
} from '../../functions/lib/clients.js';
import { TableRuleSource } from '../../functions/lib/rule-source.js';
import { RulesTable, RuleVersionConflictError } from '../../functions/lib/rules-table.js';
import { record } from '../unit/factories.js';

const endpoints = inject('endpoints');
const TABLE = `rules-runtime-${process.pid}-${Date.now()}`;
let clients: AwsClients;
let table: RulesTable;

const config = parseConfig({
  rules: [{ name: 'too-hot', type: 'threshold', metric: 'temperature', above: 35 }],
  alarms: { rulesRefreshMs: 1_000, rulesFullReloadMs: 60_000 },
});
const hotAlarm = (above: number): Rule => ({
  name: 'hot-alarm',
  type: 'threshold',
  metric: 'temperature',
  severity: 'critical',
  cooldownMs: 60_000,
  mode: 'alarm',
  above,
});

async function createRulesTable(name: string): Promise<void> {
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
}

beforeAll(async () => {
  clients = createClients(localClientOptions({ dynamodb: endpoints.dynamodb }));
  await createRulesTable(TABLE);
  table = new RulesTable({ doc: clients.doc, tableName: TABLE });
});

afterAll(async () => {
  await clients?.dynamodb.send(new DeleteTableCommand({ TableName: TABLE })).catch(() => undefined);
  if (clients) destroyClients(clients);
});

describe('A-R3 rule rows: versions and tombstones', () => {
  it('writes version 1, then 2; a stale write is refused naming the rule; a delete is a tombstone', async () => {
    const v1 = await table.put(hotAlarm(40), { expectedVersion: 0, by: 'test' });
    expect(v1.version).toBe(1);
    const v2 = await table.put(hotAlarm(38), { expectedVersion: 1, by: 'test' });
    expect(v2.version).toBe(2);
    await expect(table.put(hotAlarm(30), { expectedVersion: 1, by: 'test' })).rejects.toThrowError(
      RuleVersionConflictError,
    );
    await expect(table.put(hotAlarm(30), { expectedVersion: 1, by: 'test' })).rejects.toThrowError(
      /rule hot-alarm@all changed since version 1 was read/,
    );
    const other = { ...hotAlarm(20), name: 'gone' };
    await table.put(other, { expectedVersion: 0, by: 'test' });
    await table.delete({ pk: 'rule#gone', sk: 'all' }, { expectedVersion: 1, by: 'test' });
    const loaded = await table.load(config.metrics);
    expect(loaded.rules.map((r) => [r.name, r.version])).toEqual([['hot-alarm', 2]]);
    expect(loaded.revision).toBe(4);
    // A rule created again after its delete continues at the next version.
    expect((await table.put(other, { expectedVersion: 2, by: 'test' })).version).toBe(3);
    await table.delete({ pk: 'rule#gone', sk: 'all' }, { expectedVersion: 3, by: 'test' });
  });
});

describe('A-R4 Changes at runtime', () => {
  it('a bad row is skipped as if absent, counted and logged; the rest apply', async () => {
    await clients.doc.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          pk: 'rule#broken',
          sk: 'all',
          version: 1,
          body: JSON.stringify({ name: 'broken', type: 'zscor' }),
        },
      }),
    );
    const errors: Record<string, unknown>[] = [];
    const source = new TableRuleSource({
      table,
      config,
      logger: { warn() {}, error: (_m, extra) => errors.push(extra ?? {}) },
    });
    const outcome = await source.refreshIfDue(1_000_000);
    expect(outcome).toEqual({ invalid: 1, failed: false });
    expect(errors).toEqual([
      expect.objectContaining({
        pk: 'rule#broken',
        sk: 'all',
        reason: expect.stringMatching(/unknown rule type "zscor"/),
      }),
    ]);
    // The seed rule and the table's rule both apply.
    expect(
      source
        .current()
        .resolve('s1')
        .rules.map((r) => r.name),
    ).toEqual(['hot-alarm', 'too-hot']);
  });

  it('a change applies after the refresh interval, and alarms carry the version that raised them', async () => {
    const source = new TableRuleSource({ table, config });
    let now = 2_000_000;
    await source.refreshIfDue(now);
    const fold = (state: ReturnType<typeof newSensorState>, t: number, v: number, seq: number) =>
      foldSensorRecords(state, [{ ...record('s1', t, v, seq), arrivalMs: t }], config, source.current());

    const before = fold(newSensorState('s1'), 1_000, 37, 1);
    expect(before.effects.transitions).toBeUndefined(); // version 2: above 38

    const v3 = await table.put(hotAlarm(36), { expectedVersion: 2, by: 'test' });
    now += 500; // within rulesRefreshMs: no read, the old rules stay
    await source.refreshIfDue(now);
    const stillOld = fold(before.state, 2_000, 37, 2);
    expect(stillOld.effects.transitions).toBeUndefined();

    now += 1_000;
    await source.refreshIfDue(now);
    const after = fold(stillOld.state, 3_000, 37, 3);
    expect(after.effects.transitions!.map((t) => [t.transition, t.ruleVersion])).toEqual([
      ['ALARM', v3.version],
    ]);
  });

  it('a failed refresh keeps the last rules and says so; a failed first load fails (the batch is retried)', async () => {
    const name = `${TABLE}-doomed`;
    await createRulesTable(name);
    const doomed = new RulesTable({ doc: clients.doc, tableName: name });
    await doomed.put(hotAlarm(50), { expectedVersion: 0, by: 'test' });
    const warnings: string[] = [];
    const source = new TableRuleSource({
      table: doomed,
      config,
      logger: { warn: (m) => warnings.push(m), error() {} },
    });
    await source.refreshIfDue(0);
    const rules = source.current();
    await clients.dynamodb.send(new DeleteTableCommand({ TableName: name }));
    expect(await source.refreshIfDue(5_000)).toEqual({ invalid: 0, failed: true });
    expect(source.current()).toBe(rules);
    expect(warnings).toEqual(['rules refresh failed; the last rules loaded stay in force']);
    const cold = new TableRuleSource({ table: doomed, config });
    await expect(cold.refreshIfDue(0)).rejects.toThrow();
  });
});
