/**
 * "Reading: metric values are 0 or a magnitude from 1e-90 to 1e100" (SEMANTICS.md): no value
 * that validation accepts may fail a write. For any readings in the domain, every number
 * windowpane writes (the results item's count, sum, min, max, mean, stddev, and the state
 * body) is finite, within DynamoDB's number range, and comes back as the same double. The
 * writes go through the real document client of `createClients`, stopped just before the
 * network.
 */
import { Readable } from 'node:stream';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Aggregate,
  addValue,
  emptyAggregate,
  isMetricValue,
  MAX_METRIC_MAGNITUDE,
  MIN_METRIC_MAGNITUDE,
  summarize,
} from '../../functions/domain/aggregate.js';
import { decodeReading } from '../../functions/domain/reading.js';
import { createClients } from '../../functions/lib/clients.js';

/** The adjacent double of `x` away from zero (+1) or towards it (-1). */
function nextDouble(x: number, direction: 1 | -1): number {
  const bits = new BigInt64Array(new Float64Array([x]).buffer);
  bits[0] = bits[0]! + BigInt(direction);
  return new Float64Array(bits.buffer)[0]!;
}

/** DynamoDB numbers: at most 38 significant digits, magnitude 1e-130 to 9.99…e125, or 0. */
function dynamoDbAccepts(text: string): boolean {
  const m = /^-?(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text);
  if (m === null || (m[1] === '' && (m[2] ?? '') === '')) return false;
  const integer = m[1]!;
  const all = integer + (m[2] ?? '');
  const first = all.search(/[1-9]/);
  if (first === -1) return true; // zero
  const significant = all.slice(first).replace(/0+$/, '').length;
  // The decimal exponent of the leading significant digit.
  const exponent = integer.length - 1 - first + Number(m[3] ?? 0);
  return significant <= 38 && exponent >= -130 && exponent <= 125;
}

/** Every N in a marshalled item, with its path. */
function numbersOf(value: AttributeValue, at = ''): [string, string][] {
  if ('N' in value && value.N !== undefined) return [[at, value.N]];
  if ('M' in value && value.M) return Object.entries(value.M).flatMap(([k, v]) => numbersOf(v, `${at}.${k}`));
  if ('L' in value && value.L) return value.L.flatMap((v, i) => numbersOf(v, `${at}[${i}]`));
  return [];
}

// The document client windowpane uses, over an HTTP handler that answers like DynamoDB: a
// PutItem keeps the item as sent on the wire, a GetItem returns it. A round trip shows what
// DynamoDB would be asked to store and what windowpane reads back.
let stored: Record<string, AttributeValue> | undefined;
const recorder = {
  async handle(request: { headers: Record<string, string>; body?: unknown }) {
    const body = JSON.parse(String(request.body)) as { Item?: Record<string, AttributeValue> };
    const isPut = request.headers['x-amz-target']?.endsWith('.PutItem') === true;
    if (isPut) stored = body.Item;
    const answer = JSON.stringify(isPut ? {} : { Item: stored });
    return {
      response: {
        statusCode: 200,
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: Readable.from([Buffer.from(answer)]),
      },
    };
  },
};
const clients = createClients({
  region: 'us-east-1',
  credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
  endpoints: { dynamodb: 'http://127.0.0.1:9' },
  decorate: (client) => {
    (client as unknown as { config: { requestHandler: unknown } }).config.requestHandler = recorder;
    return client;
  },
});
afterAll(() => clients.dynamodb.destroy());

const domainValue = fc.oneof(
  fc.constantFrom(0, -0, 1e100, -1e100, 1e-90, -1e-90, 1e16, 2 ** 53 + 2, nextDouble(1e-90, 1), 21.5),
  fc
    .double({ min: MIN_METRIC_MAGNITUDE, max: MAX_METRIC_MAGNITUDE, noNaN: true })
    .chain((v) => fc.constantFrom(v, -v)),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }).filter(isMetricValue),
);
/** Values and their near negatives: exact sums cancel to the tiniest nonzero results. */
const cancelling = fc
  .double({ min: MIN_METRIC_MAGNITUDE, max: MAX_METRIC_MAGNITUDE, noNaN: true })
  .map((v) => [v, -nextDouble(v, 1)]);
const windowValues = fc
  .tuple(fc.array(domainValue, { minLength: 1, maxLength: 40 }), fc.array(cancelling, { maxLength: 3 }))
  .map(([plain, pairs]) => [...plain, ...pairs.flat()]);

