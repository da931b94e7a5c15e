/**
 * The compact state body's generic part (state-codec.ts): any JSON value written with short
 * keys, for the parts of a state whose shape the codec does not spell out itself (the
 * outbox's results, alerts, late readings, transitions and action outcomes; alarm entries,
 * rule memory). It is lossless for what JSON keeps, key order included, because the
 * outbox's items are published as they are and their bytes are part of the outputs.
 *
 * - A key of KEYS is written as its alias (letters only, so never an integer-like key,
 *   which JSON objects would move to the front); any other key goes into the body's names
 *   table, shared with the metric names, and is written `#<index>`.
 * - An object whose keys begin with those of a SHAPE (in order) is written as an array:
 *   the shape's number, the values of its keys, then an object of its other keys if any.
 *   A real array is written with a leading 0.
 * - A string equal to the sensor's id is written `~` (its items all name the sensor); a
 *   string that begins with `~` gets one more in front.
 *
 * KEYS and SHAPES are part of the stored format: append only, never reorder or remove.
 */
import { WindowpaneError } from './errors.js';
import { alertIdOf, cooldownBucket } from './rules.js';
import { decodeRecordId, encodeRecordId } from './state-values.js';

/** A body that is not a state body windowpane wrote: what it is, and where it fails. */
export class StateBodyError extends WindowpaneError {
  constructor(sensorId: string, why: string) {
    super(`state body of sensor "${sensorId.slice(0, 256)}" cannot be decoded: ${why}`);
  }
}

const words = (s: string) => s.split(' ');

const KEYS: readonly string[] = [
  // Alert (rules.ts)
  ...words('alertId sensorId rule ruleVersion ruleType severity metric value timestamp cooldownBucket'),
  ...words('cooldownMs above below previous maxDelta late statistic windowKey windowEnd'),
  // FinalWindow, AggregateSummary, LateReading, MissedWindow (state.ts, aggregate.ts)
  ...words('windowType windowSizeMs windowSlideMs windowGapMs windowStart metrics count sum min max'),
  ...words('mean stddev id values reason watermark missedWindows spec'),
  // Transition, ActionOutcome (alarms/transition.ts, state.ts)
  ...words('transitionId alarmId seq transition from state at clock since peak peakAt reactivated'),
  ...words('snoozedUntil by note actionId recordId detail action outcome'),
  // The state's optional fields and rule memory (state.ts); AlarmEntry (alarms/entry.ts)
  ...words('alarms rs sd k h s st q si v pk pt ps c su ac ver ty sv'),
];

const ALERT = words(
  'alertId sensorId rule ruleVersion ruleType severity metric value timestamp cooldownBucket cooldownMs late',
);
const SUMMARY = words('count sum min max mean');

/** Shape n is SHAPES[n - 1]; the longest that fits an object is used. */
const SHAPES: readonly (readonly string[])[] = [
  ALERT,
  [...ALERT, 'above'],
  [...ALERT, 'below'],
  [...ALERT, 'previous', 'maxDelta'],
  words('sensorId windowKey windowType windowSizeMs windowStart windowEnd metrics'),
  SUMMARY,
  [...SUMMARY, 'stddev'],
  words('id sensorId timestamp values reason windowStart windowEnd watermark missedWindows'),
  words('windowType spec windowStart windowEnd'),
  words(
    'transitionId alarmId sensorId rule ruleVersion ruleType severity metric seq transition from state at clock since value peak peakAt',
  ),
  words('actionId alarmId sensorId action by outcome recordId'),
];

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const aliasOf = (i: number) =>
  i < ALPHABET.length
    ? ALPHABET[i]!
    : ALPHABET[Math.floor(i / ALPHABET.length) - 1]! + ALPHABET[i % ALPHABET.length]!;
const ALIAS = new Map<string, string>(KEYS.map((k, i) => [k, aliasOf(i)]));
const KEY_OF_ALIAS = new Map<string, string>(KEYS.map((k, i) => [aliasOf(i), k]));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What packing and unpacking share: the sensor's id and the body's names table. */
export class PackContext {
  readonly names: string[];
  private readonly index = new Map<string, number>();

  constructor(
    readonly sensorId: string,
    names: string[] = [],
  ) {
    this.names = names;
    for (const [i, n] of names.entries()) this.index.set(n, i);
  }

  /** The index of `name` in the names table, added when new. */
  nameIndex(name: string): number {
    let i = this.index.get(name);
    if (i === undefined) {
      i = this.names.push(name) - 1;
      this.index.set(name, i);
    }
    return i;
  }

  name(i: unknown): string {
    const n = typeof i === 'number' ? this.names[i] : undefined;
    if (n === undefined) throw new StateBodyError(this.sensorId, `no name ${String(i)} in the names table`);
    return n;
  }

  fail(why: string): never {
    throw new StateBodyError(this.sensorId, why);
  }
}

/** `value` in packed form (JSON's rules: undefined members are left out, in arrays null). */
export function pack(value: unknown, ctx: PackContext): Json {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return packString(value, ctx);
  if (typeof value !== 'object') return typeof value === 'function' ? null : (value as Json);
  if (Array.isArray(value)) {
    const out: Json[] = [0];
    for (const v of value) out.push(pack(v, ctx));
    return out;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined && typeof obj[k] !== 'function');
  const shape = shapeOf(keys);
  if (shape === 0) return packKeys(obj, keys, ctx);
  const fields = SHAPES[shape - 1]!;
  const derived = DERIVED[shape - 1];
  const out: Json[] = [shape];
  for (const k of fields) {
    const derive = derived?.[k];
    out.push(derive !== undefined && derive(obj, ctx) === obj[k] ? DERIVED_MARK : pack(obj[k], ctx));
  }
  if (keys.length > fields.length) out.push(packKeys(obj, keys.slice(fields.length), ctx));
  return out;
}

