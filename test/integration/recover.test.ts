/**
 * Recovery tools (local/recovery/, `npm run recover`) against the shared emulators: a
 * real on-failure message from the local event source mapping redriven through the real
 * handler, invalid records put back on the stream, and a backfill over a range already
 * processed that changes nothing. The CLI is spawned once for its exit codes.
 */
import { spawn } from 'node:child_process';
import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { sdkEnv } from '../../local/cloud/index.js';
import { REPO_ROOT } from '../../local/config.js';
import { LocalEventSourceMapping } from '../../local/esm/index.js';
import { backfill, listDlq, listInvalid, redriveDlq, redriveInvalid } from '../../local/recovery/index.js';
import { esmSettings } from './esm-helpers.js';
import {
  createTestPipeline,
  kinesisEvent,
  lambdaContext,
  putRecords,
  readAllRecords,
  scanAll,
  snapshot,
  type TestPipeline,
} from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const T0 = Date.UTC(2026, 0, 1);
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function pipeline(shardCount: number, label: string): Promise<TestPipeline> {
  const p = await createTestPipeline(endpoints, parseConfig({ stream: { shardCount } }), label);
  cleanup.push(() => p.destroy());
  return p;
}

async function createQueue(p: TestPipeline, name: string): Promise<string> {
  const { QueueUrl } = await p.clients.sqs.send(new CreateQueueCommand({ QueueName: `${p.prefix}-${name}` }));
  return QueueUrl!;
}

function reading(sensorId: string, i: number, temperature = 20 + (i % 3)) {
  return {
    partitionKey: sensorId,
    data: Buffer.from(JSON.stringify({ sensorId, timestamp: T0 + i * 1_000, temperature })),
  };
}

/** Runs every record of the stream once through a fresh handler, per shard, in batches of 100. */
async function processAll(p: TestPipeline) {
  const handler = p.handler();
  for (const { shardId, records } of await readAllRecords(p.clients, p.streamName)) {
    for (let i = 0; i < records.length; i += 100) {
      const res = await handler(
        kinesisEvent(shardId, records.slice(i, i + 100), p.streamArn),
        lambdaContext(),
      );
      expect(res.batchItemFailures).toEqual([]);
    }
  }
}

async function streamRecordCount(p: TestPipeline): Promise<number> {
  return (await readAllRecords(p.clients, p.streamName)).reduce((n, s) => n + s.records.length, 0);
}

describe('dlq', () => {
  it('lists a real on-failure message, dry-runs without changes, redrives through the handler and deletes it', async () => {
    const p = await pipeline(1, 'rec-dlq');
    const dlqUrl = await createQueue(p, 'dlq');
    const records = ['s-a', 's-b'].flatMap((s) => Array.from({ length: 10 }, (_, i) => reading(s, i)));
    await putRecords(p.clients, p.streamName, records);

    // A function that always fails, no retries: the mapping discards the batch to the DLQ.
    const mapping = new LocalEventSourceMapping({
      clients: p.clients,
      streamName: p.streamName,
      settings: esmSettings({ batchSize: 100, retryAttempts: 0, bisectBatchOnFunctionError: false }),
      handler: async () => {
        throw new Error('the function is broken');
      },
      onFailureQueueUrl: dlqUrl,
      functionName: 'recover-test',
      idlePollMs: 50,
      retryBaseDelayMs: 20,
    });
    cleanup.push(() => mapping.stop());
    mapping.start();
    await mapping.drain({ timeoutMs: 15_000 });
    await mapping.stop();

    const listed = await listDlq(p.clients, dlqUrl);
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.every((e) => e.failure?.condition === 'RetryAttemptsExhausted')).toBe(true);
    expect(listed.reduce((n, e) => n + (e.failure?.batchSize ?? 0), 0)).toBe(20);
    expect(listed[0]!.failure).toMatchObject({ shardId: 'shardId-000000000000', streamName: p.streamName });
    // Listing does not consume.
    expect((await listDlq(p.clients, dlqUrl)).map((e) => e.messageId).sort()).toEqual(
      listed.map((e) => e.messageId).sort(),
    );

    const dry = await redriveDlq({ clients: p.clients, dlqUrl, apply: false });
    expect(dry.ranges.map((r) => r.outcome)).toEqual(listed.map(() => 'would-redrive'));
    expect(dry.ranges.reduce((n, r) => n + r.found, 0)).toBe(20);
    expect(dry.deleted).toBe(0);
    expect(await scanAll(p.clients, p.tables.state)).toEqual([]);
    expect(await listDlq(p.clients, dlqUrl)).toHaveLength(listed.length);
    const bodies = (await listDlq(p.clients, dlqUrl)).map((e) => e.failure);

    const applied = await redriveDlq({ clients: p.clients, dlqUrl, apply: true, handler: p.handler() });
    expect(applied.ranges.map((r) => r.outcome)).toEqual(listed.map(() => 'redriven'));
    expect(applied.deleted).toBe(listed.length);
    expect(applied.totals).toMatchObject({ records: 20, readings: 20, duplicates: 0, failedSensors: 0 });
    const state = await scanAll(p.clients, p.tables.state);
    expect(state.map((s) => s.sensorId).sort()).toEqual(['s-a', 's-b']);
    expect(await listDlq(p.clients, dlqUrl)).toEqual([]);

    // Nothing left: applying again finds nothing.
    const again = await redriveDlq({ clients: p.clients, dlqUrl, apply: true, handler: p.handler() });
    expect(again.ranges).toEqual([]);

    // The same message redriven twice (e.g. a copy) changes nothing: every record is a duplicate.
    expect(bodies.every(Boolean)).toBe(true);
    await resendOnFailureMessages(p, dlqUrl, bodies);
    const repeat = await redriveDlq({ clients: p.clients, dlqUrl, apply: true, handler: p.handler() });
    expect(repeat.deleted).toBe(listed.length);
    expect(repeat.totals).toMatchObject({ records: 20, readings: 0, duplicates: 20 });
    expect((await scanAll(p.clients, p.tables.state)).map((s) => [s.sensorId, s.version])).toEqual(
      state.map((s) => [s.sensorId, s.version]),
    );
  });
});

