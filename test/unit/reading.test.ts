/**
 * The "Reading" clauses of SEMANTICS.md, one describe block each: what a valid reading
 * is, and for every other record the reason it is invalid.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DecodeResult,
  decodeReading,
  INVALID_REASONS,
  type InvalidReason,
  MAX_JSON_DEPTH,
  MAX_RECORD_BYTES,
  MAX_SENSOR_ID_LENGTH,
  MAX_TIMESTAMP_MS,
  MIN_TIMESTAMP_MS,
  validateReading,
} from '../../functions/domain/reading.js';

const METRICS = ['temperature'] as const;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const encoder = new TextEncoder();

/** Record bytes: objects are serialised, strings sent verbatim. */
function bytes(record: unknown): Uint8Array {
  return encoder.encode(typeof record === 'string' ? record : JSON.stringify(record));
}

function decode(record: unknown, metrics: readonly string[] = METRICS): DecodeResult {
  return decodeReading(bytes(record), metrics);
}

function expectValid(result: DecodeResult) {
  if (!result.ok) expect.fail(`expected a valid reading, got ${result.reason}: ${result.detail}`);
  return result.reading;
}

function expectInvalid(result: DecodeResult, reason: InvalidReason, detailPattern?: RegExp) {
  if (result.ok) expect.fail(`expected ${reason}, got a valid reading ${JSON.stringify(result.reading)}`);
  expect(result.reason).toBe(reason);
  if (detailPattern) expect(result.detail).toMatch(detailPattern);
  return result;
}

/** A well-formed reading to vary one field at a time. */
const base = { sensorId: 'sensor_1', timestamp: T0, temperature: 21.5 };

interface InvalidCase {
  name: string;
  /** Object (serialised with JSON.stringify), verbatim string, or raw bytes. */
  record: unknown;
  reason: InvalidReason;
  detail: RegExp;
}

const longId = 'x'.repeat(MAX_SENSOR_ID_LENGTH + 1);

const sensorIdCases: InvalidCase[] = [
  {
    name: 'no sensorId nor sensor_id',
    record: { timestamp: T0, temperature: 1 },
    reason: 'missing-sensor-id',
    detail: /sensorId/,
  },
  {
    name: 'sensorId a number',
    record: { ...base, sensorId: 7 },
    reason: 'invalid-sensor-id',
    detail: /sensorId.*string.*number/,
  },
  {
    name: 'sensorId null',
    record: { ...base, sensorId: null },
    reason: 'invalid-sensor-id',
    detail: /sensorId.*null/,
  },
  {
    name: 'sensorId an array',
    record: { ...base, sensorId: ['a'] },
    reason: 'invalid-sensor-id',
    detail: /array/,
  },
  { name: 'sensorId empty', record: { ...base, sensorId: '' }, reason: 'invalid-sensor-id', detail: /empty/ },
  {
    name: 'sensor_id empty',
    record: { sensor_id: '', timestamp: T0, temperature: 1 },
    reason: 'invalid-sensor-id',
    detail: /sensor_id is empty/,
  },
  {
    name: 'sensorId with a lone surrogate',
    record: '{"sensorId":"s\\ud800x","timestamp":0,"temperature":1}',
    reason: 'invalid-sensor-id',
    detail: /surrogate/,
  },
  {
    name: `sensorId of ${MAX_SENSOR_ID_LENGTH + 1} characters`,
    record: { ...base, sensorId: longId },
    reason: 'sensor-id-too-long',
    detail: new RegExp(`${MAX_SENSOR_ID_LENGTH + 1} characters \\(max ${MAX_SENSOR_ID_LENGTH}\\)`),
  },
  {
    name: `${MAX_SENSOR_ID_LENGTH + 1} astral characters`,
    record: { ...base, sensorId: '🌡'.repeat(MAX_SENSOR_ID_LENGTH + 1) },
    reason: 'sensor-id-too-long',
    detail: /257 characters/,
  },
  {
    name: 'sensorId and sensor_id differ',
    record: { ...base, sensor_id: 'sensor_2' },
    reason: 'conflicting-sensor-id',
    detail: /"sensor_1".*"sensor_2"/,
  },
  {
    name: 'sensorId a string, sensor_id the same id as a number',
    record: { ...base, sensorId: '1', sensor_id: 1 },
    reason: 'conflicting-sensor-id',
    detail: /sensor_id 1/,
  },
];

