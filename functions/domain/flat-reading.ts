/**
 * The common case of `decodeReading` (reading.ts) without JSON.parse: a record that is one
 * flat JSON object in plain ASCII (no escapes, no nesting), whose fields pass every check
 * of the "Reading" section of docs/SEMANTICS.md. It is read in one pass over the bytes,
 * with no text, parsed object or key set made on the way.
 *
 * `decodeFlatReading` answers only when it is sure: the reading it returns is the one
 * `decodeReading` returns for the same bytes (test/unit/flat-reading.test.ts checks both
 * on valid and invalid inputs). Anything else (an invalid record, escapes, non-ASCII
 * bytes, nested values, exponents, a duplicate or forbidden key) gives `undefined`, and
 * the caller asks `decodeReading`, which stays the specification and says why a record
 * is invalid.
 *
 * Why its numbers are JSON.parse's: a literal of at most 15 digits without exponent is an
 * integer M < 2^53 divided by 10^k (k <= 15), both exact doubles, and one IEEE division
 * rounds the exact quotient correctly, as JSON.parse rounds the decimal.
 */
import { isMetricValue } from './aggregate.js';
import { parseIsoTimestamp, parseUtcTimestampBytes } from './iso-timestamp.js';
import {
  type DecodeOptions,
  MAX_FUTURE_SKEW_MS,
  MAX_RECORD_BYTES,
  MAX_SENSOR_ID_LENGTH,
  MAX_TIMESTAMP_MS,
  MIN_TIMESTAMP_MS,
  type Reading,
} from './reading.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN = 0x7b;
const CLOSE = 0x7d;

/** Kinds of a field's value. */
const ABSENT = 0;
const NUMBER = 1;
const STRING = 2;
const LITERAL = 3;

/** Fields read by name: their slots, then one per metric. */
const SENSOR_ID = 0;
const SENSOR_ID_ALIAS = 1;
const TIMESTAMP = 2;
const FIXED_FIELDS = ['sensorId', 'sensor_id', 'timestamp'] as const;
const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];

/** Other keys a flat record may have (their values unread); more goes the general way. */
const MAX_OTHER_KEYS = 8;
/** Digits of a number computed here (M < 10^15 < 2^53). */
const MAX_DIGITS = 15;
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** The metrics compiled: names as bytes, and scratch space for one record's fields. */
interface FlatPlan {
  metrics: readonly string[];
  names: Uint8Array[];
  forbidden: Uint8Array[];
  kind: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  number: Float64Array;
  others: Int32Array;
}

const plans = new WeakMap<readonly string[], FlatPlan | null>();
let lastMetrics: readonly string[] | undefined;
let lastPlan: FlatPlan | null = null;

/**
 * Names the scanner compares byte by byte: printable ASCII without quote or backslash,
 * none a fixed field or a forbidden key, none twice. Other metric lists (never seen in
 * practice) always go the general way.
 */
function planFor(metrics: readonly string[]): FlatPlan | null {
  if (metrics === lastMetrics) return lastPlan;
  let plan = plans.get(metrics);
  if (plan === undefined) {
    const names = [...FIXED_FIELDS, ...metrics];
    const simple = names.every(
      (name, i) =>
        /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(name) &&
        !FORBIDDEN_KEYS.includes(name) &&
        names.indexOf(name) === i,
    );
    const n = names.length;
    plan = simple
      ? {
          metrics,
          names: names.map(bytesOf),
          forbidden: FORBIDDEN_KEYS.map(bytesOf),
          kind: new Uint8Array(n),
          start: new Int32Array(n),
          end: new Int32Array(n),
          number: new Float64Array(n),
          others: new Int32Array(2 * MAX_OTHER_KEYS),
        }
      : null;
    plans.set(metrics, plan);
  }
  lastMetrics = metrics;
  lastPlan = plan;
  return plan;
}

function bytesOf(ascii: string): Uint8Array {
  return Uint8Array.from(ascii, (c) => c.charCodeAt(0));
}

/** Set by `scanNumber`: the literal's value, or NaN when it is not computed here. */
let scannedNumber = 0;

/**
 * The reading `decodeReading(data, metrics, options)` would return, or undefined when
 * this fast path cannot say. `partitionKey`, when given, is reused as the sensor id
 * string if it spells the same characters (it usually is the sensor id). `length` reads
 * only the first bytes of `data` (a scratch buffer) as the record.
 */