/** Puts on-failure messages for the given ranges back on the DLQ (as a second copy would arrive). */
async function resendOnFailureMessages(
  p: TestPipeline,
  dlqUrl: string,
  failures: ReadonlyArray<Awaited<ReturnType<typeof listDlq>>[number]['failure']>,
): Promise<void> {
  for (const f of failures) {
    await p.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageBody: JSON.stringify({
          requestContext: { condition: f!.condition, approximateInvokeCount: 1 },
          version: '1.0',
          timestamp: f!.timestamp,
          KinesisBatchInfo: {
            shardId: f!.shardId,
            startSequenceNumber: f!.startSequenceNumber,
            endSequenceNumber: f!.endSequenceNumber,
            approximateArrivalOfFirstRecord: f!.firstArrival,
            approximateArrivalOfLastRecord: f!.lastArrival,
            batchSize: f!.batchSize,
            streamArn: f!.streamArn,
          },
        }),
      }),
    );
  }
}

describe('invalid', () => {
  it('counts by reason, puts the bytes of one reason back on the stream and refuses truncated messages', async () => {
    const p = await pipeline(1, 'rec-inv');
    const notJson = [
      { partitionKey: 's-a', data: Buffer.from('not json at all') },
      { partitionKey: 's-b', data: Buffer.from('{"sensorId": "s-b", oops') },
    ];
    const badTime = {
      partitionKey: 's-a',
      data: Buffer.from(JSON.stringify({ sensorId: 's-a', timestamp: 'yesterday', temperature: 1 })),
    };
    await putRecords(p.clients, p.streamName, [reading('s-a', 0), ...notJson, badTime, reading('s-b', 0)]);
    await processAll(p);
    // A message too large for the queue keeps only a prefix and a hash: never redriven.
    await p.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: p.queues.invalid,
        MessageBody: JSON.stringify({
          id: 'shardId-000000000000:1',
          reason: 'not-json',
          detail: 'huge',
          partitionKey: 's-c',
          shardId: 'shardId-000000000000',
          sequenceNumber: '1',
          data: Buffer.from('{{{').toString('base64'),
          byteLength: 1_000_000,
          truncated: true,
          sha256: 'ab'.repeat(32),
        }),
      }),
    );

    const summary = await listInvalid(p.clients, p.queues.invalid, { examples: 10 });
    expect(summary).toMatchObject({
      total: 4,
      byReason: { 'not-json': 3, 'invalid-timestamp': 1 },
      truncated: 1,
    });
    const head = (b: Buffer) => JSON.stringify(b.subarray(0, 60).toString()).slice(1, -1);
    expect(summary.examples.map((e) => e.head).sort()).toEqual(
      [...notJson.map((r) => head(r.data)), head(Buffer.from('{{{')), head(badTime.data)].sort(),
    );
    expect(await listInvalid(p.clients, p.queues.invalid)).toMatchObject({ total: 4 });

    const before = await streamRecordCount(p);
    const dry = await redriveInvalid({
      clients: p.clients,
      queueUrl: p.queues.invalid,
      streamName: p.streamName,
      apply: false,
      reason: 'not-json',
    });
    expect(dry).toMatchObject({ selected: 3, skipped: 1, sent: 0, refused: 1 });
    expect(await streamRecordCount(p)).toBe(before);

    const applied = await redriveInvalid({
      clients: p.clients,
      queueUrl: p.queues.invalid,
      streamName: p.streamName,
      apply: true,
      reason: 'not-json',
    });
    expect(applied).toMatchObject({ selected: 3, skipped: 1, sent: 2, refused: 1, failed: 0 });
    const after = (await readAllRecords(p.clients, p.streamName)).flatMap((s) => s.records);
    expect(after).toHaveLength(before + 2);
    const added = after.slice(before).map((r) => [r.PartitionKey, Buffer.from(r.Data!).toString()]);
    expect(added.sort()).toEqual(notJson.map((r) => [r.partitionKey, r.data.toString()]).sort());
    expect(
      applied.items
        .filter((i) => i.outcome === 'sent')
        .map((i) => i.newSequenceNumber)
        .sort(),
    ).toEqual(
      after
        .slice(before)
        .map((r) => r.SequenceNumber)
        .sort(),
    );
    // Left: the truncated one and the other reason.
    expect(await listInvalid(p.clients, p.queues.invalid)).toMatchObject({
      total: 2,
      byReason: { 'not-json': 1, 'invalid-timestamp': 1 },
      truncated: 1,
    });
  });
});