const timestampCases: InvalidCase[] = [
  {
    name: 'no timestamp',
    record: { sensorId: 's', temperature: 1 },
    reason: 'missing-timestamp',
    detail: /timestamp/,
  },
  {
    name: 'numeric string',
    record: { ...base, timestamp: String(T0) },
    reason: 'invalid-timestamp',
    detail: /numeric string/,
  },
  {
    name: 'zone-less ISO string',
    record: { ...base, timestamp: '2026-01-01T00:00:00' },
    reason: 'invalid-timestamp',
    detail: /no zone/,
  },
  {
    name: 'zone-less, space-separated',
    record: { ...base, timestamp: '2026-01-01 00:00:00.5' },
    reason: 'invalid-timestamp',
    detail: /no zone/,
  },
  {
    name: 'date only',
    record: { ...base, timestamp: '2026-01-01' },
    reason: 'invalid-timestamp',
    detail: /no zone/,
  },
  {
    name: 'RFC 2822 date (Date.parse accepts it)',
    record: { ...base, timestamp: 'Tue, 01 Jan 2030 00:00:00 GMT' },
    reason: 'invalid-timestamp',
    detail: /not an ISO-8601/,
  },
  {
    name: 'Date#toString form',
    record: { ...base, timestamp: new Date(T0).toString() },
    reason: 'invalid-timestamp',
    detail: /not an ISO-8601/,
  },
  {
    name: 'ISO week date',
    record: { ...base, timestamp: '2026-W01-1T00:00:00Z' },
    reason: 'invalid-timestamp',
    detail: /not an ISO-8601/,
  },
  {
    name: 'month 13',
    record: { ...base, timestamp: '2026-13-01T00:00:00Z' },
    reason: 'invalid-timestamp',
    detail: /month 13/,
  },
  {
    name: 'month 00',
    record: { ...base, timestamp: '2026-00-10T00:00:00Z' },
    reason: 'invalid-timestamp',
    detail: /month 00/,
  },
  {
    name: 'February 30',
    record: { ...base, timestamp: '2028-02-30T00:00:00Z' },
    reason: 'invalid-timestamp',
    detail: /day 30/,
  },
  {
    name: 'February 29 of a common year',
    record: { ...base, timestamp: '2026-02-29T00:00:00Z' },
    reason: 'invalid-timestamp',
    detail: /day 29/,
  },
  {
    name: 'February 29 of 1900 (divisible by 100, not 400)',
    record: { ...base, timestamp: '1900-02-29T00:00:00Z' },
    reason: 'invalid-timestamp',
    detail: /day 29/,
  },
  {
    name: 'April 31',
    record: { ...base, timestamp: '2026-04-31T12:00:00Z' },
    reason: 'invalid-timestamp',
    detail: /day 31/,
  },
  {
    name: 'day 00',
    record: { ...base, timestamp: '2026-04-00T12:00:00Z' },
    reason: 'invalid-timestamp',
    detail: /day 00/,
  },
  {
    name: 'hour 24',
    record: { ...base, timestamp: '2026-01-01T24:00:00Z' },
    reason: 'invalid-timestamp',
    detail: /hour 24/,
  },
  {
    name: 'minute 60',
    record: { ...base, timestamp: '2026-01-01T10:60:00Z' },
    reason: 'invalid-timestamp',
    detail: /minute 60/,
  },
  {
    name: 'leap second 60',
    record: { ...base, timestamp: '2016-12-31T23:59:60Z' },
    reason: 'invalid-timestamp',
    detail: /second 60/,
  },
  {
    name: 'offset +24:00',
    record: { ...base, timestamp: '2026-01-01T00:00:00+24:00' },
    reason: 'invalid-timestamp',
    detail: /offset/,
  },
  {
    name: 'offset minutes 60',
    record: { ...base, timestamp: '2026-01-01T00:00:00+01:60' },
    reason: 'invalid-timestamp',
    detail: /offset/,
  },
  {
    name: 'surrounding whitespace',
    record: { ...base, timestamp: ' 2026-01-01T00:00:00Z' },
    reason: 'invalid-timestamp',
    detail: /not an ISO-8601/,
  },
  {
    name: 'a number that overflows to Infinity',
    record: '{"sensorId":"s","timestamp":1e999,"temperature":1}',
    reason: 'invalid-timestamp',
    detail: /timestamp is not finite/,
  },
  {
    name: 'beyond the Date range',
    record: { ...base, timestamp: 8.64e15 + 1 },
    reason: 'invalid-timestamp',
    detail: /Date range/,
  },
  {
    name: 'zero (the epoch: a clock that was never set)',
    record: { ...base, timestamp: 0 },
    reason: 'timestamp-out-of-range',
    detail: /1970-01-01T00:00:00.000Z is before 2000-01-01/,
  },
  {
    name: 'before the epoch',
    record: { ...base, timestamp: -86_400_000 },
    reason: 'timestamp-out-of-range',
    detail: /before 2000/,
  },
  {
    name: 'an ISO instant before 2000',
    record: { ...base, timestamp: '1969-07-20T20:17:40Z' },
    reason: 'timestamp-out-of-range',
    detail: /before 2000/,
  },
  {
    name: 'the year 50 (not 1950)',
    record: { ...base, timestamp: '0050-06-15T00:00:00Z' },
    reason: 'timestamp-out-of-range',
    detail: /0050-06-15T00:00:00.000Z is before 2000/,
  },
  {
    name: 'the end of the Date range (far future, no arrival time known)',
    record: { ...base, timestamp: 8.64e15 },
    reason: 'timestamp-out-of-range',
    detail: /after 2100-01-01/,
  },
  { name: 'null', record: { ...base, timestamp: null }, reason: 'invalid-timestamp', detail: /got null/ },
  {
    name: 'boolean',
    record: { ...base, timestamp: true },
    reason: 'invalid-timestamp',
    detail: /got boolean/,
  },
  {
    name: 'object',
    record: { ...base, timestamp: { $date: T0 } },
    reason: 'invalid-timestamp',
    detail: /got object/,
  },
];