export function decodeFlatReading(
  data: Uint8Array,
  metrics: readonly string[],
  options: DecodeOptions = {},
  partitionKey?: string,
  length = data.length,
): Reading | undefined {
  const n = Math.min(length, data.length);
  if (n === 0 || n > MAX_RECORD_BYTES) return undefined;
  const plan = planFor(metrics);
  if (plan === null) return undefined;
  const { kind, start, end, number, others } = plan;
  for (let s = 0; s < kind.length; s++) kind[s] = ABSENT;
  let otherCount = 0;
  let i = skipSpace(data, 0, n);
  if (byteAt(data, i, n) !== OPEN) return undefined;
  i = skipSpace(data, i + 1, n);
  for (;;) {
    if (byteAt(data, i, n) !== QUOTE) return undefined;
    const keyStart = i + 1;
    const keyEnd = scanString(data, keyStart, n);
    if (keyEnd < 0) return undefined;
    const slot = slotOf(plan.names, data, keyStart, keyEnd);
    if (slot < 0) {
      if (slotOf(plan.forbidden, data, keyStart, keyEnd) >= 0) return undefined;
      if (otherCount === MAX_OTHER_KEYS) return undefined;
      for (let k = 0; k < otherCount; k++) {
        if (sameBytes(data, others[2 * k]!, others[2 * k + 1]!, keyStart, keyEnd)) return undefined;
      }
      others[2 * otherCount] = keyStart;
      others[2 * otherCount + 1] = keyEnd;
      otherCount++;
    } else if (kind[slot] !== ABSENT) {
      return undefined;
    }
    i = skipSpace(data, keyEnd + 1, n);
    if (byteAt(data, i, n) !== COLON) return undefined;
    i = skipSpace(data, i + 1, n);
    const c = byteAt(data, i, n);
    let valueKind: number;
    let valueStart = i;
    let valueEnd: number;
    if (c === QUOTE) {
      valueStart = i + 1;
      valueEnd = scanString(data, valueStart, n);
      if (valueEnd < 0) return undefined;
      i = valueEnd + 1;
      valueKind = STRING;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      valueEnd = scanNumber(data, i, n);
      if (valueEnd < 0) return undefined;
      i = valueEnd;
      valueKind = NUMBER;
    } else {
      valueEnd = scanLiteral(data, i, n);
      if (valueEnd < 0) return undefined;
      i = valueEnd;
      valueKind = LITERAL;
    }
    if (slot >= 0) {
      kind[slot] = valueKind;
      start[slot] = valueStart;
      end[slot] = valueEnd;
      number[slot] = valueKind === NUMBER ? scannedNumber : Number.NaN;
    }
    i = skipSpace(data, i, n);
    if (byteAt(data, i, n) === COMMA) {
      i = skipSpace(data, i + 1, n);
      continue;
    }
    if (byteAt(data, i, n) !== CLOSE || skipSpace(data, i + 1, n) !== n) return undefined;
    break;
  }
  return readingOf(plan, data, options, partitionKey);
}

/** The fields scanned, checked as `validateFields` checks them; undefined on any doubt. */
function readingOf(
  plan: FlatPlan,
  data: Uint8Array,
  options: DecodeOptions,
  partitionKey: string | undefined,
): Reading | undefined {
  const { kind, start, end, number, metrics } = plan;
  let idSlot: number;
  if (kind[SENSOR_ID] !== ABSENT) {
    // Both spellings present: decodeReading compares them; leave it to it.
    if (kind[SENSOR_ID_ALIAS] !== ABSENT) return undefined;
    idSlot = SENSOR_ID;
  } else {
    idSlot = SENSOR_ID_ALIAS;
  }
  if (kind[idSlot] !== STRING) return undefined;
  const idStart = start[idSlot]!;
  const idEnd = end[idSlot]!;
  // ASCII: one character per byte, no surrogates.
  if (idEnd === idStart || idEnd - idStart > MAX_SENSOR_ID_LENGTH) return undefined;

  let timestamp: number;
  if (kind[TIMESTAMP] === NUMBER) {
    // At most 15 digits: finite and within the Date range.
    timestamp = number[TIMESTAMP]!;
    if (Number.isNaN(timestamp)) return undefined;
  } else if (kind[TIMESTAMP] === STRING) {
    const parsed =
      parseUtcTimestampBytes(data, start[TIMESTAMP]!, end[TIMESTAMP]!) ??
      parseIsoTimestamp(asciiText(data, start[TIMESTAMP]!, end[TIMESTAMP]!));
    if (typeof parsed === 'string') return undefined;
    timestamp = parsed;
  } else {
    return undefined;
  }
  const latest = options.arrivalMs === undefined ? MAX_TIMESTAMP_MS : options.arrivalMs + MAX_FUTURE_SKEW_MS;
  if (timestamp < MIN_TIMESTAMP_MS || timestamp > latest) return undefined;

  let values: Record<string, number> | undefined;
  for (let m = 0; m < metrics.length; m++) {
    const slot = FIXED_FIELDS.length + m;
    if (kind[slot] === ABSENT) continue;
    const value = number[slot]!;
    if (kind[slot] !== NUMBER || Number.isNaN(value) || !isMetricValue(value)) return undefined;
    values ??= {};
    values[metrics[m]!] = value === 0 ? 0 : value;
  }
  if (values === undefined) return undefined;
  const sensorId =
    partitionKey !== undefined && spells(data, idStart, idEnd, partitionKey)
      ? partitionKey
      : asciiText(data, idStart, idEnd);
  return { sensorId, timestamp, values };
}

