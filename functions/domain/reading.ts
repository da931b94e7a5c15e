/**
 * Decoding and validation of one sensor reading (one Kinesis record's data), exactly as
 * the "Reading" section of docs/SEMANTICS.md states it. Pure and allocation-light: this runs
 * once per record, so the checks are written by hand instead of with a schema library.
 *
 * Anything that is not a valid reading comes back as `{ ok: false, reason, detail }`:
 * `reason` is a stable kebab-case code (counted, and written to the invalid sink),
 * `detail` a short human message naming the field and the problem. `detail` quotes at
 * most a short preview of the input, never the whole record.
 */
import { isMetricValue, MAX_METRIC_MAGNITUDE, MIN_METRIC_MAGNITUDE } from './aggregate.js';
import { parseIsoTimestamp } from './iso-timestamp.js';

export interface Reading {
  sensorId: string;
  /** Event time, epoch milliseconds. */
  timestamp: number;
  /** Only the configured metrics present in the record. */
  values: Record<string, number>;
}

/**
 * Why a record is not a valid reading. These strings are part of the output contract
 * (they appear in `invalid.jsonl` and in metrics): add new ones, never rename.
 *
 * - `empty`: zero bytes, or only whitespace.
 * - `not-utf8`: the bytes are not well-formed UTF-8.
 * - `not-json`: the text is not JSON.
 * - `non-finite-number`: the text uses bare `NaN` / `Infinity` / `-Infinity` (as Python's
 *   `json.dumps` emits them), which JSON does not have.
 * - `not-object`: valid JSON, but not an object (array, string, number, boolean, null).
 * - `missing-sensor-id`: neither `sensorId` nor `sensor_id` is present.
 * - `invalid-sensor-id`: not a string, empty, or containing a lone UTF-16 surrogate
 *   (it could not round-trip through UTF-8, so two ids could collide).
 * - `sensor-id-too-long`: more than MAX_SENSOR_ID_LENGTH characters (code points).
 * - `conflicting-sensor-id`: both `sensorId` and `sensor_id` are present and differ.
 * - `missing-timestamp`: no `timestamp` field.
 * - `invalid-timestamp`: not a finite number within the Date range, nor an ISO-8601
 *   string with zone denoting a real instant (numeric strings are invalid too).
 * - `no-metric`: none of the configured metrics is present.
 * - `invalid-metric`: a configured metric is present but is not a finite number.
 * - `too-large`: more than MAX_RECORD_BYTES bytes; a reading is a few hundred bytes, so
 *   this is a blob, and it is refused before any decoding work.
 * - `too-deep`: JSON nested deeper than MAX_JSON_DEPTH.
 * - `duplicate-key`: an object names the same key twice; JSON.parse would silently keep
 *   the last one, so `{"sensorId":"a", ..., "sensorId":"b"}` could pass as either.
 * - `forbidden-key`: a key `__proto__`, `constructor` or `prototype` anywhere (the
 *   prototype-pollution shapes); no reading needs them.
 * - `timestamp-out-of-range`: a valid instant outside the accepted range: before
 *   MIN_TIMESTAMP_MS (2000-01-01T00:00:00Z), or more than MAX_FUTURE_SKEW_MS after the
 *   record's arrival in the stream (a clock far ahead would otherwise drag the sensor's
 *   watermark forward and make every later reading late).
 * - `metric-out-of-range`: a configured metric is a finite number outside the numeric
 *   domain: nonzero with a magnitude below MIN_METRIC_MAGNITUDE (1e-90, which includes
 *   every subnormal) or above MAX_METRIC_MAGNITUDE (1e100). Within the domain no sum, mean
 *   or standard deviation can overflow, and every number written fits DynamoDB
 *   (functions/domain/aggregate.ts says why); outside it, one reading could block its
 *   sensor's windows for good.
 */
export type InvalidReason =
  | 'empty'
  | 'not-utf8'
  | 'not-json'
  | 'non-finite-number'
  | 'not-object'
  | 'missing-sensor-id'
  | 'invalid-sensor-id'
  | 'sensor-id-too-long'
  | 'conflicting-sensor-id'
  | 'missing-timestamp'
  | 'invalid-timestamp'
  | 'no-metric'
  | 'invalid-metric'
  | 'too-large'
  | 'too-deep'
  | 'duplicate-key'
  | 'forbidden-key'
  | 'timestamp-out-of-range'
  | 'metric-out-of-range';