/** The adjacent double of a positive `x`, above (+1) or below (-1). */
function nextDouble(x: number, direction: 1 | -1): number {
  const bits = new BigInt64Array(new Float64Array([x]).buffer);
  bits[0] = bits[0]! + BigInt(direction);
  return new Float64Array(bits.buffer)[0]!;
}

const metricCases: InvalidCase[] = [
  {
    name: 'no configured metric, other fields only',
    record: { sensorId: 's', timestamp: T0, humidity: 40 },
    reason: 'no-metric',
    detail: /temperature/,
  },
  {
    name: 'numeric string',
    record: { ...base, temperature: '21.5' },
    reason: 'invalid-metric',
    detail: /temperature.*string "21\.5"/,
  },
  {
    name: 'null',
    record: { ...base, temperature: null },
    reason: 'invalid-metric',
    detail: /temperature.*null/,
  },
  {
    name: 'boolean',
    record: { ...base, temperature: false },
    reason: 'invalid-metric',
    detail: /temperature.*boolean/,
  },
  {
    name: 'object',
    record: { ...base, temperature: { value: 1 } },
    reason: 'invalid-metric',
    detail: /temperature.*object/,
  },
  {
    name: 'a number that overflows to Infinity',
    record: `{"sensorId":"s","timestamp":${T0},"temperature":1e999}`,
    reason: 'invalid-metric',
    detail: /temperature is not finite/,
  },
  {
    name: 'a number that overflows to -Infinity',
    record: `{"sensorId":"s","timestamp":${T0},"temperature":-1e999}`,
    reason: 'invalid-metric',
    detail: /temperature is not finite \(-Infinity\)/,
  },
  {
    name: '1e308 (two of them would overflow a sum to Infinity)',
    record: { ...base, temperature: 1e308 },
    reason: 'metric-out-of-range',
    detail:
      /metric temperature is 1e\+308, outside the accepted range: 0, or a magnitude from 1e-90 to 1e\+100/,
  },
  {
    name: 'the largest double, negative',
    record: { ...base, temperature: -Number.MAX_VALUE },
    reason: 'metric-out-of-range',
    detail: /-1\.7976931348623157e\+308/,
  },
  {
    name: 'the next double above 1e100',
    record: { ...base, temperature: nextDouble(1e100, +1) },
    reason: 'metric-out-of-range',
    detail: new RegExp(`temperature is ${String(nextDouble(1e100, +1)).replace('+', '\\+')}`),
  },
  {
    name: 'the smallest subnormal (DynamoDB underflows below 1e-130)',
    record: `{"sensorId":"s","timestamp":${T0},"temperature":5e-324}`,
    reason: 'metric-out-of-range',
    detail: /5e-324/,
  },
  {
    name: 'the smallest normal double',
    record: { ...base, temperature: 2.2250738585072014e-308 },
    reason: 'metric-out-of-range',
    detail: /2\.2250738585072014e-308/,
  },
  {
    name: 'the next double below 1e-90, negative',
    record: { ...base, temperature: -nextDouble(1e-90, -1) },
    reason: 'metric-out-of-range',
    detail: new RegExp(`temperature is ${-nextDouble(1e-90, -1)}`),
  },
];