describe('backfill', () => {
  it('re-processes a range already processed without changing results, state or alerts', async () => {
    const p = await pipeline(2, 'rec-bf');
    const from = new Date(Date.now() - 1_000);
    const records = ['s-1', 's-2', 's-3'].flatMap((s) =>
      Array.from({ length: 150 }, (_, i) => reading(s, i, s === 's-2' && i === 30 ? 40 : 20 + (i % 3))),
    );
    await putRecords(p.clients, p.streamName, records);
    await processAll(p);
    const first = await snapshot(p);
    expect(first.results.length).toBeGreaterThan(0);
    expect(first.alerts.length).toBeGreaterThan(0);

    const dry = await backfill({
      clients: p.clients,
      streamName: p.streamName,
      from: { kind: 'timestamp', at: from },
      apply: false,
    });
    expect(dry.recordsRead).toBe(records.length);
    expect(dry.totals.invocations).toBe(0);

    const report = await backfill({
      clients: p.clients,
      streamName: p.streamName,
      from: { kind: 'timestamp', at: from },
      apply: true,
      handler: p.handler(),
      batchSize: 200,
    });
    expect(report.shards).toHaveLength(2);
    expect(report.recordsRead).toBe(records.length);
    expect(report.totals).toMatchObject({
      records: records.length,
      duplicates: records.length,
      readings: 0,
      alerts: 0,
      windowsFinalised: 0,
      late: 0,
      failedSensors: 0,
    });
    const second = await snapshot(p);
    expect(second.state).toEqual(first.state);
    expect(second.results).toEqual(first.results);
    expect(second.alerts).toEqual([]);

    // From a sequence number: only that shard, from that record on.
    const shards = await readAllRecords(p.clients, p.streamName);
    const busy = shards.find((s) => s.records.length > 10)!;
    const start = busy.records[10]!;
    const partial = await backfill({
      clients: p.clients,
      streamName: p.streamName,
      from: { kind: 'sequence', shardId: busy.shardId, sequenceNumber: start.SequenceNumber! },
      apply: true,
      handler: p.handler(),
    });
    expect(partial.shards.map((s) => s.shardId)).toEqual([busy.shardId]);
    expect(partial.recordsRead).toBe(busy.records.length - 10);
    expect(partial.totals).toMatchObject({ readings: 0, duplicates: busy.records.length - 10 });
  });
});

describe('npm run recover', () => {
  function runCli(args: string[], env: Record<string, string>) {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/cli/recover.ts', ...args], {
      cwd: REPO_ROOT,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

  it('exits 0 with a JSON summary, and 2 naming a bad flag or a missing target', async () => {
    const p = await pipeline(1, 'rec-cli');
    await putRecords(p.clients, p.streamName, [{ partitionKey: 's-a', data: Buffer.from('nope') }]);
    await processAll(p);
    const env = { ...sdkEnv(endpoints), INVALID_QUEUE_URL: p.queues.invalid };

    const ok = await runCli(['invalid', 'list', '--json'], env);
    expect(ok.stderr).not.toMatch(/recover:/);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ total: 1, byReason: { 'not-json': 1 } });

    const bad = await runCli(['invalid', 'list', '--apply'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('flag --apply does not apply to "invalid list"');

    const missing = await runCli(['invalid', 'redrive'], { ...env, STREAM_NAME: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('STREAM_NAME (--stream)');
  });
});
