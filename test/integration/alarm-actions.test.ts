/**
 * Alarm actions end to end on the emulators (docs/SEMANTICS.md A-C1..A-C4): an alarm-mode
 * rule, readings that raise it, then `createAlarmActions` (what `npm run alarms` uses)
 * acknowledging it through a control record on a two-shard stream. The transition reaches
 * SNS once (the alerts-tap SQS subscription) and the alarms projection; a snooze ends;
 * a repeated actionId publishes once; history shows who and when.
 */

import { spawn } from 'node:child_process';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeControl } from '../../functions/domain/alarms/control.js';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { DEFAULT_CONFIG, parseConfig } from '../../functions/domain/config.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { ALARMS_TABLE } from '../../functions/lib/resources.js';
import { AlarmActionRefusedError, createAlarmActions } from '../../local/alarms/actions.js';
import { alarmHistory, listAlarms } from '../../local/alarms/projection.js';
import { findTable, sdkEnv, uniquePrefix } from '../../local/cloud/index.js';
import { REPO_ROOT } from '../../local/config.js';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline/index.js';
import { putRecordsInOrder } from '../../local/put-in-order.js';

const config = parseConfig({
  ...DEFAULT_CONFIG,
  stream: { ...DEFAULT_CONFIG.stream, shardCount: 2 },
  eventSource: { ...DEFAULT_CONFIG.eventSource, maxBatchingWindowSeconds: 0 },
  rules: [{ name: 'too-hot', type: 'threshold', metric: 'temperature', above: 35, mode: 'alarm' }],
});

let pipeline: LocalPipeline;
const prefix = uniquePrefix('act');
let alarmsTable: string;
const seen: Transition[] = [];

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
}

/** Transitions published on SNS so far (the alerts tap), gathered across calls. */
async function published(): Promise<Transition[]> {
  await pipeline.mapping.drain({ timeoutMs: 30_000 });
  const out = await pipeline.collect({ waitMs: 300 });
  // Every message the tap received, repeats included: "once" means one message.
  seen.push(...out.transitionMessages);
  return seen;
}

function actions(waitMs = 30_000) {
  return createAlarmActions({
    doc: pipeline.clients.doc,
    kinesis: pipeline.clients.kinesis,
    streamName: pipeline.resources.stream.name,
    alarmsTable,
    waitMs,
  });
}

beforeAll(async () => {
  pipeline = await startLocalPipeline({
    config,
    target: localClientOptions(inject('endpoints')),
    prefix,
    resourceSource: 'config',
  });
  alarmsTable = findTable(pipeline.resources, ALARMS_TABLE).name;
}, 60_000);
afterAll(async () => {
  await pipeline?.stop();
});