const otherCases: InvalidCase[] = [
  { name: 'zero bytes', record: new Uint8Array(0), reason: 'empty', detail: /zero bytes/ },
  { name: 'whitespace only', record: ' \t\r\n ', reason: 'empty', detail: /whitespace/ },
  { name: 'a lone 0xff byte', record: new Uint8Array([0xff]), reason: 'not-utf8', detail: /UTF-8/ },
  {
    name: 'Latin-1 encoded text',
    record: new Uint8Array([...bytes('{"sensorId":"caf'), 0xe9, ...bytes('"}')]),
    reason: 'not-utf8',
    detail: /UTF-8/,
  },
  {
    name: 'overlong encoding of "/"',
    record: new Uint8Array([0xc0, 0xaf]),
    reason: 'not-utf8',
    detail: /UTF-8/,
  },
  {
    name: 'truncated multi-byte sequence',
    record: new Uint8Array([0x7b, 0xe2, 0x82]),
    reason: 'not-utf8',
    detail: /UTF-8/,
  },
  {
    name: 'encoded surrogate (CESU-8)',
    record: new Uint8Array([0xed, 0xa0, 0x80]),
    reason: 'not-utf8',
    detail: /UTF-8/,
  },
  { name: 'plain text', record: 'hello', reason: 'not-json', detail: /not JSON/ },
  {
    name: 'truncated object',
    record: '{"sensorId":"s","temperature":2',
    reason: 'not-json',
    detail: /not JSON/,
  },
  { name: 'single quotes', record: "{'sensorId':'s'}", reason: 'not-json', detail: /not JSON/ },
  {
    name: 'NaN only inside a string is just bad JSON',
    record: '{"sensorId":"NaN" "timestamp":0}',
    reason: 'not-json',
    detail: /not JSON/,
  },
  {
    name: 'Python json.dumps NaN',
    record: '{"sensor_id": "sensor_1", "temperature": NaN, "timestamp": 0}',
    reason: 'non-finite-number',
    detail: /bare NaN in field "temperature"/,
  },
  {
    name: 'Python json.dumps Infinity',
    record: '{"sensor_id": "sensor_1", "timestamp": Infinity, "temperature": 1}',
    reason: 'non-finite-number',
    detail: /bare Infinity in field "timestamp"/,
  },
  {
    name: 'Python json.dumps -Infinity',
    record: '{"sensor_id": "sensor_1", "temperature": -Infinity, "timestamp": 0}',
    reason: 'non-finite-number',
    detail: /bare -Infinity in field "temperature"/,
  },
  {
    name: 'NaN in an array',
    record: '[1, NaN]',
    reason: 'non-finite-number',
    detail: /bare NaN at offset 4/,
  },
  { name: 'array', record: [base], reason: 'not-object', detail: /array/ },
  { name: 'string', record: '"sensor_1"', reason: 'not-object', detail: /string/ },
  { name: 'number', record: '21.5', reason: 'not-object', detail: /number/ },
  { name: 'null', record: 'null', reason: 'not-object', detail: /null/ },
  { name: 'boolean', record: 'true', reason: 'not-object', detail: /boolean/ },
  {
    name: 'one byte over the size limit',
    record: new Uint8Array(MAX_RECORD_BYTES + 1).fill(0x20),
    reason: 'too-large',
    detail: /max 65536/,
  },
  {
    name: 'deeply nested JSON',
    record: `{"sensorId":"s","timestamp":${T0},"temperature":1,"x":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`,
    reason: 'too-deep',
    detail: /deeper than 32/,
  },
  {
    name: 'a duplicated sensorId (either could be believed)',
    record: `{"sensorId":"a","timestamp":${T0},"temperature":1,"sensorId":"b"}`,
    reason: 'duplicate-key',
    detail: /"sensorId" appears twice/,
  },
  {
    name: 'a duplicate spelled with an escape',
    record: `{"temperature":1,"sensorId":"a","timestamp":${T0},"temper\\u0061ture":2}`,
    reason: 'duplicate-key',
    detail: /"temperature"/,
  },
  {
    name: 'a duplicate inside a nested object',
    record: `{"sensorId":"a","timestamp":${T0},"temperature":1,"meta":{"k":1,"k":2}}`,
    reason: 'duplicate-key',
    detail: /"k"/,
  },
  {
    name: 'a nested __proto__ key',
    record: `{"sensorId":"a","timestamp":${T0},"temperature":1,"meta":[{"__proto__":{"x":1}}]}`,
    reason: 'forbidden-key',
    detail: /__proto__/,
  },
  {
    name: 'a prototype key spelled with an escape',
    record: `{"sensorId":"a","timestamp":${T0},"temperature":1,"proto\\u0074ype":1}`,
    reason: 'forbidden-key',
    detail: /"prototype"/,
  },
];

