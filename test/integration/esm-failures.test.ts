/**
 * The local event source mapping's failure handling against kinesis-local: bisecting,
 * partial batch responses, retries exhausted and record expiry to the on-failure queue,
 * Kinesis throttling and expired iterators, and a clean stop.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  ExpiredIteratorException,
  LimitExceededException,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-kinesis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { ClientOptions } from '../../functions/lib/clients.js';
import { drainQueue } from '../../local/cloud/index.js';
import {
  type BatchInfo,
  DrainStalledError,
  LocalEventSourceMapping,
  type LocalMappingOptions,
  type OnFailureMessage,
} from '../../local/esm/index.js';
import {
  createTestStream,
  esmSettings,
  perKey,
  Recorder,
  range,
  type TestStream,
  tagged,
} from './esm-helpers.js';
import { putRecords } from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function stream(label: string, decorate?: ClientOptions['decorate']): Promise<TestStream> {
  const s = await createTestStream(endpoints, { shardCount: 1, label, ...(decorate ? { decorate } : {}) });
  cleanup.push(() => s.destroy());
  return s;
}

function mapping(s: TestStream, recorder: Recorder, opts: Partial<LocalMappingOptions> = {}) {
  const m = new LocalEventSourceMapping({
    clients: s.clients,
    streamName: s.streamName,
    settings: esmSettings(),
    handler: recorder.handler,
    onFailureQueueUrl: s.dlqUrl,
    functionName: 'esm-test',
    idlePollMs: 50,
    shardRefreshMs: 200,
    retryBaseDelayMs: 20,
    ...opts,
  });
  cleanup.push(() => m.stop());
  return m;
}

async function dlq(s: TestStream, expect?: number): Promise<OnFailureMessage[]> {
  const messages = await drainQueue(s.clients, s.dlqUrl, { waitMs: 500, ...(expect ? { expect } : {}) });
  return messages.map((m) => m.body as OnFailureMessage);
}

const POISON = 5;
const throwsOnPoison = (records: { n: number }[]) => {
  if (records.some((r) => r.n === POISON)) throw new Error('poison record');
  return undefined;
};

describe('Function errors: bisect, retries and the on-failure destination', () => {
  it.each([0, 2])(
    'with bisect and retryAttempts %i, isolates the poison record, sends only it to the DLQ and goes on',
    async (retryAttempts) => {
      const s = await stream('esm-bisect');
      await putRecords(
        s.clients,
        s.streamName,
        range(0, 10).map((n) => tagged('a', n)),
      );
      const recorder = new Recorder(throwsOnPoison);
      const infos: BatchInfo[] = [];
      const m = mapping(s, recorder, {
        settings: esmSettings({ batchSize: 8, bisectBatchOnFunctionError: true, retryAttempts }),
        onBatch: (i) => infos.push(i),
      });
      m.start();
      await m.drain({ timeoutMs: 15_000 });

      const b = (...ns: number[]) => ns.map((n) => `a#${n}`);
      // Splits do not count as retries; the single poison record is then retried
      // `retryAttempts` times before it is discarded.
      const poisonAttempts = Array.from({ length: retryAttempts + 1 }, () => b(5));
      expect(recorder.batches()).toEqual([
        b(0, 1, 2, 3, 4, 5, 6, 7),
        b(0, 1, 2, 3),
        b(4, 5, 6, 7),
        b(4, 5),
        b(4),
        ...poisonAttempts,
        b(6, 7),
        b(8, 9),
      ]);
      expect(infos.map((i) => [i.outcome, i.attempt, i.bisected])).toEqual([
        ['error', 1, false],
        ['ok', 1, true],
        ['error', 1, true],
        ['error', 1, true],
        ['ok', 1, true],
        ...poisonAttempts.map((_, i) => ['error', i + 1, true]),
        ['ok', 1, true],
        ['ok', 1, false],
      ]);
      expect(perKey(recorder.invocations.filter((_, i) => infos[i]!.outcome === 'ok')).get('a')).toEqual([
        0, 1, 2, 3, 4, 6, 7, 8, 9,
      ]);

      const [message, ...more] = await dlq(s, 1);
      expect(more).toEqual([]);
      const poisonSeq = recorder.invocations.find(
        (i) => i.records.length === 1 && i.records[0]!.n === POISON,
      )!.sequences[0];
      const last = recorder.invocations.filter((i) => i.records.some((r) => r.n === POISON)).at(-1)!;
      expect(message).toMatchObject({
        requestContext: {
          requestId: last.requestId,
          functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:esm-test',
          condition: 'RetryAttemptsExhausted',
          // Every invocation that carried the poison record: 8, 4, 2, then 1 record x (retries + 1).
          approximateInvokeCount: 3 + retryAttempts + 1,
        },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        version: '1.0',
        KinesisBatchInfo: {
          shardId: 'shardId-000000000000',
          startSequenceNumber: poisonSeq,
          endSequenceNumber: poisonSeq,
          batchSize: 1,
          streamArn: s.streamArn,
        },
      });
      expect(Date.parse(message!.timestamp)).not.toBeNaN();
      expect(Date.parse(message!.KinesisBatchInfo.approximateArrivalOfFirstRecord)).toBeLessThanOrEqual(
        Date.parse(message!.timestamp),
      );
      expect(m.stats()).toMatchObject({
        records: 9,
        bisects: 3,
        retries: retryAttempts,
        sentToDlq: 1,
        discarded: 1,
        expired: 0,
        errors: 3 + retryAttempts + 1,
      });
      expect(m.stats().shards[0]!.checkpoint).toBe(recorder.invocations.at(-1)!.sequences.at(-1));
    },
  );

  it('without bisect, retries the whole batch retryAttempts times, sends it to the DLQ, then processes what follows', async () => {
    const s = await stream('esm-retries');
    await putRecords(
      s.clients,
      s.streamName,
      range(0, 10).map((n) => tagged('a', n)),
    );
    const recorder = new Recorder(throwsOnPoison);
    const m = mapping(s, recorder, {
      settings: esmSettings({ batchSize: 5, bisectBatchOnFunctionError: false, retryAttempts: 2 }),
    });
    m.start();
    await m.drain({ timeoutMs: 15_000 });
    await putRecords(
      s.clients,
      s.streamName,
      range(10, 13).map((n) => tagged('a', n)),
    );
    await m.drain({ timeoutMs: 15_000 });

    const b = (...ns: number[]) => ns.map((n) => `a#${n}`);
    expect(recorder.batches()).toEqual([
      b(0, 1, 2, 3, 4),
      b(5, 6, 7, 8, 9),
      b(5, 6, 7, 8, 9),
      b(5, 6, 7, 8, 9),
      b(10, 11, 12),
    ]);
    const failed = recorder.invocations[1]!;
    const [message, ...more] = await dlq(s, 1);
    expect(more).toEqual([]);
    expect(message).toMatchObject({
      requestContext: {
        requestId: recorder.invocations[3]!.requestId,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      KinesisBatchInfo: {
        startSequenceNumber: failed.sequences[0],
        endSequenceNumber: failed.sequences[4],
        batchSize: 5,
      },
    });
    expect(m.stats()).toMatchObject({ records: 8, retries: 2, bisects: 0, sentToDlq: 5, errors: 3 });
  });
});

describe('Partial batch responses (ReportBatchItemFailures)', () => {
  it('checkpoints before the lowest failed sequence number and retries exactly from there', async () => {
    const s = await stream('esm-partial');
    await putRecords(
      s.clients,
      s.streamName,
      range(0, 10).map((n) => tagged('a', n)),
    );
    const sightings = new Map<number, number>();
    const recorder = new Recorder((records, event) => {
      const failed: string[] = [];
      records.forEach((r, i) => {
        const seen = (sightings.get(r.n) ?? 0) + 1;
        sightings.set(r.n, seen);
        // a#3 fails twice, a#7 once; reported highest first: Lambda takes the lowest.
        if ((r.n === 3 && seen <= 2) || (r.n === 7 && seen === 1))
          failed.unshift(event.Records[i]!.kinesis.sequenceNumber);
      });
      return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
    });
    const infos: BatchInfo[] = [];
    const m = mapping(s, recorder, {
      // Bisect on: a partial response is not split, only the remainder is retried.
      settings: esmSettings({ batchSize: 10, bisectBatchOnFunctionError: true, retryAttempts: 5 }),
      onBatch: (i) => infos.push(i),
    });
    m.start();
    await m.drain({ timeoutMs: 15_000 });
    await putRecords(s.clients, s.streamName, [tagged('a', 10), tagged('a', 11)]);
    await m.drain({ timeoutMs: 15_000 });

    const b = (...ns: number[]) => ns.map((n) => `a#${n}`);
    expect(recorder.batches()).toEqual([
      b(0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
      b(3, 4, 5, 6, 7, 8, 9),
      b(3, 4, 5, 6, 7, 8, 9),
      b(10, 11),
    ]);
    expect(infos.map((i) => [i.outcome, i.attempt, i.failedItems, i.bisected])).toEqual([
      ['partial', 1, 2, false],
      ['partial', 2, 1, false],
      ['ok', 3, 0, false],
      ['ok', 1, 0, false],
    ]);
    expect(m.stats()).toMatchObject({ records: 12, retries: 2, bisects: 0, discarded: 0 });
    expect(await dlq(s)).toEqual([]);
  });

  it('treats an itemIdentifier that is not in the batch as a complete failure', async () => {
    const s = await stream('esm-badid');
    await putRecords(
      s.clients,
      s.streamName,
      range(0, 4).map((n) => tagged('a', n)),
    );
    const recorder = new Recorder((_records, _event, call) =>
      call === 0 ? { batchItemFailures: [{ itemIdentifier: '12345' }] } : { batchItemFailures: [] },
    );
    const infos: BatchInfo[] = [];
    const m = mapping(s, recorder, {
      settings: esmSettings({ batchSize: 10, bisectBatchOnFunctionError: false, retryAttempts: 3 }),
      onBatch: (i) => infos.push(i),
    });
    m.start();
    await m.drain({ timeoutMs: 15_000 });
    const all = range(0, 4).map((n) => `a#${n}`);
    expect(recorder.batches()).toEqual([all, all]);
    expect(infos.map((i) => [i.outcome, i.failedItems])).toEqual([
      ['error', 4],
      ['ok', 0],
    ]);
  });
});

describe('Record age: maxRecordAgeSeconds', () => {
  it('sends too-old records to the DLQ (RecordAgeExceeded), unread or while retried, and goes on', async () => {
    const s = await stream('esm-age');
    // 1 s is below Lambda's minimum (60 s, enforced by the configuration schema), so that
    // the test need not wait a minute; the mapping applies whatever it is given.
    const settings = esmSettings({
      batchSize: 10,
      bisectBatchOnFunctionError: false,
      retryAttempts: -1,
      maxRecordAgeSeconds: 1,
    });
    // Already too old when the mapping starts: never invoked.
    await putRecords(s.clients, s.streamName, [tagged('stale', 0), tagged('stale', 1)]);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const recorder = new Recorder(throwsOnPoison);
    const m = mapping(s, recorder, { settings, retryMaxDelayMs: 200 });
    m.start();
    await m.drain({ timeoutMs: 10_000 });
    expect(recorder.invocations).toHaveLength(0);
    const [stale, ...none] = await dlq(s, 1);
    expect(none).toEqual([]);
    expect(stale).toMatchObject({
      requestContext: { condition: 'RecordAgeExceeded', approximateInvokeCount: 0 },
      KinesisBatchInfo: { batchSize: 2, streamArn: s.streamArn },
    });
    expect(stale!.responseContext.functionError).toBeUndefined();

    // A poison batch retried without end (retryAttempts -1) until its records expire.
    await putRecords(
      s.clients,
      s.streamName,
      range(0, 8).map((n) => tagged('a', n)),
    );
    await m.drain({ timeoutMs: 10_000 });
    const poisoned = recorder.invocations.length;
    expect(poisoned).toBeGreaterThan(2);
    expect(
      recorder.batches().every(
        (b) =>
          b.join() ===
          range(0, 8)
            .map((n) => `a#${n}`)
            .join(),
      ),
    ).toBe(true);
    const expired = await dlq(s, 1);
    expect(expired.every((x) => x.requestContext.condition === 'RecordAgeExceeded')).toBe(true);
    expect(expired.reduce((a, x) => a + x.KinesisBatchInfo.batchSize, 0)).toBe(8);
    expect(expired[0]!.KinesisBatchInfo.startSequenceNumber).toBe(recorder.invocations[0]!.sequences[0]);
    expect(expired.at(-1)!.KinesisBatchInfo.endSequenceNumber).toBe(recorder.invocations[0]!.sequences[7]);
    expect(expired[0]!.requestContext.approximateInvokeCount).toBe(poisoned);
    expect(expired[0]!.responseContext.functionError).toBe('Unhandled');

    // Fresh records after them are processed.
    await putRecords(s.clients, s.streamName, [tagged('b', 0), tagged('b', 1)]);
    await m.drain({ timeoutMs: 10_000 });
    expect(recorder.batches().slice(poisoned)).toEqual([['b#0', 'b#1']]);
    expect(m.stats()).toMatchObject({ expired: 10, sentToDlq: 10, discarded: 10, records: 2 });
  });
});

describe('Kinesis and destination errors', () => {
  it('retries throttling, renews an expired iterator after the last record read, retries the DLQ: nothing lost or repeated', async () => {
    const faults = {
      getRecords: 0,
      throttleGetRecords: new Set([1, 2, 4]),
      expireNext: false,
      iterators: 0,
      sends: 0,
    };
    const decorate: NonNullable<ClientOptions['decorate']> = (client, service) => {
      const stack = client.middlewareStack as {
        add(mw: unknown, opts: { step: string; name: string }): void;
      };
      stack.add(
        (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
          async (args: unknown) => {
            const $metadata = {};
            if (service === 'kinesis' && context.commandName === 'GetRecordsCommand') {
              faults.getRecords++;
              if (faults.throttleGetRecords.has(faults.getRecords)) {
                throw new ProvisionedThroughputExceededException({
                  message: 'Rate exceeded for shard',
                  $metadata,
                });
              }
              if (faults.expireNext) {
                faults.expireNext = false;
                throw new ExpiredIteratorException({ message: 'Iterator expired', $metadata });
              }
            }
            if (service === 'kinesis' && context.commandName === 'GetShardIteratorCommand') {
              if (++faults.iterators === 1)
                throw new LimitExceededException({ message: 'Rate exceeded', $metadata });
            }
            if (service === 'sqs' && context.commandName === 'SendMessageCommand') {
              if (++faults.sends <= 2) throw new Error('destination unavailable');
            }
            return next(args);
          },
        { step: 'initialize', name: 'esmFaults' },
      );
      return client;
    };
    const s = await stream('esm-faults', decorate);
    await putRecords(
      s.clients,
      s.streamName,
      range(0, 15).map((n) => tagged(`k${n % 3}`, Math.floor(n / 3))),
    );
    const recorder = new Recorder((records) => {
      if (records.some((r) => r.key === 'k0' && r.n === 7)) throw new Error('poison');
      return undefined;
    });
    const m = mapping(s, recorder, {
      settings: esmSettings({ batchSize: 4, bisectBatchOnFunctionError: true, retryAttempts: 0 }),
    });
    m.start();
    await m.drain({ timeoutMs: 15_000 });
    faults.expireNext = true;
    await putRecords(
      s.clients,
      s.streamName,
      range(15, 30).map((n) => tagged(`k${n % 3}`, Math.floor(n / 3))),
    );
    await m.drain({ timeoutMs: 15_000 });

    expect(faults.expireNext).toBe(false);
    const ok = recorder.invocations.filter((inv) => !inv.records.some((r) => r.key === 'k0' && r.n === 7));
    const byKey = perKey(ok);
    expect(byKey.get('k0')).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9]);
    expect(byKey.get('k1')).toEqual(range(0, 10));
    expect(byKey.get('k2')).toEqual(range(0, 10));
    // The injected ones (kinesis-local itself does not throttle).
    expect(m.stats().throttles).toBeGreaterThanOrEqual(4);
    const messages = await dlq(s, 1);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ KinesisBatchInfo: { batchSize: 1 } });
    expect(faults.sends).toBe(3);
  });
});

describe('Lifecycle', () => {
  it('stop() waits for the invocation in flight and starts no other', async () => {
    const s = await stream('esm-stop');
    await putRecords(
      s.clients,
      s.streamName,
      range(0, 6).map((n) => tagged('a', n)),
    );
    let release: () => void = () => undefined;
    const entered = new Promise<void>((resolve) => {
      release = resolve;
    });
    const recorder = new Recorder(async () => {
      release();
      await new Promise((resolve) => setTimeout(resolve, 300));
      return undefined;
    });
    const m = new LocalEventSourceMapping({
      clients: s.clients,
      streamName: s.streamName,
      settings: esmSettings({ batchSize: 2 }),
      handler: recorder.handler,
    });
    m.start();
    await entered;
    await m.stop();
    const first = recorder.invocations[0]!;
    expect(recorder.invocations).toHaveLength(1);
    expect(Number.isNaN(first.endedAt)).toBe(false);
    expect(m.stats()).toMatchObject({ inFlight: 0, batches: 1, records: 2 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(recorder.invocations).toHaveLength(1);
    await expect(m.drain()).rejects.toThrow(/stopped/);
  });

  it('leaves nothing behind: a process that stops its mapping mid-retry exits by itself', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/esm-exit.ts', import.meta.url));
    const { NODE_OPTIONS: _ignored, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      env: { ...env, ESM_TEST_ENDPOINTS: JSON.stringify(endpoints) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const exit = await new Promise<{ code: number | null; signal: string | null; stoppedFor: number }>(
      (resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          const m = /stopped-at (\d+)/.exec(out);
          resolve({ code, signal, stoppedFor: m ? Date.now() - Number(m[1]) : Number.NaN });
        });
      },
    );
    expect(exit.code, out).toBe(0);
    expect(out).toMatch(/retries \d+/);
    // Exited right after the stop, not when some forgotten timer or socket let go.
    expect(exit.stoppedFor).toBeLessThan(3_000);
  }, 30_000);
});

describe('Drain: a slow drain is not a stuck one', () => {
  it('resolves while every invocation finishes some records, however long the whole takes', async () => {
    const s = await stream('esm-slow');
    await putRecords(
      s.clients,
      s.streamName,
      range(0, 6).map((n) => tagged('a', n)),
    );
    // Batches of one, each taking 300 ms: 1.8 s in all, longer than the 1 s stall bound.
    const m = mapping(s, new Recorder(() => undefined, 300), { settings: esmSettings({ batchSize: 1 }) });
    m.start();
    const started = Date.now();
    await m.drain({ timeoutMs: Number.POSITIVE_INFINITY, stallMs: 1_000 });
    expect(Date.now() - started).toBeGreaterThan(1_000);
    expect(m.stats().records).toBe(6);
  });

  it('rejects with DrainStalledError, naming the counts and quoting the last failures, when a batch is retried without end', async () => {
    const s = await stream('esm-stalled');
    await putRecords(s.clients, s.streamName, [tagged('a', 0)]);
    const recorder = new Recorder(() => {
      throw new Error('always fails');
    });
    const m = mapping(s, recorder, { settings: esmSettings({ retryAttempts: -1 }) });
    m.start();
    const err = await m
      .drain({ timeoutMs: Number.POSITIVE_INFINITY, stallMs: 1_500 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrainStalledError);
    expect(String(err)).toMatch(/no progress for 1500 ms.*processed 0, errors [1-9]\d*, retries [1-9]/);
    // What the lanes saw is in the error, so a stall in CI says why.
    expect((err as DrainStalledError).recentLog.some((l) => l.includes('always fails'))).toBe(true);
    expect(String(err)).toContain('always fails');
    expect(recorder.invocations.length).toBeGreaterThan(1);
  });
});