/**
 * Fields a shape can leave out because they follow from the others (each written
 * DERIVED_MARK when it equals its derivation, as it is otherwise): an alert's cooldown
 * bucket and id, a summary's mean. Derivations are listed in the order they are computed.
 */
type Derive = (o: Record<string, unknown>, ctx: PackContext) => unknown;
const DERIVED_MARK = '~=';
const num = (x: unknown) => (typeof x === 'number' ? x : Number.NaN);
const alertDerived: Record<string, Derive> = {
  cooldownBucket: (o) => cooldownBucket(num(o.timestamp), num(o.cooldownMs)),
  alertId: (o) =>
    typeof o.sensorId === 'string' && typeof o.rule === 'string' && typeof o.cooldownBucket === 'number'
      ? alertIdOf(o.sensorId, o.rule, o.cooldownBucket)
      : undefined,
};
const summaryDerived: Record<string, Derive> = {
  mean: (o) => (num(o.count) > 0 ? num(o.sum) / num(o.count) : 0),
};
const firstMissed = (o: Record<string, unknown>) =>
  Array.isArray(o.missedWindows) ? (o.missedWindows[0] as Record<string, unknown> | undefined) : undefined;
const DERIVED: readonly (Record<string, Derive> | undefined)[] = [
  alertDerived,
  alertDerived,
  alertDerived,
  alertDerived,
  undefined,
  summaryDerived,
  summaryDerived,
  // A late reading's first missed window is also its own.
  { windowStart: (o) => firstMissed(o)?.windowStart, windowEnd: (o) => firstMissed(o)?.windowEnd },
  // A missed window's type is its spec's prefix (config.ts specId).
  { windowType: (o) => (typeof o.spec === 'string' ? o.spec.slice(0, o.spec.indexOf(':')) : undefined) },
];

/** `~` the sensor's id, `~~…` a string that began with `~`, `~:…` a record id (state-values.ts). */
function packString(value: string, ctx: PackContext): string {
  if (value === ctx.sensorId) return '~';
  if (value.startsWith('~')) return `~${value}`;
  if (value.startsWith('shardId-')) {
    const id = encodeRecordId(value);
    if (id !== undefined) return `~:${id}`;
  }
  return value;
}

function unpackString(packed: string, ctx: PackContext): string {
  if (!packed.startsWith('~')) return packed;
  if (packed === '~') return ctx.sensorId;
  if (packed[1] === '~') return packed.slice(1);
  if (packed[1] === ':') return decodeRecordId(packed.slice(2)) ?? ctx.fail(`not a record id: "${packed}"`);
  return ctx.fail(`unknown string form "${packed.slice(0, 40)}"`);
}

function shapeOf(keys: readonly string[]): number {
  let best = 0;
  let bestLength = 0;
  SHAPES.forEach((fields, i) => {
    if (fields.length <= bestLength || fields.length > keys.length) return;
    for (let j = 0; j < fields.length; j++) if (keys[j] !== fields[j]) return;
    best = i + 1;
    bestLength = fields.length;
  });
  return best;
}

function packKeys(obj: Record<string, unknown>, keys: readonly string[], ctx: PackContext): Json {
  const out: { [key: string]: Json } = {};
  for (const k of keys) out[ALIAS.get(k) ?? `#${ctx.nameIndex(k)}`] = pack(obj[k], ctx);
  return out;
}

/** What `pack` wrote, as it was. */
export function unpack(packed: unknown, ctx: PackContext): unknown {
  if (packed === null || typeof packed === 'number' || typeof packed === 'boolean') return packed;
  if (typeof packed === 'string') return unpackString(packed, ctx);
  if (Array.isArray(packed)) {
    const tag = packed[0];
    if (tag === 0) return packed.slice(1).map((v) => unpack(v, ctx));
    const fields = typeof tag === 'number' ? SHAPES[tag - 1] : undefined;
    if (!fields) return ctx.fail(`unknown shape ${JSON.stringify(tag)}`);
    if (packed.length !== fields.length + 1 && packed.length !== fields.length + 2) {
      return ctx.fail(`shape ${tag} holds ${fields.length} values, got ${packed.length - 1}`);
    }
    const out: Record<string, unknown> = {};
    const derived = DERIVED[tag - 1];
    for (const [j, k] of fields.entries()) {
      const v = packed[j + 1];
      setKey(out, k, v === DERIVED_MARK && derived?.[k] ? undefined : unpack(v, ctx));
    }
    // In DERIVED's order, each from fields already set; the key keeps its place.
    for (const k in derived)
      if (packed[fields.indexOf(k) + 1] === DERIVED_MARK) out[k] = derived[k]!(out, ctx);
    const rest = packed[fields.length + 1];
    if (rest !== undefined) unpackKeys(rest, ctx, out);
    return out;
  }
  if (typeof packed === 'object') return unpackKeys(packed, ctx, {});
  return ctx.fail(`unexpected ${typeof packed}`);
}

function unpackKeys(
  packed: unknown,
  ctx: PackContext,
  out: Record<string, unknown>,
): Record<string, unknown> {
  if (typeof packed !== 'object' || packed === null || Array.isArray(packed)) {
    return ctx.fail('expected an object of keys');
  }
  for (const [alias, v] of Object.entries(packed)) {
    const key = alias.startsWith('#') ? ctx.name(Number(alias.slice(1))) : KEY_OF_ALIAS.get(alias);
    if (key === undefined) ctx.fail(`unknown key alias "${alias}"`);
    setKey(out, key, unpack(v, ctx));
  }
  return out;
}

/** As JSON.parse would: `__proto__` is an own key, not the prototype. */
export function setKey(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