function recordBytes(record: unknown): Uint8Array {
  return record instanceof Uint8Array ? record : bytes(record);
}

function runInvalidTable(cases: InvalidCase[]) {
  it.each(cases)('$name is $reason', ({ record, reason, detail }) => {
    expectInvalid(decodeReading(recordBytes(record), METRICS), reason, detail);
  });
}

describe('Reading: sensorId is a non-empty string of at most 256 characters, alias sensor_id', () => {
  it('accepts sensorId', () => {
    expect(expectValid(decode(base))).toEqual({
      sensorId: 'sensor_1',
      timestamp: T0,
      values: { temperature: 21.5 },
    });
  });

  it('accepts the alias sensor_id (the classic Kafka producer format)', () => {
    const reading = expectValid(decode({ sensor_id: 'sensor_3', temperature: 19.12, timestamp: T0 }));
    expect(reading.sensorId).toBe('sensor_3');
  });

  it('accepts both fields when they agree', () => {
    expect(expectValid(decode({ ...base, sensor_id: 'sensor_1' })).sensorId).toBe('sensor_1');
  });

  it.each([
    ['ASCII', 'x'.repeat(MAX_SENSOR_ID_LENGTH)],
    ['astral (two UTF-16 units each)', '🌡'.repeat(MAX_SENSOR_ID_LENGTH)],
    ['accented', 'é'.repeat(MAX_SENSOR_ID_LENGTH)],
  ])('accepts exactly %s characters up to the limit', (_kind, id) => {
    expect(expectValid(decode({ ...base, sensorId: id })).sensorId).toBe(id);
  });

  it('keeps the id verbatim (no trimming or normalisation)', () => {
    expect(expectValid(decode({ ...base, sensorId: ' Halle 3/Süd ' })).sensorId).toBe(' Halle 3/Süd ');
  });

  runInvalidTable(sensorIdCases);
});