function aggregateOf(values: readonly number[]): Aggregate {
  const agg = emptyAggregate(true);
  for (const v of values) addValue(agg, v);
  return agg;
}

function resultItem(agg: Aggregate) {
  return {
    sensorId: 'sensor_1',
    windowKey: 'tumbling:60000:1767225600000',
    windowType: 'tumbling',
    windowSizeMs: 60_000,
    windowStart: 1_767_225_600_000,
    windowEnd: 1_767_225_660_000,
    metrics: { temperature: summarize(agg) },
    finalisedAt: 1_767_225_700_000,
  };
}

describe('Reading: metric values are 0 or a magnitude from 1e-90 to 1e100, and every one commits', () => {
  it('the domain is what validation accepts', () => {
    const reading = (t: number) =>
      decodeReading(
        Buffer.from(JSON.stringify({ sensorId: 's', timestamp: 1_767_225_600_000, temperature: t })),
        ['temperature'],
      );
    fc.assert(
      fc.property(domainValue, (v) => {
        expect(reading(v).ok).toBe(true);
      }),
    );
  });

  it('aggregates of any values in the domain are finite and written exactly (property)', async () => {
    await fc.assert(
      fc.asyncProperty(windowValues, async (values) => {
        const agg = aggregateOf(values);
        const item = resultItem(agg);
        for (const [k, v] of Object.entries(item.metrics.temperature)) {
          expect(v === null || Number.isFinite(v), `${k} = ${v}`).toBe(true);
        }
        await clients.doc.send(new PutCommand({ TableName: 'WindowResults', Item: item }));
        for (const [at, text] of numbersOf({ M: stored! })) {
          expect(dynamoDbAccepts(text), `${at} = ${text} fits DynamoDB`).toBe(true);
        }
        const back = await clients.doc.send(
          new GetCommand({ TableName: 'WindowResults', Key: { sensorId: 's' } }),
        );
        expect(back.Item).toEqual(item);
        // The state body is JSON: the aggregate must survive it unchanged (no Infinity -> null).
        expect(JSON.parse(JSON.stringify(agg))).toEqual(agg);
      }),
      // Each run is two SDK round trips; a hundred cover the magnitudes in a few seconds.
      { numRuns: 100 },
    );
  }, 60_000);

  it('the shapes of issue 13 commit, or are refused before they can block a sensor', async () => {
    for (const values of [[1e16], [1e16, 1e16 + 2], [1e100, 1e100], [-0, 0], [1e-90, nextDouble(1e-90, 1)]]) {
      const item = resultItem(aggregateOf(values));
      await clients.doc.send(new PutCommand({ TableName: 'WindowResults', Item: item }));
      const back = await clients.doc.send(
        new GetCommand({ TableName: 'WindowResults', Key: { sensorId: 's' } }),
      );
      expect(back.Item).toEqual(item);
    }
    expect(summarize(aggregateOf([-0])).min).toBe(0);
    expect(Object.is(summarize(aggregateOf([-0])).max, 0)).toBe(true);
    expect([1e308, 5e-324, -1e-300].filter(isMetricValue)).toEqual([]);
  });

  it('the bounds hold for the largest count a window can reach (2^53 - 1 values)', () => {
    const n = 2 ** 53 - 1;
    // n values of 1e100: the largest sum; and a sum of one ulp of 1e-90: the smallest mean.
    const largest = summarize({ count: n, sum: [1e100 * n], min: 1e100, max: 1e100, sq: [1e200 * n] });
    const smallest = summarize({ count: n, sum: [nextDouble(1e-90, 1) - 1e-90], min: -1e-90, max: 1e-90 });
    for (const v of [largest.sum, largest.mean, largest.stddev ?? 0, smallest.sum, smallest.mean]) {
      expect(dynamoDbAccepts(String(v)), String(v)).toBe(true);
    }
    expect(smallest.mean).toBeGreaterThan(1e-130);
  });
});

describe('dynamoDbAccepts (the checker the properties rely on)', () => {
  it.each([
    ['0', true],
    ['1e-130', true],
    ['1e-131', false],
    ['9.9999999999999999999999999999999999999e+125', true],
    ['1e+126', false],
    ['1e+100', true],
    ['0.0000001', true],
    ['5e-324', false],
    ['123456789012345678901234567890123456789', false],
  ])('%s -> %s', (text, ok) => {
    expect(dynamoDbAccepts(text)).toBe(ok);
  });
});
