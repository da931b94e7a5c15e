/**
 * Issue 10's "done when", as a user would do it on a running pipeline (the local pipeline
 * `npm start` runs, with its idle sweeper on a timer), on the embedded emulators and again
 * on moto (integration-moto: by endpoint):
 *
 * 1. put a per-sensor z-score rule and a silence rule with the rules CLI's functions
 *    (local/rules: `npm run rules -- put FILE`), no redeploy (A-R4, A-R5);
 * 2. the z-score alarm goes ACTIVE on a spike (A-K3), is acknowledged with the alarms CLI's
 *    function (`npm run alarms -- ack`, a control record: A-C1..A-C3), and resolves;
 * 3. the silence rule's alarm is raised by the sweeper once the sensor is quiet for
 *    `silentForMs` and resolved by its next reading (A-K8);
 * 4. every step is one message on SNS (the alerts tap), carrying the rule's version.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { DEFAULT_CONFIG, parseConfig } from '../../functions/domain/config.js';
import { RuleSchema } from '../../functions/domain/rules/registry.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { ALARMS_TABLE, RULES_TABLE } from '../../functions/lib/resources.js';
import { sleep } from '../../functions/lib/retry.js';
import { RulesTable } from '../../functions/lib/rules-table.js';
import { createAlarmActions } from '../../local/alarms/actions.js';
import { listAlarms } from '../../local/alarms/projection.js';
import { findTable, uniquePrefix } from '../../local/cloud/index.js';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline/index.js';
import { putRecordsInOrder } from '../../local/put-in-order.js';
import { putRule, type RulesContext } from '../../local/rules/commands.js';

const REFRESH_MS = 1_000;
const SILENT_FOR_MS = 3_000;
const config = parseConfig({
  ...DEFAULT_CONFIG,
  stream: { ...DEFAULT_CONFIG.stream, shardCount: 1 },
  // Carried state (the default) with W = silentForMs: on a shard where every sensor is
  // silent, CS8 hands a sensor back at the window's final invocation, so its absence alarm
  // comes at most W - silentForMs late (the default W, 300 s, would be the test's wait).
  eventSource: { ...DEFAULT_CONFIG.eventSource, tumblingWindowSeconds: SILENT_FOR_MS / 1_000 },
  alarms: { rulesRefreshMs: REFRESH_MS, rulesFullReloadMs: 60_000 },
});

let pipeline: LocalPipeline;
let rules: RulesContext;
let alarmsTable: string;

async function put(sensorId: string, values: [number, number][]): Promise<void> {
  await putRecordsInOrder(
    pipeline.clients.kinesis,
    pipeline.resources.stream.name,
    values.map(([t, temperature], i) => ({
      line: i + 1,
      partitionKey: sensorId,
      data: Buffer.from(JSON.stringify({ sensorId, timestamp: t, temperature })),
    })),
  );
  await pipeline.mapping.drain({ timeoutMs: 60_000 });
}

/** Every transition message the alerts tap received so far, repeats included. */
const messages: Transition[] = [];
async function collect(): Promise<Transition[]> {
  const out = await pipeline.collect({ waitMs: 300 });
  messages.push(...out.transitionMessages);
  return messages;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const steps = (alarmId: string) =>
  messages.filter((t) => t.alarmId === alarmId).map((t) => `${t.seq} ${t.transition} v${t.ruleVersion}`);

beforeAll(async () => {
  pipeline = await startLocalPipeline({
    config,
    target: localClientOptions(inject('endpoints')),
    prefix: uniquePrefix('done'),
    resourceSource: 'config',
    idleSweep: true,
    idleSweepIntervalMs: 500,
  });
  rules = {
    table: new RulesTable({
      doc: pipeline.clients.doc,
      tableName: findTable(pipeline.resources, RULES_TABLE).name,
    }),
    seed: config.rules,
    metrics: config.metrics,
    by: 'alice',
  };
  alarmsTable = findTable(pipeline.resources, ALARMS_TABLE).name;
}, 90_000);

afterAll(async () => {
  await pipeline?.stop();
});

describe('issue 10 done: rules put at runtime, a z-score alarm acknowledged and resolved, a silence raised and resolved, each step once on SNS', () => {
  it('A-R5 puts both rules while the pipeline runs (version 1 each)', async () => {
    const zscore = await putRule(
      rules,
      RuleSchema.parse({
        name: 'odd-reading',
        type: 'zscore',
        metric: 'temperature',
        window: { count: 20 },
        threshold: 4,
        minCount: 10,
        severity: 'critical',
        scope: { sensor: 'z-1' },
      }),
    );
    const silent = await putRule(
      rules,
      RuleSchema.parse({
        name: 'sensor-silent',
        type: 'absence',
        metric: 'temperature',
        silentForMs: SILENT_FOR_MS,
        scope: { sensor: 'q-1' },
      }),
    );
    expect([zscore.version, silent.version]).toEqual([1, 1]);
    // The handler sees a change from its first batch after the refresh interval (A-R4).
    await sleep(REFRESH_MS * 1.5);
  });

  it('A-K3, A-C3: the z-score alarm goes ACTIVE on a spike, is acknowledged through a control record, and RESOLVED by a normal reading', async () => {
    const t0 = Date.now() - 120_000;
    const normal = Array.from({ length: 15 }, (_, i): [number, number] => [
      t0 + i * 1_000,
      20 + (i % 3) * 0.25,
    ]);
    await put('z-1', [...normal, [t0 + 15_000, 40]]);
    const active = await until('odd-reading@z-1 ACTIVE in the projection', async () =>
      (await listAlarms(pipeline.clients.doc, alarmsTable)).find(
        (a) => a.alarmId === 'odd-reading@z-1' && a.state === 'ACTIVE',
      ),
    );
    expect(active).toMatchObject({ seq: 1 });

    const actions = createAlarmActions({
      doc: pipeline.clients.doc,
      kinesis: pipeline.clients.kinesis,
      streamName: pipeline.resources.stream.name,
      alarmsTable,
      waitMs: 30_000,
    });
    const acked = await actions.request({
      alarmId: 'odd-reading@z-1',
      action: 'ack',
      by: 'alice',
      note: 'checking',
    });
    expect(acked.transition).toMatchObject({
      transition: 'ACKNOWLEDGED',
      state: 'ACKNOWLEDGED',
      by: 'alice',
    });

    await put('z-1', [[t0 + 16_000, 20.25]]);
    await until('odd-reading@z-1 RESOLVED on SNS', async () =>
      (await collect()).some((t) => t.alarmId === 'odd-reading@z-1' && t.transition === 'RESOLVED')
        ? true
        : undefined,
    );
    expect(steps('odd-reading@z-1')).toEqual(['1 ALARM v1', '2 ACKNOWLEDGED v1', '3 RESOLVED v1']);
  });

  it('A-K8: the silence is raised by the sweeper after silentForMs and RESOLVED by the next reading', async () => {
    const first = Date.now();
    await put('q-1', [[first, 21]]);
    await until(
      'sensor-silent@q-1 ALARM on SNS',
      async () =>
        (await collect()).some((t) => t.alarmId === 'sensor-silent@q-1' && t.transition === 'ALARM')
          ? true
          : undefined,
      30_000,
    );
    const alarm = messages.find((t) => t.alarmId === 'sensor-silent@q-1' && t.transition === 'ALARM')!;
    // Dated in event time: the last reading plus silentForMs, whichever sweep raised it.
    expect(alarm.at).toBe(first + SILENT_FOR_MS);
    expect(alarm.recordId).toBeUndefined();

    await put('q-1', [[Date.now(), 21.5]]);
    await until('sensor-silent@q-1 RESOLVED on SNS', async () =>
      (await collect()).some((t) => t.alarmId === 'sensor-silent@q-1' && t.transition === 'RESOLVED')
        ? true
        : undefined,
    );
    expect(steps('sensor-silent@q-1')).toEqual(['1 ALARM v1', '2 RESOLVED v1']);
  });

  it('A-M2: every transition reached SNS once', async () => {
    await sleep(1_500); // a late redelivery or a second sweep would show now
    const all = await collect();
    const ids = all.map((t) => t.transitionId);
    expect(ids.length).toBe(5);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