describe('Reading: timestamp is epoch milliseconds or an ISO-8601 string with zone', () => {
  it.each([
    ['epoch ms', T0, T0],
    ['fractional ms', T0 + 0.5, T0 + 0.5],
    ['the first accepted instant, 2000-01-01T00:00:00Z', MIN_TIMESTAMP_MS, MIN_TIMESTAMP_MS],
    [
      'the last accepted instant without an arrival time, 2100-01-01T00:00:00Z',
      MAX_TIMESTAMP_MS,
      MAX_TIMESTAMP_MS,
    ],
  ])('accepts %s', (_name, timestamp, expected) => {
    expect(expectValid(decode({ ...base, timestamp })).timestamp).toBe(expected);
  });

  // Expected instants are written in the Z form and parsed by Date.parse, an
  // independent ISO parser for that form.
  it.each([
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00.000Z'],
    ['2026-01-01T00:00:00.123Z', '2026-01-01T00:00:00.123Z'],
    ['2026-01-01T00:00:00.1Z', '2026-01-01T00:00:00.100Z'],
    ['2026-01-01T00:00:00.123456Z (sub-ms digits truncated)', '2026-01-01T00:00:00.123Z'],
    ['2026-01-01T00:00:00,5Z (decimal comma)', '2026-01-01T00:00:00.500Z'],
    ['2026-01-01T00:00Z (no seconds)', '2026-01-01T00:00:00.000Z'],
    ['2026-01-01t00:00:00z (lower case)', '2026-01-01T00:00:00.000Z'],
    ['2026-01-01T01:00:00+01:00', '2026-01-01T00:00:00.000Z'],
    ['2026-01-01T05:30:00+0530 (±hhmm)', '2026-01-01T00:00:00.000Z'],
    ['2025-12-31T16:00:00-08 (±hh)', '2026-01-01T00:00:00.000Z'],
    ['2025-12-31T23:59:59.999-00:00', '2025-12-31T23:59:59.999Z'],
    ['2028-02-29T12:00:00Z (leap year)', '2028-02-29T12:00:00.000Z'],
    ['2000-02-29T00:00:00Z (divisible by 400)', '2000-02-29T00:00:00.000Z'],
  ])('accepts %s', (input, expectedZ) => {
    const timestamp = input.split(' ')[0]!;
    expect(expectValid(decode({ ...base, timestamp })).timestamp).toBe(Date.parse(expectedZ));
  });

  it('reads any instant written by toISOString or with any offset back to the same epoch ms', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MIN_TIMESTAMP_MS, max: MAX_TIMESTAMP_MS }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        fc.boolean(),
        (ms, offsetMinutes, colon) => {
          expect(expectValid(decode({ ...base, timestamp: new Date(ms).toISOString() })).timestamp).toBe(ms);
          const withOffset = formatWithOffset(ms, offsetMinutes, colon);
          expect(expectValid(decode({ ...base, timestamp: withOffset })).timestamp).toBe(ms);
        },
      ),
    );
  });

  it('accepts event time up to 24 h after the record reached the stream, and no further', () => {
    const arrivalMs = T0;
    const ok = decodeReading(bytes({ ...base, timestamp: T0 + 86_400_000 }), METRICS, { arrivalMs });
    expect(expectValid(ok).timestamp).toBe(T0 + 86_400_000);
    expectInvalid(
      decodeReading(bytes({ ...base, timestamp: T0 + 86_400_001 }), METRICS, { arrivalMs }),
      'timestamp-out-of-range',
      /more than 24 h after the record's arrival in the stream/,
    );
    // Old readings arriving late (a replayed archive) are fine: only the future is bounded.
    expect(expectValid(decodeReading(bytes(base), METRICS, { arrivalMs: T0 + 3e10 })).timestamp).toBe(T0);
  });

  runInvalidTable(timestampCases);
});