/** Every reason, for exhaustive tables and metric dimensions. */
export const INVALID_REASONS: readonly InvalidReason[] = [
  'empty',
  'not-utf8',
  'not-json',
  'non-finite-number',
  'not-object',
  'missing-sensor-id',
  'invalid-sensor-id',
  'sensor-id-too-long',
  'conflicting-sensor-id',
  'missing-timestamp',
  'invalid-timestamp',
  'no-metric',
  'invalid-metric',
  'too-large',
  'too-deep',
  'duplicate-key',
  'forbidden-key',
  'timestamp-out-of-range',
  'metric-out-of-range',
];

export type DecodeResult =
  | { ok: true; reading: Reading }
  | { ok: false; reason: InvalidReason; detail: string };

/** The sensor id is the Kinesis partition key, whose limit is 256 characters. */
export const MAX_SENSOR_ID_LENGTH = 256;

/** A reading is a few hundred bytes; anything over this is refused unread. */
export const MAX_RECORD_BYTES = 64 * 1024;

/** Readings are flat; other fields may nest, but not without bound. */
export const MAX_JSON_DEPTH = 32;

/** 2000-01-01T00:00:00Z: no fleet sends older event times; such a timestamp is a broken clock. */
export const MIN_TIMESTAMP_MS = 946_684_800_000;

/** How far ahead of its arrival in the stream a reading's event time may be (clock skew). */
export const MAX_FUTURE_SKEW_MS = 86_400_000;

/** Without an arrival time (tools, tests), the upper bound is 2100-01-01T00:00:00Z. */
export const MAX_TIMESTAMP_MS = 4_102_444_800_000;

export interface DecodeOptions {
  /** When the record reached the stream (Kinesis approximateArrivalTimestamp), epoch ms. */
  arrivalMs?: number;
}

/** ±8.64e15 ms is the range of an ECMAScript Date (±100,000,000 days around the epoch). */
const MAX_ABS_TIMESTAMP_MS = 8.64e15;

/** Longest slice of input quoted in a `detail`. */
const PREVIEW_CHARS = 60;

// One decoder for the process: `fatal` makes malformed UTF-8 throw instead of turning
// into U+FFFD, which would silently change a sensor id. A leading BOM is dropped.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes one record's bytes into a reading, or says why it is invalid. */
export function decodeReading(
  data: Uint8Array,
  metrics: readonly string[],
  options: DecodeOptions = {},
): DecodeResult {
  if (data.length === 0) return invalid('empty', 'record data is zero bytes');
  if (data.length > MAX_RECORD_BYTES) {
    return invalid('too-large', `record data is ${data.length} bytes (max ${MAX_RECORD_BYTES})`);
  }
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return invalid('not-utf8', `record data (${data.length} bytes) is not well-formed UTF-8`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return classifyParseFailure(text, err);
  }
  // JSON.parse only ever returns plain objects, arrays and primitives, so the
  // plain-object check can be the cheap one.
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return invalid('not-object', `record is JSON ${typeName(parsed)}, not an object`);
  }
  const structure = checkStructure(text);
  if (structure !== undefined) return structure;
  return validateFields(parsed as Record<string, unknown>, metrics, options);
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * One pass over text that JSON.parse has already accepted (so it is well-formed): nesting
 * depth, duplicate keys per object, forbidden keys at any depth. A flat reading costs one
 * small Set.
 */
