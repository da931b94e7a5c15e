/**
 * The pieces of the benchmark that decide what its numbers mean: statistics, the request
 * meter's capacity-unit rules, the naive baseline doing the same arithmetic as the
 * pipeline, the scenario sizing and the Kinesis price arithmetic.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { naiveParse, naiveProcessBatch, newNaiveState } from '../../bench/baseline.js';
import {
  attributeValueBytes,
  diffTotals,
  itemBytes,
  RequestMeter,
  strongReadUnitsOf,
  writeUnitsOf,
} from '../../bench/meter.js';
import { runPurePath } from '../../bench/pure-path.js';
import { batchShape, CARRIED_ESM, COST_SCENARIOS, provisionedShards } from '../../bench/scenarios.js';
import { median, percentile, summarize } from '../../bench/stats.js';
import { kinesisCosts } from '../../bench/suites/cost.js';
import { buildKinesisEvent, fakeSequenceNumber } from '../../events/kinesis-event.js';
import { summarize as summarizeAggregate } from '../../functions/domain/aggregate.js';
import { DEFAULT_CONFIG } from '../../functions/domain/config.js';

describe('stats', () => {
  it('takes medians and interpolated percentiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).toBeCloseTo(50.5);
    expect(percentile(hundred, 99)).toBeCloseTo(99.01);
    expect(percentile([7], 99)).toBe(7);
    expect(summarize([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, samples: [5, 1, 3] });
    expect(() => percentile([], 50)).toThrow(RangeError);
  });
});

describe('request meter', () => {
  it('sizes items by the DynamoDB rules and rounds units up per item', () => {
    expect(attributeValueBytes({ S: 'abc' })).toBe(3);
    expect(attributeValueBytes({ S: 'é' })).toBe(2);
    expect(attributeValueBytes({ N: '123' })).toBe(3); // 3 digits: 2 bytes + 1
    expect(attributeValueBytes({ N: '-0.00120' })).toBe(2); // significant digits "12"
    expect(attributeValueBytes({ BOOL: true })).toBe(1);
    expect(itemBytes({ sensorId: { S: 's1' }, version: { N: '12' } })).toBe(8 + 2 + 7 + 2);
    expect(writeUnitsOf(1)).toBe(1);
    expect(writeUnitsOf(1_024)).toBe(1);
    expect(writeUnitsOf(1_025)).toBe(2);
    expect(strongReadUnitsOf(0)).toBe(1);
    expect(strongReadUnitsOf(4_097)).toBe(2);
  });

  /** A client whose middleware stack just keeps what is added to it. */
  function fakeClient() {
    const added: ((
      next: (a: unknown) => Promise<unknown>,
      c: { commandName?: string },
    ) => (a: unknown) => Promise<unknown>)[] = [];
    return {
      middlewareStack: { add: (mw: (typeof added)[number]) => added.push(mw) },
      send: (commandName: string, input: unknown, output: unknown) =>
        added[0]!(async () => ({ output }), { commandName })({ input }),
    };
  }

  it('counts writes with their units, reads per key, publishes and queue messages', async () => {
    const meter = new RequestMeter('state');
    const dynamo = meter.decorate(fakeClient(), 'dynamodb');
    const sns = meter.decorate(fakeClient(), 'sns');
    const sqs = meter.decorate(fakeClient(), 'sqs');
    const big = { sensorId: { S: 's1' }, body: { S: 'x'.repeat(1_500) } };
    await dynamo.send('PutItemCommand', { TableName: 'state', Item: big }, {});
    await dynamo.send(
      'BatchWriteItemCommand',
      {
        RequestItems: {
          ledger: [
            { PutRequest: { Item: { alertId: { S: 'a' } } } },
            { PutRequest: { Item: { alertId: { S: 'b' } } } },
          ],
        },
      },
      {},
    );
    await dynamo.send(
      'BatchGetItemCommand',
      {
        RequestItems: {
          state: { Keys: [{ sensorId: { S: 's1' } }, { sensorId: { S: 's2' } }, { sensorId: { S: 's3' } }] },
        },
      },
      {
        Responses: { state: [{ ...big, body: { S: 'y'.repeat(5_000) } }] },
        UnprocessedKeys: { state: { Keys: [{ sensorId: { S: 's3' } }] } },
      },
    );
    await sns.send('PublishCommand', {}, {});
    await sqs.send('SendMessageBatchCommand', { Entries: [{}, {}, {}] }, {});

    const t = meter.totals;
    expect(t.dynamodb.writeRequests).toBe(2);
    expect(t.dynamodb.writeItems).toBe(3);
    expect(t.dynamodb.writeUnits).toBe(2 + 1 + 1);
    expect(t.trackedItems).toEqual({ count: 1, totalBytes: itemBytes(big), maxBytes: itemBytes(big) });
    expect(t.dynamodb.readRequests).toBe(1);
    // s1 found (5 KB: 2 units), s2 missing (1 unit), s3 unprocessed (not read).
    expect(t.dynamodb.readItems).toBe(2);
    expect(t.dynamodb.readUnits).toBe(3);
    expect(t.sns.publishes).toBe(1);
    expect(t.sqs).toEqual({ requests: 1, messages: 3 });
    // The same units, by table.
    expect(t.dynamodb.byTable).toEqual({
      state: { writeItems: 1, writeUnits: 2, readItems: 2, readUnits: 3 },
      ledger: { writeItems: 2, writeUnits: 2, readItems: 0, readUnits: 0 },
    });
    const before = meter.snapshot();
    await dynamo.send('PutItemCommand', { TableName: 'ledger', Item: { alertId: { S: 'c' } } }, {});
    expect(diffTotals(meter.snapshot(), before).dynamodb.byTable).toEqual({
      ledger: { writeItems: 1, writeUnits: 1, readItems: 0, readUnits: 0 },
    });
  });
});