/** The local time at `offsetMinutes` from UTC, written with that offset. */
function formatWithOffset(ms: number, offsetMinutes: number, colon: boolean): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${local}${sign}${hh}${colon ? ':' : ''}${mm}`;
}

describe('Reading: metric fields are the configured metrics, each a finite number, at least one', () => {
  it('keeps only configured metrics and ignores other fields', () => {
    const reading = expectValid(
      decode({ ...base, humidity: 40, unit: 'C', nested: { temperature: 'x' }, tags: [1, 2] }),
    );
    expect(reading.values).toEqual({ temperature: 21.5 });
  });

  it('reads several configured metrics', () => {
    const reading = expectValid(
      decode({ ...base, humidity: 40.5, pressure: 1013 }, ['temperature', 'humidity', 'pressure']),
    );
    expect(reading.values).toEqual({ temperature: 21.5, humidity: 40.5, pressure: 1013 });
  });

  it('accepts a reading carrying only some of the configured metrics', () => {
    const reading = expectValid(
      decode({ sensorId: 's', timestamp: T0, humidity: 40 }, ['temperature', 'humidity']),
    );
    expect(reading.values).toEqual({ humidity: 40 });
    expect(Object.hasOwn(reading.values, 'temperature')).toBe(false);
  });

  it.each([0, -0.5, -273.15, 1e16, 2 ** 53 + 2, 1e100, -1e100, 1e-90, -1e-90, 12345.678e-80])(
    'accepts the number %s, in the domain: 0 or a magnitude from 1e-90 to 1e100',
    (temperature) => {
      expect(expectValid(decode({ ...base, temperature })).values.temperature).toBe(temperature);
    },
  );

  it('reads -0 as 0', () => {
    const value = expectValid(decode(`{"sensorId":"s","timestamp":${T0},"temperature":-0}`)).values
      .temperature;
    expect(Object.is(value, 0)).toBe(true);
    expect(
      Object.is(expectValid(validateReading({ ...base, temperature: -0 }, METRICS)).values.temperature, 0),
    ).toBe(true);
  });

  it('accepts exactly the domain, whatever the magnitude (property)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (temperature) => {
        const result = decode({ ...base, temperature });
        const magnitude = Math.abs(temperature);
        const inDomain = magnitude === 0 || (magnitude >= 1e-90 && magnitude <= 1e100);
        expect(result.ok).toBe(inDomain);
        if (!result.ok) expect(result.reason).toBe('metric-out-of-range');
      }),
      { numRuns: 2_000 },
    );
  });

  it('names the offending metric when one of several is invalid', () => {
    expectInvalid(
      decode({ ...base, humidity: '40%' }, ['temperature', 'humidity']),
      'invalid-metric',
      /metric humidity must be a finite number, got string "40%"/,
    );
  });

  it('does not mistake inherited members for metrics', () => {
    // `constructor` and `toString` exist on every object's prototype, not in the record.
    expectInvalid(decode(base, ['constructor', 'toString']), 'no-metric');
    expectValid(decode({ ...base, toString: 3 }, ['toString']));
  });

  it('refuses a record carrying a prototype-pollution key, even as a configured metric', () => {
    expectInvalid(decode({ ...base, constructor: 3 }, ['constructor']), 'forbidden-key', /"constructor"/);
    expectInvalid(decode(`{"sensorId":"s","timestamp":${T0},"__proto__":7}`, ['__proto__']), 'forbidden-key');
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  runInvalidTable(metricCases);
});

describe('Reading: anything else is invalid, with its reason', () => {
  runInvalidTable(otherCases);

  it('accepts a UTF-8 byte order mark before the JSON', () => {
    const data = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(base)]);
    expect(expectValid(decodeReading(data, METRICS)).sensorId).toBe('sensor_1');
  });

  it('refuses a "__proto__" key in the record and pollutes nothing', () => {
    expectInvalid(
      decode(`{"__proto__":{"polluted":1},"sensorId":"s","timestamp":${T0},"temperature":1}`),
      'forbidden-key',
      /"__proto__"/,
    );
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a 1 MiB blob without decoding it', () => {
    const blob = new Uint8Array(1024 * 1024).fill(0x7b);
    expectInvalid(decodeReading(blob, METRICS), 'too-large', /1048576 bytes/);
  });

  it('accepts nesting up to the limit in ignored fields', () => {
    const nested = '['.repeat(MAX_JSON_DEPTH - 1) + ']'.repeat(MAX_JSON_DEPTH - 1);
    expectValid(decode(`{"sensorId":"s","timestamp":${T0},"temperature":1,"x":${nested}}`));
  });

  it('quotes at most a short preview of the input in detail', () => {
    const huge = 'y'.repeat(100_000);
    const results = [
      decode({ ...base, sensorId: huge }),
      decode({ ...base, sensor_id: huge }),
      decode({ ...base, timestamp: huge }),
      decode({ ...base, temperature: huge }),
      decode(huge),
      decode(`{"temperature": NaN, "${huge}": 1}`),
      decode(`{"${huge}": NaN}`),
    ];
    for (const result of results) {
      if (result.ok) expect.fail('expected invalid');
      expect(result.detail.length).toBeLessThanOrEqual(200);
    }
  });

  it('is covered reason by reason by the tables in this file', () => {
    const covered = new Set(
      [...sensorIdCases, ...timestampCases, ...metricCases, ...otherCases].map((c) => c.reason),
    );
    expect([...covered].sort()).toEqual([...INVALID_REASONS].sort());
  });
});

describe('validateReading: the same rules for already-parsed values', () => {
  it('accepts a plain object and a null-prototype object', () => {
    expect(expectValid(validateReading({ ...base }, METRICS)).values).toEqual({ temperature: 21.5 });
    const bare = Object.assign(Object.create(null) as object, base);
    expect(expectValid(validateReading(bare, METRICS)).sensorId).toBe('sensor_1');
  });

  it('treats undefined fields as absent', () => {
    const reading = expectValid(
      validateReading({ ...base, sensor_id: undefined, humidity: undefined }, ['temperature', 'humidity']),
    );
    expect(reading.values).toEqual({ temperature: 21.5 });
    expectInvalid(validateReading({ ...base, timestamp: undefined }, METRICS), 'missing-timestamp');
  });

  it.each([
    ['an array', [base]],
    ['a string', 'sensor_1'],
    ['null', null],
    ['undefined', undefined],
    ['a Date', new Date(T0)],
    ['a Map', new Map(Object.entries(base))],
  ])('rejects %s as not-object', (_name, value) => {
    expectInvalid(validateReading(value, METRICS), 'not-object');
  });

  it.each([
    [
      'NaN metric',
      { ...base, temperature: Number.NaN },
      'invalid-metric',
      /temperature is not finite \(NaN\)/,
    ],
    ['NaN timestamp', { ...base, timestamp: Number.NaN }, 'invalid-timestamp', /not finite/],
    ['bigint metric', { ...base, temperature: 21n }, 'invalid-metric', /got bigint/],
  ] as const)('rejects a %s', (_name, value, reason, detail) => {
    expectInvalid(validateReading(value, METRICS), reason, detail);
  });

  it('agrees with decodeReading on every table case that is a JSON object', () => {
    for (const c of [...sensorIdCases, ...timestampCases, ...metricCases]) {
      const data = recordBytes(c.record);
      let parsed: unknown;
      try {
        parsed = JSON.parse(new TextDecoder().decode(data));
      } catch {
        continue; // cases that are not JSON cannot be handed over parsed
      }
      expect(validateReading(parsed, METRICS)).toEqual(decodeReading(data, METRICS));
    }
  });
});