/**
 * The byte at `i`, or -1 past the end: never an out-of-bounds read, which would make
 * every byte a number-or-undefined to the optimising compiler.
 */
function byteAt(data: Uint8Array, i: number, n: number): number {
  return i < n ? data[i]! : -1;
}

function skipSpace(data: Uint8Array, i: number, n: number): number {
  for (;;) {
    const c = byteAt(data, i, n);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Index of the closing quote of a string of printable ASCII without escapes, or -1. */
function scanString(data: Uint8Array, i: number, n: number): number {
  for (; i < n; i++) {
    const c = data[i]!;
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < 0x20 || c > 0x7f) return -1;
  }
  return -1;
}

/**
 * End of a JSON number literal starting at `i` (or -1 when it is not one), with its value
 * in `scannedNumber` when it has at most MAX_DIGITS digits and no exponent, else NaN.
 */
function scanNumber(data: Uint8Array, i: number, n: number): number {
  const negative = byteAt(data, i, n) === MINUS;
  if (negative) i++;
  let mantissa = 0;
  let digits = 0;
  let c = byteAt(data, i, n);
  if (c === ZERO) {
    c = byteAt(data, ++i, n);
    digits = 1;
  } else if (c > ZERO && c <= NINE) {
    for (; c >= ZERO && c <= NINE; c = byteAt(data, ++i, n)) {
      mantissa = mantissa * 10 + (c - ZERO);
      digits++;
    }
  } else {
    return -1;
  }
  let fraction = 0;
  if (c === DOT) {
    c = byteAt(data, ++i, n);
    if (c < ZERO || c > NINE) return -1;
    for (; c >= ZERO && c <= NINE; c = byteAt(data, ++i, n)) {
      mantissa = mantissa * 10 + (c - ZERO);
      digits++;
      fraction++;
    }
  }
  let exact = digits <= MAX_DIGITS;
  if (c === 0x65 /* e */ || c === 0x45 /* E */) {
    exact = false;
    c = byteAt(data, ++i, n);
    if (c === 0x2b /* + */ || c === MINUS) c = byteAt(data, ++i, n);
    if (c < ZERO || c > NINE) return -1;
    while (c >= ZERO && c <= NINE) c = byteAt(data, ++i, n);
  }
  if (!exact) scannedNumber = Number.NaN;
  else {
    const magnitude = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
    scannedNumber = negative ? -magnitude : magnitude;
  }
  return i;
}

const LITERALS = [bytesOf('true'), bytesOf('false'), bytesOf('null')];

/** End of `true`, `false` or `null` at `i`, or -1. */
function scanLiteral(data: Uint8Array, i: number, n: number): number {
  for (const word of LITERALS) {
    if (i + word.length <= n && sameAt(data, i, word)) return i + word.length;
  }
  return -1;
}

function sameAt(data: Uint8Array, i: number, word: Uint8Array): boolean {
  if (i + word.length > data.length) return false;
  for (let k = 0; k < word.length; k++) if (data[i + k] !== word[k]) return false;
  return true;
}

/** Index of the name spelt by `data[from, to)`, or -1. */
function slotOf(names: readonly Uint8Array[], data: Uint8Array, from: number, to: number): number {
  const length = to - from;
  for (let s = 0; s < names.length; s++) {
    const name = names[s]!;
    if (name.length === length && sameAt(data, from, name)) return s;
  }
  return -1;
}

function sameBytes(data: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let k = 0; a + k < aEnd; k++) if (data[a + k] !== data[b + k]) return false;
  return true;
}

function spells(data: Uint8Array, from: number, to: number, text: string): boolean {
  if (text.length !== to - from) return false;
  for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) !== data[from + k]) return false;
  return true;
}

function asciiText(data: Uint8Array, from: number, to: number): string {
  let text = '';
  for (let k = from; k < to; k++) text += String.fromCharCode(data[k]!);
  return text;
}