function checkStructure(text: string): DecodeResult | undefined {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      if (!expectKey) continue;
      expectKey = false;
      const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
      if (FORBIDDEN_KEYS.has(key)) return invalid('forbidden-key', `key ${preview(key)} is not allowed`);
      const keys = stack[stack.length - 1]!;
      if (keys.has(key)) return invalid('duplicate-key', `key ${preview(key)} appears twice in one object`);
      keys.add(key);
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? new Set() : null);
      if (stack.length > MAX_JSON_DEPTH) {
        return invalid('too-deep', `JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
      }
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return undefined;
}

/**
 * Validates an already-parsed value (for example a reading built in code or read from
 * a JSON file by a tool). Same rules as `decodeReading`; a field whose value is
 * `undefined` counts as absent, and only plain objects (prototype Object.prototype or
 * null) are readings.
 */
export function validateReading(
  obj: unknown,
  metrics: readonly string[],
  options: DecodeOptions = {},
): DecodeResult {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    return invalid('not-object', `reading is ${typeName(obj)}, not an object`);
  }
  const proto = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) {
    return invalid('not-object', 'reading is not a plain object');
  }
  return validateFields(obj as Record<string, unknown>, metrics, options);
}

function validateFields(
  obj: Record<string, unknown>,
  metrics: readonly string[],
  options: DecodeOptions,
): DecodeResult {
  // Fixed field names are read by plain property access: Object.prototype has no
  // `sensorId`, `sensor_id` or `timestamp`, so an undefined value means "absent".
  const primary = obj.sensorId;
  const alias = obj.sensor_id;
  let sensorId: unknown;
  let field: string;
  if (primary !== undefined) {
    if (alias !== undefined && alias !== primary) {
      return invalid(
        'conflicting-sensor-id',
        `sensorId ${preview(primary)} and sensor_id ${preview(alias)} differ`,
      );
    }
    sensorId = primary;
    field = 'sensorId';
  } else if (alias !== undefined) {
    sensorId = alias;
    field = 'sensor_id';
  } else {
    return invalid('missing-sensor-id', 'no sensorId (or sensor_id) field');
  }
  if (typeof sensorId !== 'string') {
    return invalid('invalid-sensor-id', `${field} must be a string, got ${typeName(sensorId)}`);
  }
  const idProblem = checkSensorId(sensorId, field);
  if (idProblem !== undefined) return idProblem;

  const rawTimestamp = obj.timestamp;
  let timestamp: number;
  if (typeof rawTimestamp === 'number') {
    if (!Number.isFinite(rawTimestamp)) {
      return invalid('invalid-timestamp', `timestamp is not finite (${rawTimestamp})`);
    }
    if (Math.abs(rawTimestamp) > MAX_ABS_TIMESTAMP_MS) {
      return invalid(
        'invalid-timestamp',
        `timestamp ${rawTimestamp} is outside the Date range (±8.64e15 ms)`,
      );
    }
    timestamp = rawTimestamp;
  } else if (typeof rawTimestamp === 'string') {
    const parsed = parseIsoTimestamp(rawTimestamp);
    if (typeof parsed === 'string') {
      return invalid('invalid-timestamp', `timestamp ${preview(rawTimestamp)} ${parsed}`);
    }
    timestamp = parsed;
  } else if (rawTimestamp === undefined) {
    return invalid('missing-timestamp', 'no timestamp field');
  } else {
    return invalid(
      'invalid-timestamp',
      `timestamp must be epoch ms or an ISO-8601 string, got ${typeName(rawTimestamp)}`,
    );
  }

  const latest = options.arrivalMs === undefined ? MAX_TIMESTAMP_MS : options.arrivalMs + MAX_FUTURE_SKEW_MS;
  if (timestamp < MIN_TIMESTAMP_MS || timestamp > latest) {
    return invalid(
      'timestamp-out-of-range',
      timestamp < MIN_TIMESTAMP_MS
        ? `timestamp ${isoOf(timestamp)} is before 2000-01-01T00:00:00Z`
        : // The arrival time stays out of the detail: the detail must not differ between runs.
          `timestamp ${isoOf(timestamp)} is more than 24 h after ${options.arrivalMs === undefined ? '2100-01-01' : "the record's arrival in the stream"}`,
    );
  }

  let values: Record<string, number> | undefined;
  for (const metric of metrics) {
    const value = obj[metric];
    if (typeof value === 'number') {
      // A number can only be an own property: Object.prototype holds no numbers.
      if (!Number.isFinite(value)) {
        return invalid('invalid-metric', `metric ${metric} is not finite (${value})`);
      }
      if (!isMetricValue(value)) {
        return invalid(
          'metric-out-of-range',
          `metric ${metric} is ${value}, outside the accepted range: 0, or a magnitude from ` +
            `${MIN_METRIC_MAGNITUDE} to ${MAX_METRIC_MAGNITUDE}`,
        );
      }
      values ??= {};
      // -0 is the same reading as 0; keeping it would only let it leak into outputs.
      setValue(values, metric, value === 0 ? 0 : value);
    } else if (value !== undefined && Object.hasOwn(obj, metric)) {
      // Own, present and not a number (a numeric string, null, ...). Inherited members
      // such as `constructor` are not fields of the record and fall through as absent.
      return invalid('invalid-metric', `metric ${metric} must be a finite number, got ${describe(value)}`);
    }
  }
  if (values === undefined) {
    return invalid('no-metric', `none of the configured metrics is present (${listPreview(metrics)})`);
  }
  return { ok: true, reading: { sensorId, timestamp, values } };
}

function checkSensorId(id: string, field: string): DecodeResult | undefined {
  if (id.length === 0) return invalid('invalid-sensor-id', `${field} is empty`);
  // length counts UTF-16 code units, which is at least the number of code points, so
  // only a long id needs the exact count.
  if (id.length > MAX_SENSOR_ID_LENGTH) {
    const codePoints = countCodePoints(id);
    if (codePoints > MAX_SENSOR_ID_LENGTH) {
      return invalid(
        'sensor-id-too-long',
        `${field} has ${codePoints} characters (max ${MAX_SENSOR_ID_LENGTH}): ${preview(id)}`,
      );
    }
  }
  if (LONE_SURROGATE.test(id)) {
    return invalid('invalid-sensor-id', `${field} contains a lone UTF-16 surrogate: ${preview(id)}`);
  }
  return undefined;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function countCodePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is one character.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Assigns without invoking the `__proto__` setter when a metric has that name. */
function setValue(values: Record<string, number>, metric: string, value: number): void {
  if (metric === '__proto__') {
    Object.defineProperty(values, metric, { value, enumerable: true, writable: true, configurable: true });
  } else {
    values[metric] = value;
  }
}

function classifyParseFailure(text: string, err: unknown): DecodeResult {
  if (text.trim() === '') return invalid('empty', 'record data is only whitespace');
  const token = findBareNonFinite(text);
  if (token !== undefined) {
    const where = token.key === undefined ? `at offset ${token.offset}` : `in field ${preview(token.key)}`;
    return invalid('non-finite-number', `bare ${token.word} ${where}: JSON has no NaN or Infinity`);
  }
  // V8 in Node 22+ appends " (line L column C)" to the message Node 20 gives; without it
  // the detail, an output, is the same on every supported runtime (and Lambda's).
  const message = (err instanceof Error ? err.message : String(err)).replace(/ \(line \d+ column \d+\)$/, '');
  return invalid('not-json', `not JSON: ${truncate(message, 120)}`);
}

/**
 * Finds the first `NaN` / `Infinity` written as a bare token, outside any string. Runs
 * only after JSON.parse has failed, so it favours clarity over speed.
 */
function findBareNonFinite(
  text: string,
): { word: string; offset: number; key: string | undefined } | undefined {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    if (c !== 0x4e /* N */ && c !== 0x49 /* I */) continue;
    const word = text.startsWith('NaN', i) ? 'NaN' : text.startsWith('Infinity', i) ? 'Infinity' : undefined;
    if (word === undefined) continue;
    if (isIdentifierChar(text.charCodeAt(i - 1)) || isIdentifierChar(text.charCodeAt(i + word.length)))
      continue;
    const negative = text.charCodeAt(i - 1) === 0x2d; /* - */
    return {
      word: negative ? `-${word}` : word,
      offset: negative ? i - 1 : i,
      key: precedingKey(text.slice(Math.max(0, i - 200), negative ? i - 1 : i)),
    };
  }
  return undefined;
}

const KEY_BEFORE_VALUE = /"((?:[^"\\]|\\.)*)"\s*:\s*$/;

function precedingKey(before: string): string | undefined {
  return KEY_BEFORE_VALUE.exec(before)?.[1];
}

function isIdentifierChar(c: number): boolean {
  // NaN for out-of-range indexes compares false everywhere.
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x5f ||
    c === 0x24
  );
}

function isoOf(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

function invalid(reason: InvalidReason, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A value as it appears in a detail: strings quoted and cut short, others by type. */
function describe(value: unknown): string {
  if (typeof value === 'string') return `string ${preview(value)}`;
  if (typeof value === 'boolean') return `boolean ${value}`;
  return typeName(value);
}

function preview(value: unknown): string {
  if (typeof value !== 'string') return typeName(value) === 'number' ? String(value) : typeName(value);
  return JSON.stringify(truncate(value, PREVIEW_CHARS));
}

function listPreview(names: readonly string[]): string {
  return truncate(names.join(', '), 80);
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
