/**
 * The pure parts of the local event source mapping: how a handler's answer is read, the
 * conservative shard checkpoint, partition-key lanes, and the shapes Lambda produces.
 */
import { describe, expect, it } from 'vitest';
import {
  classifyResponse,
  type FunctionIdentity,
  InvalidStreamArnError,
  invocationContext,
  lambdaRecordBytes,
  laneOf,
  onFailureMessage,
  parseStreamArn,
  ShardProgress,
  Signal,
  toLambdaRecord,
} from '../../local/esm/index.js';

const batch = ['101', '205', '309'].map((sequenceNumber) => ({ kinesis: { sequenceNumber } }));

describe('classifyResponse: Lambda success and failure conditions for batchItemFailures', () => {
  it.each([
    ['no response', undefined],
    ['null', null],
    ['an object without batchItemFailures', {}],
    ['a null list', { batchItemFailures: null }],
    ['an empty list', { batchItemFailures: [] }],
    ['a non-object answer', 'done'],
  ])('%s is a complete success', (_what, response) => {
    expect(classifyResponse(batch, response)).toEqual({ kind: 'ok' });
  });

  it.each([
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['a bad key name', { batchItemFailures: [{ itemId: '205' }] }],
    ['a numeric itemIdentifier', { batchItemFailures: [{ itemIdentifier: 205 }] }],
    ['an identifier not in the batch', { batchItemFailures: [{ itemIdentifier: '999' }] }],
    ['a null item', { batchItemFailures: [null] }],
    ['a list that is not a list', { batchItemFailures: { itemIdentifier: '205' } }],
    [
      'one bad item among good ones',
      { batchItemFailures: [{ itemIdentifier: '205' }, { itemIdentifier: '' }] },
    ],
  ])('%s is a complete failure', (_what, response) => {
    expect(classifyResponse(batch, response)).toMatchObject({ kind: 'error', functionError: false });
  });

  it('a partial failure restarts at the lowest failed sequence number, whatever the order reported', () => {
    expect(
      classifyResponse(batch, { batchItemFailures: [{ itemIdentifier: '309' }, { itemIdentifier: '205' }] }),
    ).toEqual({ kind: 'partial', firstFailedIndex: 1, failedItems: 2 });
    expect(classifyResponse(batch, { batchItemFailures: [{ itemIdentifier: '101' }] })).toEqual({
      kind: 'partial',
      firstFailedIndex: 0,
      failedItems: 1,
    });
  });
});

describe('ShardProgress: a record is checkpointed only when everything before it is done', () => {
  it('holds the checkpoint behind the first pending record, then jumps', () => {
    const p = new ShardProgress();
    const pos = ['1', '2', '3', '4', '5'].map((s) => p.add(s));
    expect(p.checkpoint).toBeUndefined();
    p.complete(pos[1]!);
    p.complete(pos[3]!);
    expect(p.checkpoint).toBeUndefined();
    expect(p.pending).toBe(5);
    p.complete(pos[0]!);
    expect(p.checkpoint).toBe('2');
    expect(p.pending).toBe(3);
    p.complete(pos[2]!);
    expect(p.checkpoint).toBe('4');
    p.complete(pos[4]!);
    expect([p.checkpoint, p.pending]).toEqual(['5', 0]);
    p.complete(pos[4]!);
    expect([p.checkpoint, p.pending]).toEqual(['5', 0]);
  });

  it('stays correct across compaction of long shards', () => {
    const p = new ShardProgress();
    const n = 5_000;
    const pos = Array.from({ length: n }, (_, i) => p.add(String(i + 1)));
    // Complete in reverse for the second half, forward for the first.
    for (let i = 0; i < 3_000; i++) p.complete(pos[i]!);
    expect(p.checkpoint).toBe('3000');
    for (let i = n - 1; i >= 3_001; i--) p.complete(pos[i]!);
    expect(p.checkpoint).toBe('3000');
    expect(p.pending).toBe(2_000);
    p.complete(pos[3_000]!);
    expect([p.checkpoint, p.pending]).toEqual([String(n), 0]);
    const next = p.add('9999');
    p.complete(next);
    expect(p.checkpoint).toBe('9999');
  });
});