describe('A-C3 alarm actions through the stream', () => {
  it('ack: ACKNOWLEDGED published once on SNS and in the projection; history has who and when', async () => {
    const t0 = Date.now() - 60_000;
    await put('s1', [
      [t0, 20],
      [t0 + 1_000, 40],
    ]);
    await pipeline.mapping.drain({ timeoutMs: 30_000 });
    // The projection shows the alarm ACTIVE before anyone acts.
    const before = await listAlarms(pipeline.clients.doc, alarmsTable);
    expect(before.find((a) => a.alarmId === 'too-hot@s1')).toMatchObject({ state: 'ACTIVE', seq: 1 });

    // A refusal by the projection's state names it, and puts nothing.
    await expect(actions().request({ alarmId: 'too-hot@s1', action: 'enable', by: 'alice' })).rejects.toThrow(
      new AlarmActionRefusedError('too-hot@s1 is ACTIVE: it is not disabled or snoozed'),
    );

    const result = await actions().request({
      alarmId: 'too-hot@s1',
      action: 'ack',
      by: 'alice',
      note: 'on it',
    });
    expect(result.outcome).toBe('applied');
    expect(result.transition).toMatchObject({
      transition: 'ACKNOWLEDGED',
      from: 'ACTIVE',
      state: 'ACKNOWLEDGED',
      by: 'alice',
      note: 'on it',
      clock: 'processing',
      seq: 2,
    });

    const all = await published();
    const acks = all.filter((t) => t.alarmId === 'too-hot@s1' && t.transition === 'ACKNOWLEDGED');
    expect(acks).toHaveLength(1);
    expect(acks[0]!.transitionId).toBe(result.transition!.transitionId);

    const history = await alarmHistory(pipeline.clients.doc, alarmsTable, 's1');
    expect(history.map((t) => t.transition)).toEqual(['ALARM', 'ACKNOWLEDGED']);
    expect(history[1]).toMatchObject({ by: 'alice', note: 'on it', at: result.transition!.at });
    const now = await listAlarms(pipeline.clients.doc, alarmsTable);
    expect(now.find((a) => a.alarmId === 'too-hot@s1')).toMatchObject({ state: 'ACKNOWLEDGED', seq: 2 });
  }, 90_000);

  it('the control record lands on the shard of the sensor readings (ExplicitHashKey = MD5(sensorId))', async () => {
    const r = await actions(0).request({ alarmId: 'too-hot@s1', action: 'reset', by: 'bob' });
    const shardOfReadings = async (sensorId: string) =>
      (
        await pipeline.clients.kinesis.send(
          new PutRecordCommand({
            StreamName: pipeline.resources.stream.name,
            PartitionKey: sensorId,
            Data: Buffer.from(JSON.stringify({ sensorId, timestamp: Date.now() - 30_000, temperature: 20 })),
          }),
        )
      ).ShardId;
    expect(r.shardId).toBe(await shardOfReadings('s1'));
    // More sensors, with the record as the CLI builds it: the key alone would scatter them.
    for (const sensorId of ['a', 'b', 'sensor_3', 'sensor_17', 'x-9', 'zz']) {
      const enc = encodeControl({
        actionId: `route-${sensorId}`,
        alarmId: `too-hot@${sensorId}`,
        sensorId,
        action: 'disable',
        by: 'bob',
        requestedAt: Date.now(),
      });
      const put = await pipeline.clients.kinesis.send(
        new PutRecordCommand({
          StreamName: pipeline.resources.stream.name,
          PartitionKey: enc.partitionKey,
          ExplicitHashKey: enc.explicitHashKey,
          Data: enc.data,
        }),
      );
      expect(put.ShardId, sensorId).toBe(await shardOfReadings(sensorId));
    }
    await pipeline.mapping.drain({ timeoutMs: 30_000 });
  }, 60_000);

  it('the same actionId twice publishes once; the second is already-applied', async () => {
    const t0 = Date.now() - 50_000;
    await put('s2', [[t0, 50]]);
    await pipeline.mapping.drain({ timeoutMs: 30_000 });
    const first = await actions().request({
      alarmId: 'too-hot@s2',
      action: 'ack',
      by: 'carol',
      actionId: 'retry-1',
    });
    expect(first.outcome).toBe('applied');
    // The projection now says ACKNOWLEDGED, so a retried ack would be refused up front; a
    // retry of the very same request (same id) is what a client resends after a timeout.
    const again = await createAlarmActions({
      doc: pipeline.clients.doc,
      kinesis: pipeline.clients.kinesis,
      streamName: pipeline.resources.stream.name,
      alarmsTable,
    }).request({ alarmId: 'too-hot@s2', action: 'snooze', forMs: 60_000, by: 'carol', actionId: 'retry-1' });
    expect(again.outcome).toBe('already-applied');
    const all = await published();
    expect(all.filter((t) => t.alarmId === 'too-hot@s2').map((t) => t.transition)).toEqual([
      'ALARM',
      'ACKNOWLEDGED',
    ]);
  }, 90_000);

  it('snooze, then a reading after it expired: SNOOZE_ENDED at snoozedUntil', async () => {
    const t0 = Date.now() - 40_000;
    await put('s3', [[t0, 50]]);
    await pipeline.mapping.drain({ timeoutMs: 30_000 });
    const snoozed = await actions().request({
      alarmId: 'too-hot@s3',
      action: 'snooze',
      forMs: 1_000,
      by: 'dave',
    });
    expect(snoozed.transition).toMatchObject({ transition: 'SNOOZED', state: 'SNOOZE_DISABLED' });
    await new Promise((r) => setTimeout(r, 1_500));
    await put('s3', [[Date.now() - 1_000, 20]]);
    await pipeline.mapping.drain({ timeoutMs: 30_000 });
    const all = await published();
    const mine = all.filter((t) => t.alarmId === 'too-hot@s3');
    expect(mine.map((t) => t.transition)).toEqual(['ALARM', 'SNOOZED', 'SNOOZE_ENDED']);
    expect(mine[2]!.at).toBe(snoozed.transition!.snoozedUntil);
    const rows = await pipeline.clients.doc.send(
      new QueryCommand({
        TableName: alarmsTable,
        KeyConditionExpression: 'sensorId = :s AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':s': 's3', ':p': 'alarm#' },
      }),
    );
    expect(rows.Items).toEqual([
      expect.objectContaining({ state: 'NORMAL', transition: 'SNOOZE_ENDED', seq: 3 }),
    ]);
  }, 90_000);

  it('an action the fold refuses (unknown alarm) is reported with the reason', async () => {
    await expect(
      actions().request({ alarmId: 'too-cold@s1', action: 'disable', by: 'erin' }),
    ).rejects.toThrow('too-cold@s1 is unknown: no alarm-mode rule too-cold applies to sensor s1');
  }, 60_000);
});

