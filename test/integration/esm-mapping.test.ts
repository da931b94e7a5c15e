/**
 * The local event source mapping against kinesis-local, with recording handlers: per-key
 * order under parallelization, exactly-once delivery when nothing fails, Lambda's event and
 * context shapes, batching window, payload limit and starting position.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type BatchInfo, LocalEventSourceMapping, laneOf, MAX_PAYLOAD_BYTES } from '../../local/esm/index.js';
import {
  createTestStream,
  esmSettings,
  interleaved,
  perKey,
  Recorder,
  range,
  type TestStream,
  tagged,
} from './esm-helpers.js';
import { putRecords, readAllRecords } from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function stream(shardCount: number, label: string): Promise<TestStream> {
  const s = await createTestStream(endpoints, { shardCount, label });
  cleanup.push(() => s.destroy());
  return s;
}

function mapping(
  s: TestStream,
  recorder: Recorder,
  opts: Partial<ConstructorParameters<typeof LocalEventSourceMapping>[0]> = {},
) {
  const m = new LocalEventSourceMapping({
    clients: s.clients,
    streamName: s.streamName,
    settings: esmSettings(),
    handler: recorder.handler,
    onFailureQueueUrl: s.dlqUrl,
    functionName: 'esm-test',
    idlePollMs: 50,
    shardRefreshMs: 200,
    ...opts,
  });
  cleanup.push(() => m.stop());
  return m;
}

describe('LocalEventSourceMapping: delivery when the handler never fails', () => {
  it('with parallelizationFactor 4, sees every record exactly once and each key in order, one lane per key', async () => {
    const s = await stream(2, 'esm-order');
    const KEYS = 40;
    const PER_KEY = 15;
    const putStart = Date.now();
    await putRecords(s.clients, s.streamName, interleaved(KEYS, PER_KEY));
    const putEnd = Date.now();
    const recorder = new Recorder(undefined, 5);
    const infos: BatchInfo[] = [];
    const m = mapping(s, recorder, {
      settings: esmSettings({ batchSize: 10, parallelizationFactor: 4 }),
      onBatch: (i) => infos.push(i),
    });
    m.start();
    await m.drain({ timeoutMs: 30_000 });

    // Every key's records, in put order, exactly once.
    const byKey = perKey(recorder.invocations);
    expect(byKey.size).toBe(KEYS);
    for (const [key, ns] of byKey) expect(ns, key).toEqual(range(0, PER_KEY));
    const sequences = recorder.invocations.flatMap((i) => i.sequences);
    expect(new Set(sequences).size).toBe(KEYS * PER_KEY);
    expect(sequences).toHaveLength(KEYS * PER_KEY);

    // Batches: at most batchSize, one shard, one lane, in shard order within the batch.
    for (const inv of recorder.invocations) {
      expect(inv.records.length).toBeGreaterThan(0);
      expect(inv.records.length).toBeLessThanOrEqual(10);
      expect(new Set(inv.records.map((r) => laneOf(r.key, 4))).size).toBe(1);
      const seqs = inv.sequences.map(BigInt);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]! > seqs[i - 1]!).toBe(true);
    }
    // Batches of one shard really ran concurrently, never more than the factor.
    const concurrency = recorder.invocations.map((i) => i.concurrentInShard);
    expect(Math.max(...concurrency)).toBeGreaterThan(1);
    expect(Math.max(...concurrency)).toBeLessThanOrEqual(4);

    // The checkpoint of each shard is its last record: nothing left behind.
    const stats = m.stats();
    const shards = await readAllRecords(s.clients, s.streamName);
    expect(stats.shards.map((x) => [x.shardId, x.state, x.checkpoint]).sort()).toEqual(
      shards.map((x) => [x.shardId, 'active', x.records.at(-1)?.SequenceNumber]).sort(),
    );
    expect(stats).toMatchObject({
      records: KEYS * PER_KEY,
      errors: 0,
      retries: 0,
      inFlight: 0,
      discarded: 0,
    });
    expect(stats.batches).toBe(recorder.invocations.length);
    expect(infos).toHaveLength(recorder.invocations.length);
    expect(infos.every((i) => i.outcome === 'ok' && i.attempt === 1 && !i.bisected)).toBe(true);
    expect(infos.reduce((a, i) => a + i.records, 0)).toBe(KEYS * PER_KEY);

    // Lambda's record shape.
    const event = recorder.events[0]!;
    const rec = event.Records[0]!;
    expect(rec).toMatchObject({
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventName: 'aws:kinesis:record',
      eventSourceARN: s.streamArn,
      awsRegion: 'us-east-1',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/esm-test-role',
      kinesis: { kinesisSchemaVersion: '1.0' },
    });
    expect(rec.eventID).toBe(`${recorder.invocations[0]!.shardId}:${rec.kinesis.sequenceNumber}`);
    expect(Buffer.from(rec.kinesis.data, 'base64').toString()).toBe(
      JSON.stringify(recorder.invocations[0]!.records[0]),
    );
    // Epoch seconds (with the milliseconds as a fraction), not milliseconds.
    expect(rec.kinesis.approximateArrivalTimestamp).toBeGreaterThanOrEqual(Math.floor(putStart / 1000) - 1);
    expect(rec.kinesis.approximateArrivalTimestamp).toBeLessThanOrEqual(putEnd / 1000 + 1);

    // A fresh Context per invocation.
    const ids = recorder.contexts.map((c) => c.awsRequestId);
    expect(new Set(ids).size).toBe(ids.length);
    const ctx = recorder.contexts[0]!;
    expect(ctx).toMatchObject({
      functionName: 'esm-test',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:esm-test',
      memoryLimitInMB: '512',
      logGroupName: '/aws/lambda/esm-test',
    });
    expect(ctx.getRemainingTimeInMillis()).toBeLessThanOrEqual(60_000);
    expect(ctx.getRemainingTimeInMillis()).toBeGreaterThan(0);
  });

  it('gathers records for maxBatchingWindowSeconds unless the batch fills up', async () => {
    const s = await stream(1, 'esm-window');
    const recorder = new Recorder();
    const m = mapping(s, recorder, { settings: esmSettings({ batchSize: 4, maxBatchingWindowSeconds: 1 }) });
    await putRecords(
      s.clients,
      s.streamName,
      range(0, 3).map((n) => tagged('a', n)),
    );
    const started = performance.now();
    m.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(recorder.invocations).toHaveLength(0);
    await putRecords(
      s.clients,
      s.streamName,
      range(3, 6).map((n) => tagged('a', n)),
    );
    await m.drain({ timeoutMs: 10_000 });

    // Three records were held back; the fourth filled the batch; the last two waited out
    // their own window.
    expect(recorder.batches()).toEqual([
      ['a#0', 'a#1', 'a#2', 'a#3'],
      ['a#4', 'a#5'],
    ]);
    const [first, second] = recorder.invocations as [
      (typeof recorder.invocations)[0],
      (typeof recorder.invocations)[0],
    ];
    expect(first.startedAt - started).toBeGreaterThanOrEqual(250);
    expect(second.startedAt - first.startedAt).toBeGreaterThanOrEqual(900);
  });

  it('once told the producer is done, invokes as soon as the shard is read to its tip, not after the window', async () => {
    const s = await stream(1, 'esm-input-complete');
    const recorder = new Recorder();
    const m = mapping(s, recorder, {
      settings: esmSettings({ batchSize: 100, maxBatchingWindowSeconds: 20 }),
    });
    m.start();
    await putRecords(
      s.clients,
      s.streamName,
      range(0, 5).map((n) => tagged('a', n)),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The window holds the partial batch back...
    expect(recorder.invocations).toHaveLength(0);
    const told = performance.now();
    m.inputComplete();
    // ...until the mapping is told nothing more is coming: far sooner than the 20 s window.
    await m.drain({ timeoutMs: 10_000 });
    expect(recorder.batches()).toEqual([['a#0', 'a#1', 'a#2', 'a#3', 'a#4']]);
    expect(recorder.invocations[0]!.startedAt - told).toBeLessThan(5_000);
  });

  it('cuts batches at the payload limit: each invocation as large as fits, never larger', async () => {
    const s = await stream(1, 'esm-payload');
    // kinesis-local moves about 1 MB/s, so the 6 MB limit is exercised at a smaller scale:
    // ~1.4 kB events per record against a 5 kB limit.
    const LIMIT = 5_000;
    const records = range(0, 10).map((n) => ({
      partitionKey: 'big',
      data: Buffer.from(JSON.stringify({ key: 'big', n, pad: 'x'.repeat(900 + n * 20) })),
    }));
    await putRecords(s.clients, s.streamName, records);
    const sizes: number[] = [];
    const recorder = new Recorder((_records, event) => {
      sizes.push(Buffer.byteLength(JSON.stringify(event)));
      return undefined;
    });
    const m = mapping(s, recorder, { settings: esmSettings({ batchSize: 100 }), maxPayloadBytes: LIMIT });
    m.start();
    await m.drain({ timeoutMs: 10_000 });

    expect(perKey(recorder.invocations).get('big')).toEqual(range(0, 10));
    expect(recorder.invocations.length).toBeGreaterThan(2);
    recorder.events.forEach((event, i) => {
      expect(sizes[i]).toBeLessThanOrEqual(LIMIT);
      // Maximal: the next record would not have fitted.
      const next = recorder.events[i + 1]?.Records[0];
      if (next) {
        const grown = { Records: [...event.Records, next] };
        expect(Buffer.byteLength(JSON.stringify(grown))).toBeGreaterThan(LIMIT);
      }
    });
    expect(MAX_PAYLOAD_BYTES).toBe(6 * 1024 * 1024);
  });

  it('starts at LATEST: records put before the start are never delivered', async () => {
    const s = await stream(2, 'esm-latest');
    await putRecords(s.clients, s.streamName, interleaved(4, 3, 0, 'old'));
    const recorder = new Recorder();
    const m = mapping(s, recorder, { settings: esmSettings({ startingPosition: 'LATEST' }) });
    m.start();
    await m.drain({ timeoutMs: 10_000 });
    expect(recorder.invocations).toHaveLength(0);
    await putRecords(s.clients, s.streamName, interleaved(4, 3, 0, 'new'));
    await m.drain({ timeoutMs: 10_000 });
    const byKey = perKey(recorder.invocations);
    expect([...byKey.keys()].sort()).toEqual(['new-0', 'new-1', 'new-2', 'new-3']);
    for (const ns of byKey.values()) expect(ns).toEqual([0, 1, 2]);
  });
});
