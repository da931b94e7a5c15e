/**
 * The flat fast path (functions/domain/flat-reading.ts) against the specification,
 * `decodeReading`: whenever the fast path answers, its answer is `decodeReading`'s, on
 * simulated fleets' records (malformed ones included), on generated flat objects written
 * in many spellings, and on those bytes damaged at random. It must also answer for the
 * common records, or it would be no fast path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFlatReading } from '../../functions/domain/flat-reading.js';
import { type DecodeOptions, decodeReading } from '../../functions/domain/reading.js';
import { simulate } from '../../local/simulator.js';

const METRICS = ['temperature', 'humidity'];
const T0 = Date.UTC(2026, 0, 1);
const ARRIVAL: DecodeOptions = { arrivalMs: T0 + 3_600_000 };
const encoder = new TextEncoder();

/** The fast path's answer, checked against decodeReading's; true when it answered. */
function agrees(
  data: Uint8Array,
  metrics = METRICS,
  options: DecodeOptions = ARRIVAL,
  key?: string,
): boolean {
  const fast = decodeFlatReading(data, metrics, options, key);
  if (fast === undefined) return false;
  expect({ ok: true, reading: fast }).toStrictEqual(decodeReading(data, metrics, options));
  return true;
}

describe('the flat fast path gives decodeReading’s reading or no answer', () => {
  it('on a simulated fleet’s records, malformed ones included, and answers for nearly all', () => {
    let answered = 0;
    let total = 0;
    for (const record of simulate({ sensors: 50, rateHz: 1, seed: 7, startMs: T0, durationMs: 120_000 })) {
      total++;
      const options = { arrivalMs: record.arrivalMs };
      if (agrees(record.data, ['temperature'], options, record.partitionKey)) answered++;
    }
    expect(total).toBeGreaterThan(5_000);
    expect(answered / total).toBeGreaterThan(0.95);
  });

  it('answers for the plain shapes, with either sensor id spelling and an ISO timestamp', () => {
    const ok = [
      '{"sensorId":"s-1","temperature":21.5,"timestamp":1767225600000}',
      ' {\n "sensor_id" : "s-1" ,\t"timestamp":"2026-01-01T00:00:00.250Z", "humidity": -0.0 }\r\n',
      '{"sensorId":"s","temperature":0.00012345678901,"humidity":123456789012345,"timestamp":1767225600001,"note":"x","n":null,"b":true}',
    ];
    for (const text of ok) expect(agrees(encoder.encode(text))).toBe(true);
  });

  it('leaves every invalid or unusual record to decodeReading', () => {
    const other = [
      '',
      '   ',
      '{}',
      '[{"sensorId":"a","temperature":1,"timestamp":1767225600000}]',
      '{"sensorId":"a","temperature":NaN,"timestamp":1767225600000}',
      '{"sensorId":"a","sensorId":"b","temperature":1,"timestamp":1767225600000}',
      '{"sensorId":"a","sensor_id":"a","temperature":1,"timestamp":1767225600000}',
      '{"sensorId":"a","temperature":1,"timestamp":1767225600000,"x":1,"x":2}',
      '{"sensorId":"a","temperature":1,"timestamp":1767225600000,"__proto__":1}',
      '{"sensorId":"a","temperature":1e2,"timestamp":1767225600000}',
      '{"sensorId":"a","temperature":1.5,"timestamp":1767225600000.0000001}',
      '{"sensorId":"a\\u0062","temperature":1,"timestamp":1767225600000}',
      '{"sensorId":"é","temperature":1,"timestamp":1767225600000}',
      '{"sensorId":"a","temperature":"1","timestamp":1767225600000}',
      '{"sensorId":"a","temperature":1,"timestamp":"2026-01-01T00:00:00"}',
      '{"sensorId":"a","temperature":1,"timestamp":1767225600000,"nested":{"b":1}}',
      '{"sensorId":"a","temperature":1e101,"timestamp":1767225600000}',
      '{"sensorId":"a","temperature":01,"timestamp":1767225600000}',
      '{"sensorId":"a","temperature":1,"timestamp":1767225600000,}',
      '{"sensorId":"","temperature":1,"timestamp":1767225600000}',
      '{"sensorId":"a","timestamp":1767225600000}',
      '{"sensorId":"a","temperature":1,"timestamp":946684799999}',
      '{"sensorId":"a","temperature":1,"timestamp":1767225600000} x',
    ];
    for (const text of other) expect(agrees(encoder.encode(text)), text).toBe(false);
  });

  it('on generated flat objects in many spellings, and on their bytes damaged', () => {
    const space = fc.constantFrom('', ' ', '\n', '\t ', '\r\n');
    const digits = fc.stringMatching(/^[0-9]{1,20}$/);
    const numberText = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
      fc
        .tuple(fc.boolean(), digits, fc.option(digits), fc.option(fc.integer({ min: -30, max: 30 })))
        .map(
          ([neg, int, frac, exp]) =>
            `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : `e${exp}`}`,
        ),
      fc.integer({ min: T0 - 10_000_000_000, max: T0 + 100_000_000 }).map(String),
    );
    const stringText = fc.oneof(
      fc.constantFrom('sensor-1', '', '2026-01-01T00:00:00Z', '2026-01-01T00:59:59.5+01:00', 'x"y'),
      fc.string({ maxLength: 12 }),
    );
    const value = fc.oneof(
      numberText,
      stringText.map((s) => JSON.stringify(s)),
      fc.constantFrom('true', 'false', 'null', '{}', '[1]', 'NaN', '"\\u00e9"'),
    );
    const key = fc.oneof(
      fc.constantFrom(
        'sensorId',
        'sensor_id',
        'timestamp',
        'temperature',
        'humidity',
        'other',
        'constructor',
      ),
      fc.string({ maxLength: 6 }),
    );
    const record = fc
      .tuple(fc.array(fc.tuple(key, value, space, space), { minLength: 0, maxLength: 7 }), space)
      .map(
        ([fields, outer]) =>
          `${outer}{${fields.map(([k, v, a, b]) => `${a}${JSON.stringify(k)}${b}:${a}${v}${b}`).join(',')}}${outer}`,
      );
    fc.assert(
      fc.property(record, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 2 }), (text, damage) => {
        const data = encoder.encode(text);
        agrees(data);
        for (const [at, byte] of damage) if (data.length > 0) data[at % data.length] = byte;
        agrees(data);
        agrees(data, ['temperature'], {});
      }),
      { numRuns: 3_000 },
    );
  });

  it('reuses the partition key as the sensor id only when it spells the same id', () => {
    const data = encoder.encode('{"sensorId":"s-1","temperature":1,"timestamp":1767225600000}');
    const same = decodeFlatReading(data, METRICS, ARRIVAL, 's-1');
    const other = decodeFlatReading(data, METRICS, ARRIVAL, 's-2');
    expect(same?.sensorId).toBe('s-1');
    expect(other?.sensorId).toBe('s-1');
  });

  it('leaves metric lists it cannot compare by bytes to decodeReading', () => {
    const data = encoder.encode('{"sensorId":"a","timestamp":1767225600000,"timestamp2":1}');
    expect(decodeFlatReading(data, ['timestamp'], ARRIVAL)).toBeUndefined();
    expect(decodeFlatReading(data, ['a"b'], ARRIVAL)).toBeUndefined();
    expect(agrees(data, ['timestamp2'])).toBe(true);
  });

  it('reads only the first `length` bytes of a scratch buffer', () => {
    const record = encoder.encode('{"sensorId":"a","temperature":1,"timestamp":1767225600000}');
    const scratch = new Uint8Array(256).fill(0x20);
    scratch.set(record);
    scratch[record.length] = 0x78; // a byte past the record that would make it invalid
    expect(decodeFlatReading(scratch, METRICS, ARRIVAL, undefined, record.length)).toStrictEqual(
      decodeFlatReading(record, METRICS, ARRIVAL),
    );
    expect(decodeFlatReading(scratch, METRICS, ARRIVAL, undefined, record.length - 1)).toBeUndefined();
  });
});