describe('laneOf', () => {
  it('is stable per key, within range, and spreads keys over the lanes', () => {
    const counts = new Array(4).fill(0);
    for (let k = 0; k < 400; k++) {
      const lane = laneOf(`sensor-${k}`, 4);
      expect(lane).toBe(laneOf(`sensor-${k}`, 4));
      expect(lane).toBeGreaterThanOrEqual(0);
      expect(lane).toBeLessThan(4);
      counts[lane]++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(50);
    expect(laneOf('anything', 1)).toBe(0);
  });
});

const fn: FunctionIdentity = {
  functionName: 'wh',
  region: 'eu-west-1',
  accountId: '123456789012',
  partition: 'aws',
  memoryLimitInMB: 512,
  timeoutMs: 60_000,
};
const STREAM = 'arn:aws:kinesis:eu-west-1:123456789012:stream/readings';

describe('Lambda shapes', () => {
  it('builds a record as Lambda does: eventID shard:seq, base64 data, arrival in epoch seconds', () => {
    const record = toLambdaRecord(
      {
        SequenceNumber: '4959',
        PartitionKey: 'sensor-1',
        Data: Buffer.from('{"a":1}'),
        ApproximateArrivalTimestamp: new Date(1545084650987),
      },
      {
        shardId: 'shardId-000000000006',
        streamArn: STREAM,
        region: 'eu-west-1',
        invokeIdentityArn: 'arn:role',
      },
    );
    expect(record).toEqual({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'sensor-1',
        sequenceNumber: '4959',
        data: Buffer.from('{"a":1}').toString('base64'),
        approximateArrivalTimestamp: 1545084650.987,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: 'shardId-000000000006:4959',
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:role',
      awsRegion: 'eu-west-1',
      eventSourceARN: STREAM,
    });
    expect(lambdaRecordBytes(record)).toBe(JSON.stringify(record).length + 1);
  });

  it('gives each invocation a Context whose remaining time counts down from the timeout', () => {
    const ctx = invocationContext(fn, 'c9b8fa9f-5a7f-4b0c-af9c-0c604cde93a5', Date.now());
    expect(ctx).toMatchObject({
      functionName: 'wh',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:wh',
      awsRequestId: 'c9b8fa9f-5a7f-4b0c-af9c-0c604cde93a5',
      memoryLimitInMB: '512',
    });
    expect(ctx.getRemainingTimeInMillis()).toBeGreaterThan(59_000);
    expect(invocationContext(fn, 'x', Date.now() - 61_000).getRemainingTimeInMillis()).toBe(0);
  });

  it('writes the on-failure invocation record in the documented shape', () => {
    const records = ['11', '12', '13'].map((seq, i) =>
      toLambdaRecord(
        {
          SequenceNumber: seq,
          PartitionKey: 'k',
          Data: Buffer.from('x'),
          ApproximateArrivalTimestamp: new Date(1_000 + i),
        },
        { shardId: 'shardId-000000000001', streamArn: STREAM, region: 'eu-west-1', invokeIdentityArn: 'r' },
      ),
    );
    const message = onFailureMessage(
      fn,
      {
        shardId: 'shardId-000000000001',
        streamArn: STREAM,
        records,
        condition: 'RetryAttemptsExhausted',
        requestId: 'req-1',
        invokeCount: 4,
        functionError: true,
      },
      new Date('2019-11-14T00:38:06.021Z'),
    );
    expect(message).toEqual({
      requestContext: {
        requestId: 'req-1',
        functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:wh',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 4,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2019-11-14T00:38:06.021Z',
      KinesisBatchInfo: {
        shardId: 'shardId-000000000001',
        startSequenceNumber: '11',
        endSequenceNumber: '13',
        approximateArrivalOfFirstRecord: '1970-01-01T00:00:01.000Z',
        approximateArrivalOfLastRecord: '1970-01-01T00:00:01.002Z',
        batchSize: 3,
        streamArn: STREAM,
      },
    });
  });

  it('parses stream ARNs and names a bad one', () => {
    expect(parseStreamArn(STREAM)).toEqual({
      partition: 'aws',
      region: 'eu-west-1',
      accountId: '123456789012',
      streamName: 'readings',
    });
    expect(() => parseStreamArn('arn:aws:sqs:eu-west-1:1:q')).toThrow(InvalidStreamArnError);
  });
});

describe('Signal', () => {
  it('wakes waiters on notify, on timeout and on abort, and forgets them', async () => {
    const signal = new Signal();
    const woken: string[] = [];
    const a = signal.wait().then(() => woken.push('notify'));
    const b = signal.wait(10).then(() => woken.push('timeout'));
    const controller = new AbortController();
    const c = signal.wait(undefined, controller.signal).then(() => woken.push('abort'));
    await b;
    controller.abort();
    await c;
    signal.notify();
    await a;
    expect(woken).toEqual(['timeout', 'abort', 'notify']);
    await signal.wait(undefined, controller.signal);
  });
});