const T0 = Date.UTC(2026, 0, 1);

function eventOf(lines: readonly { sensorId: string; ts: number; v: number }[]): KinesisStreamEvent {
  return buildKinesisEvent(
    lines.map((l, i) => ({
      partitionKey: l.sensorId,
      data: Buffer.from(JSON.stringify({ sensorId: l.sensorId, timestamp: l.ts, temperature: l.v })),
      sequenceNumber: fakeSequenceNumber(i + 1),
    })),
  );
}

describe('naive baseline', () => {
  it('parses the tutorial formats and rejects what is not a reading', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    expect(
      naiveParse(b64('{"sensor_id":"a","timestamp":"2026-01-01T00:00:01Z","temperature":21}'), 'temperature'),
    ).toEqual({
      sensorId: 'a',
      timestamp: T0 + 1_000,
      value: 21,
    });
    expect(naiveParse(b64('not json'), 'temperature')).toBeUndefined();
    expect(
      naiveParse(b64('{"sensorId":"a","timestamp":1,"temperature":"21"}'), 'temperature'),
    ).toBeUndefined();
  });

  it('computes the same window aggregates as the pipeline on clean data', () => {
    // 3 sensors, 130 s at 1 Hz: the windows starting at 60 s and 120 s are still open.
    const lines = [];
    for (let i = 0; i < 130; i++) {
      for (const [s, sensorId] of ['a', 'b', 'c'].entries()) {
        lines.push({ sensorId, ts: T0 + i * 1_000, v: 20 + ((i * 7 + s) % 11) / 4 });
      }
    }
    const event = eventOf(lines);
    const pipeline = runPurePath(event, new Map(), DEFAULT_CONFIG);
    const naive = newNaiveState();
    const n = naiveProcessBatch(event, naive, DEFAULT_CONFIG);
    expect(pipeline.readings).toBe(390);
    expect(n.valid).toBe(390);
    expect(pipeline.windowsFinalised).toBe(3); // [0, 60 s) of each sensor

    let compared = 0;
    for (const [sensorId, state] of pipeline.states) {
      for (const open of Object.values(state.windows)) {
        const agg = summarizeAggregate(open.aggs.temperature!);
        const w = naive.windows.get(`${sensorId}#${open.start}`)!;
        expect(agg.count).toBe(w.count);
        expect(agg.sum).toBeCloseTo(w.sum, 9);
        expect(agg.min).toBe(w.min);
        expect(agg.max).toBe(w.max);
        compared++;
      }
    }
    expect(compared).toBe(6);
  });

  it('raises an alert per firing reading, where the pipeline keeps one per cooldown bucket', () => {
    const lines = [0, 1, 2].map((i) => ({ sensorId: 'hot', ts: T0 + i * 1_000, v: 40 }));
    const event = eventOf(lines);
    expect(naiveProcessBatch(event, newNaiveState(), DEFAULT_CONFIG).alerts).toHaveLength(3);
    expect(runPurePath(event, new Map(), DEFAULT_CONFIG).alerts).toBe(1);
  });
});

describe('scenarios and Kinesis prices', () => {
  it('sizes provisioned streams with headroom and derives the batches Lambda would deliver', () => {
    expect(provisionedShards(1_000, 100)).toBe(2);
    expect(provisionedShards(100, 100)).toBe(1);
    expect(provisionedShards(100, 20_000)).toBe(3); // 2 MB/s of data needs three shards at 80 %
    const [hzPerBatch, hzTuned, tenthPerBatch, tenthTuned] = COST_SCENARIOS.map((s) => batchShape(s, 100));
    // The per-batch design's settings (batch 10,000, window 5 s): the window ends before the batch fills.
    expect(hzPerBatch).toMatchObject({ shards: 2, sensorsPerShard: 500, batchSize: 2_500, fillSeconds: 5 });
    expect(hzTuned).toMatchObject({ shards: 2, batchSize: 10_000, fillSeconds: 20 });
    expect(tenthPerBatch).toMatchObject({
      shards: 1,
      sensorsPerShard: 1_000,
      batchSize: 500,
      fillSeconds: 5,
    });
    expect(tenthTuned).toMatchObject({ shards: 1, batchSize: 10_000, fillSeconds: 100 });
    // The default (carried, batching window 0): Lambda's poll, about a second of the shard.
    expect(batchShape({ id: 'c', sensors: 1_000, rateHz: 1, esm: CARRIED_ESM }, 100)).toMatchObject({
      shards: 2,
      batchSize: 500,
      fillSeconds: 1,
    });
  });

  it('prices Kinesis per million records from the price table', () => {
    const oneHz = COST_SCENARIOS[0]!;
    const { onDemand, provisioned } = kinesisCosts(oneHz, 100, 2);
    // On-demand: stream-hours for 1e6 / 1000 s, plus 1 KB in and out per record.
    const hours = 1e6 / (1_000 * 3_600);
    const gb = (1e6 * 1_024) / 2 ** 30;
    expect(onDemand).toBeCloseTo(0.04 * hours + 0.08 * gb + 0.04 * gb, 9);
    expect(provisioned).toBeCloseTo(0.015 * 2 * hours + 0.014, 9);
  });
});