describe('A-C2 a bad control record', () => {
  it('goes to the invalid-record queue with its reason and field, and is no reading', async () => {
    const enc = encodeControl({
      actionId: 'bad-1',
      alarmId: 'too-hot@s5',
      sensorId: 's5',
      action: 'ack',
      by: 'mallory',
      requestedAt: Date.now(),
    });
    const body = JSON.parse(Buffer.from(enc.data).toString()) as Record<string, unknown>;
    await pipeline.clients.kinesis.send(
      new PutRecordCommand({
        StreamName: pipeline.resources.stream.name,
        PartitionKey: enc.partitionKey,
        ExplicitHashKey: enc.explicitHashKey,
        Data: Buffer.from(
          JSON.stringify({ ...body, action: 'mute', temperature: 99, timestamp: Date.now() }),
        ),
      }),
    );
    await pipeline.mapping.drain({ timeoutMs: 30_000 });
    const out = await pipeline.collect({ waitMs: 300 });
    seen.push(...out.transitionMessages);
    expect(out.invalid).toEqual([
      expect.objectContaining({ reason: 'control-invalid', partitionKey: '__windowpane/ctl/s5' }),
    ]);
    expect(out.invalid[0]!.detail).toMatch(/^action:/);
    expect(seen.filter((t) => t.sensorId === 's5')).toEqual([]);
  }, 60_000);
});

describe('npm run alarms (the CLI process)', () => {
  function runCli(args: string[]) {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'local/cli/alarms.ts', ...args, '--prefix', prefix],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...sdkEnv(inject('endpoints')), POWERTOOLS_LOG_LEVEL: 'SILENT' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('ack exits 0 printing the transition; list and history show it; a refusal exits 1, a bad flag 2', async () => {
    await put('s4', [[Date.now() - 20_000, 50]]);
    await pipeline.mapping.drain({ timeoutMs: 30_000 });

    const acked = await runCli(['ack', 'too-hot@s4', '--note', 'from the cli', '--by', 'cli-user']);
    expect(acked.stderr).not.toMatch(/alarms:/);
    expect(acked.code).toBe(0);
    expect(acked.stdout).toMatch(
      /ACKNOWLEDGED\s+too-hot@s4\s+ACTIVE -> ACKNOWLEDGED\s+by cli-user "from the cli"/,
    );

    const list = await runCli(['list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ alarmId: 'too-hot@s4', state: 'ACKNOWLEDGED', by: 'cli-user' }),
      ]),
    );
    const history = await runCli(['history', 's4']);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/ALARM\s+too-hot@s4[\s\S]*ACKNOWLEDGED\s+too-hot@s4.*by cli-user/);

    const refused = await runCli(['ack', 'too-hot@s9']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('too-hot@s9 is NORMAL: nothing to acknowledge');

    const bad = await runCli(['snooze', 'too-hot@s4']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"snooze" needs --for DURATION');
  }, 120_000);
});
