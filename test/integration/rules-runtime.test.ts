/**
 * A-R3 Sources and versions, A-R4 Changes at runtime, A-R5 Writing rules, against the rules
 * table on dynalite: rows written at increasing versions with a tombstone for a delete, a
 * bad row skipped and counted without stopping anything, a running source that follows a
 * change only after its refresh interval, so that alarms raised after it carry the new
 * version; `npm run rules`' functions (concurrent writers, export/import) and the command
 * itself; and a running local pipeline that picks up a put and a delete.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DeleteTableCommand, waitUntilTableNotExists } from '@aws-sdk/client-dynamodb';
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
import { RULES_TABLE } from '../../functions/lib/resources.js';
import { sleep } from '../../functions/lib/retry.js';
import { TableRuleSource } from '../../functions/lib/rule-source.js';
import { RulesTable, RuleVersionConflictError } from '../../functions/lib/rules-table.js';
import { uniquePrefix } from '../../local/cloud/index.js';
import { createActiveTable } from '../../local/cloud/provision.js';
import { startLocalPipeline } from '../../local/pipeline/index.js';
import { putRecordsInOrder } from '../../local/put-in-order.js';
import {
  deleteRule,
  exportRules,
  exportText,
  getRule,
  importRules,
  listRules,
  putRule,
  RuleNotFoundError,
  type RulesContext,
} from '../../local/rules/commands.js';
import { rulesFromJson } from '../../local/rules/rules-file.js';
import { record } from '../unit/factories.js';

const execFileAsync = promisify(execFile);
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
  await createActiveTable(clients.dynamodb, {
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
  });
}

beforeAll(async () => {
  clients = createClients(localClientOptions({ dynamodb: endpoints.dynamodb }));
  await createRulesTable(TABLE);
  table = new RulesTable({ doc: clients.doc, tableName: TABLE });
});

afterAll(async () => {
  for (const name of [TABLE, `${TABLE}-cli`, `${TABLE}-copy`, `${TABLE}-cmd`])
    await clients?.dynamodb.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
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
    // DeleteTable answers DELETING; dynalite drops the table a moment later, and a read in
    // between still finds it (a busy machine widens that moment).
    await waitUntilTableNotExists({ client: clients.dynamodb, maxWaitTime: 30 }, { TableName: name });
    expect(await source.refreshIfDue(5_000)).toEqual({ invalid: 0, failed: true });
    expect(source.current()).toBe(rules);
    expect(warnings).toEqual(['rules refresh failed; the last rules loaded stay in force']);
    const cold = new TableRuleSource({ table: doomed, config });
    await expect(cold.refreshIfDue(0)).rejects.toThrow();
  });
});

describe('A-R5 Writing rules (npm run rules)', () => {
  const ctxFor = (t: RulesTable): RulesContext => ({
    table: t,
    seed: config.rules,
    metrics: config.metrics,
    by: 'test',
  });
  let own: RulesTable;
  beforeAll(async () => {
    await createRulesTable(`${TABLE}-cli`);
    own = new RulesTable({ doc: clients.doc, tableName: `${TABLE}-cli` });
  });

  it('concurrent writers of one rule never reuse a version; the last write is in force', async () => {
    const ctx = ctxFor(own);
    const writers = [30, 31, 32, 33, 34].map((above) => putRule(ctx, { ...hotAlarm(above), name: 'raced' }));
    const written = await Promise.all(writers);
    expect(written.map((r) => r.version).sort()).toEqual([1, 2, 3, 4, 5]);
    const last = written.find((r) => r.version === 5)!;
    const row = await own.row({ pk: 'rule#raced', sk: 'all' });
    expect(row).toMatchObject({ version: 5, deleted: false });
    expect(JSON.parse(row!.body!)).toEqual(last);
    // Every write bumped the revision (A-R4): a handler polling it sees each one.
    expect(await own.revision()).toBe(5);
  });

  it('delete writes a tombstone at the next version; the configured rule of that name applies again', async () => {
    const ctx = ctxFor(own);
    await putRule(ctx, { ...hotAlarm(40), name: 'too-hot' });
    const listed = await listRules(ctx);
    expect(listed.filter((r) => r.name === 'too-hot')).toEqual([
      expect.objectContaining({ version: 1, source: 'table', rule: expect.objectContaining({ above: 40 }) }),
    ]);
    expect(await deleteRule(ctx, 'too-hot', 'all')).toEqual({ version: 2, seedApplies: true });
    expect(await own.row({ pk: 'rule#too-hot', sk: 'all' })).toMatchObject({ version: 2, deleted: true });
    expect((await getRule(ctx, 'too-hot', 'all')).source).toBe('configuration');
    await expect(deleteRule(ctx, 'too-hot', 'all')).rejects.toThrowError(
      /no rule too-hot@all in table .* \(deleted at version 2\)/,
    );
    await expect(deleteRule(ctx, 'never', 'all')).rejects.toThrowError(RuleNotFoundError);
  });

  it('export prints what import reads: exported, imported elsewhere, exported again, byte for byte', async () => {
    const ctx = ctxFor(own);
    await putRule(ctx, { ...hotAlarm(50), name: 'lab', scope: { prefix: 'lab-' } });
    const first = exportText((await exportRules(ctx)).rules);
    expect(JSON.parse(first).rules.map((r: Rule) => r.name)).toEqual(['lab', 'raced']);
    expect(first).not.toMatch(/"version"/);

    await createRulesTable(`${TABLE}-copy`);
    const copy = ctxFor(new RulesTable({ doc: clients.doc, tableName: `${TABLE}-copy` }));
    const rules = rulesFromJson(JSON.parse(first), 'export.json', config);
    expect((await importRules(copy, rules)).written.map((r) => r.version)).toEqual([1, 1]);
    expect(exportText((await exportRules(copy)).rules)).toBe(first);
    // The same file again changes nothing: no version, no revision is spent.
    const revision = await copy.table.revision();
    expect(await importRules(copy, rules)).toMatchObject({ written: [], unchanged: rules });
    expect(await copy.table.revision()).toBe(revision);
  });
});

describe('npm run rules, the command', () => {
  const run = (args: string[]) =>
    execFileAsync('npx', ['tsx', 'local/cli/rules.ts', ...args], {
      env: {
        ...process.env,
        WINDOWPANE_CONFIG: JSON.stringify(config),
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_REGION: 'us-east-1',
      },
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
  const target = () => ['--endpoint', endpoints.dynamodb, '--table', `${TABLE}-cmd`];

  it('puts a file, refuses a bad one naming the file and field (exit 1, nothing written), and a bad flag (exit 2)', async () => {
    await createRulesTable(`${TABLE}-cmd`);
    const dir = await mkdtemp(path.join(tmpdir(), 'rules-cli-'));
    try {
      const good = path.join(dir, 'good.json');
      const bad = path.join(dir, 'bad.json');
      await writeFile(good, JSON.stringify([hotAlarm(45)]));
      await writeFile(
        bad,
        JSON.stringify({ rules: [hotAlarm(46), { ...hotAlarm(1), name: 'x', above: 'hot' }] }),
      );
      const put = await run(['put', good, ...target()]);
      expect(put).toMatchObject({ code: 0, stdout: 'put hot-alarm@all at version 1\n' });
      const refused = await run(['put', bad, ...target()]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`rules: RulesFileError: ${bad}: rules[1].above:`);
      const usage = await run(['put', good, '--scope', 'all', ...target()]);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toMatch(/flag --scope does not apply to "put"/);
      const table2 = new RulesTable({ doc: clients.doc, tableName: `${TABLE}-cmd` });
      expect(await table2.revision()).toBe(1);
      const list = await run(['list', ...target()]);
      expect(list.stdout).toMatch(/^hot-alarm {2}all {2}v1 {2}table {2}threshold temperature alarm$/m);
      expect(list.stdout).toMatch(/^too-hot {2}all {2}v0 {2}configuration/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('A-R4 on a running local pipeline: a put applies after the refresh, a delete removes the alarm', () => {
  it('raises the alarm at the put version, then RULE_REMOVED after the delete', async () => {
    const live = parseConfig({ rules: [], alarms: { rulesRefreshMs: 1_000, rulesFullReloadMs: 60_000 } });
    const pipeline = await startLocalPipeline({
      config: live,
      target: localClientOptions(endpoints),
      prefix: uniquePrefix('rulesrt'),
      resourceSource: 'config',
      deleteResourcesOnStop: true,
    });
    try {
      const rulesTable = pipeline.resources.tables.find((t) => t.def.id === RULES_TABLE.id);
      expect(rulesTable).toBeDefined();
      const ctx: RulesContext = {
        table: new RulesTable({ doc: pipeline.clients.doc, tableName: rulesTable!.name }),
        seed: live.rules,
        metrics: live.metrics,
        by: 'test',
      };
      let line = 0;
      const send = async (t: number, temperature: number) => {
        const data = new TextEncoder().encode(JSON.stringify({ sensorId: 's1', temperature, timestamp: t }));
        await putRecordsInOrder(pipeline.clients.kinesis, pipeline.resources.stream.name, [
          { line: ++line, partitionKey: 's1', data },
        ]);
        await pipeline.mapping.drain({ settleMs: 200 });
      };
      const t0 = Date.UTC(2026, 0, 1);
      await send(t0, 40); // no rule yet: nothing
      const put = await putRule(ctx, { ...hotAlarm(36), version: 7 });
      expect(put.version).toBe(1); // the table's next version, not the file's
      await putRule(ctx, { ...hotAlarm(36), name: 'hot-alert', mode: 'alert' });
      await putRule(ctx, { ...hotAlarm(35), name: 'hot-alert', mode: 'alert' }); // version 2
      await sleep(1_200); // past rulesRefreshMs
      await send(t0 + 1_000, 40);
      await deleteRule(ctx, 'hot-alarm', 'all');
      await sleep(1_200);
      await send(t0 + 2_000, 40);
      const { transitions, alerts } = await pipeline.collect();
      // One alert (the cooldown bucket suppresses the next), at the version in force.
      expect(alerts.map((a) => [a.rule, a.ruleVersion, a.timestamp])).toEqual([['hot-alert', 2, t0 + 1_000]]);
      expect(transitions.map((t) => [t.rule, t.transition, t.ruleVersion, t.at])).toEqual([
        ['hot-alarm', 'ALARM', 1, t0 + 1_000],
        ['hot-alarm', 'RULE_REMOVED', 1, expect.any(Number)],
      ]);
    } finally {
      await pipeline.stop();
    }
  }, 120_000);
});
