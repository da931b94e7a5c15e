/**
 * A sensor's state body, the `body` of its item (functions/lib/state-store.ts) and of its
 * carried entry (functions/pipeline/carried-state.ts): compact so that an item stays
 * within one DynamoDB write unit (1 KB) in the default configuration (issue 14).
 *
 * Format 2 is a JSON array beginning with 2:
 *
 *   [2, watermark, flushedThrough, applied, names, specs, windows, last, fired, outbox, rest]
 *
 * - applied: `[shard, position, ...]` in the state's LRU order; a shard `shardId-<12
 *   digits>` is its number, a position `~<sequence number in base64url>[.<sub-index>]`
 *   (31 characters for Kinesis's 56-digit numbers instead of 56), or `=<as stored>` when
 *   it is not in canonical decimal form.
 * - names: metric names (and any key state-pack.ts has no alias for), written once.
 * - specs: each window spec once: its id, or `[id, type]` when the type is not the id's
 *   prefix before `:`.
 * - windows: `[spec, start, end - start, aggs, slideMs, gapMs, extra]` in the state's
 *   order; the key, type and size are derived (windowKey(spec, start), the spec's type,
 *   end - start) and `extra` holds what is not (key, size, end, unknown fields).
 * - aggs: `[name, count, sum, min, max, sq | 0, sketch text]` per metric; a double whose
 *   decimal form passes 12 characters (an exact sum's error terms) is its 8 bytes in
 *   base64url (11 characters).
 * - last: `[name, value, ...]`; fired: `[rule, buckets, ...]`.
 * - outbox: `[results, alerts, late, transitions, actions]`, items packed by state-pack.ts.
 * - rest: every other field (alarms, rs, sd), packed.
 *
 * Trailing empty or absent members are left out. The previous release's body, the state
 * as a JSON object, is read as before (format 1), so items written by it keep working.
 */
import type { Aggregate } from './aggregate.js';
import { decodeSketch, encodeSketch } from './sketch/codec.js';
import { reviveSketches, storable } from './sketch/stored.js';
import type { OpenWindow, Outbox, SensorState } from './state.js';
import { PackContext, pack, StateBodyError, setKey, unpack } from './state-pack.js';
import {
  absoluteTime,
  bucketsOf,
  compactDouble,
  decodePosition,
  decodeShard,
  encodeBuckets,
  encodePosition,
  encodeShard,
  fullDouble,
  relativeTo,
} from './state-values.js';
import { windowKey } from './windows/assign.js';

export { StateBodyError } from './state-pack.js';

const FORMAT = 2;
type Body = Omit<SensorState, 'sensorId' | 'version' | 'updatedAt' | 'claim'>;
const OWN = new Set(['sensorId', 'version', 'updatedAt', 'claim', 'watermark', 'flushedThrough']);
for (const k of ['applied', 'windows', 'last', 'fired', 'outbox']) OWN.add(k);

/** The body of `state` (without sensorId, version, updatedAt and claim: the item holds those). */
export function encodeStateBody(state: SensorState): string {
  const ctx = new PackContext(state.sensorId);
  const specs: (string | [string, string])[] = [];
  const specIndex = new Map<string, number>();
  const windows: unknown[] = [];
  for (const key in state.windows)
    windows.push(encodeWindow(key, state.windows[key]!, state.watermark, ctx, specs, specIndex));
  const last: unknown[] = [];
  for (const m in state.last) last.push(ctx.nameIndex(m), state.last[m]!);
  const fired: unknown[] = [];
  for (const r in state.fired) fired.push(r, encodeBuckets(state.fired[r]!));
  const applied: unknown[] = [];
  for (const shard in state.applied) applied.push(encodeShard(shard), encodePosition(state.applied[shard]!));
  const rest: Record<string, unknown> = {};
  for (const k in state)
    if (!OWN.has(k) && state[k as keyof SensorState] !== undefined) rest[k] = state[k as keyof SensorState];
  const body: unknown[] = [
    FORMAT,
    state.watermark,
    state.flushedThrough,
    applied,
    ctx.names,
    specs,
    windows,
    last,
    fired,
    encodeOutbox(state.outbox, ctx),
    Object.keys(rest).length > 0 ? pack(rest, ctx) : null,
  ];
  return JSON.stringify(trimTrailing(body, 3));
}

/** The state a body holds (format 2, or the previous release's JSON object). */
export function decodeStateBody(sensorId: string, version: number, body: string): SensorState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new StateBodyError(sensorId, `not JSON (${(err as Error).message})`);
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const rest = parsed as Body;
    if (typeof rest.windows !== 'object' || rest.windows === null || typeof rest.applied !== 'object') {
      throw new StateBodyError(sensorId, 'a format 1 body (an object) without windows and applied');
    }
    reviveSketches(rest.windows);
    return { ...rest, sensorId, version };
  }
  if (!Array.isArray(parsed) || parsed[0] !== FORMAT) {
    throw new StateBodyError(
      sensorId,
      `unknown format ${JSON.stringify(Array.isArray(parsed) ? parsed[0] : parsed)}`,
    );
  }
  return decodeFormat2(sensorId, version, parsed);
}

function decodeFormat2(sensorId: string, version: number, a: unknown[]): SensorState {
  const [
    ,
    watermark,
    flushedThrough,
    applied = [],
    names = [],
    specs = [],
    windows = [],
    last = [],
    fired = [],
  ] = a;
  const ctx = new PackContext(sensorId, list(names, 'names', sensorId) as string[]);
  const state: SensorState = {
    sensorId,
    version,
    watermark: timeOrNull(watermark, ctx),
    flushedThrough: timeOrNull(flushedThrough, ctx),
    applied: {},
    windows: {},
    last: {},
    fired: {},
    outbox: decodeOutbox(a[9], ctx),
  };
  const ap = list(applied, 'applied', sensorId);
  for (let i = 0; i < ap.length; i += 2) {
    const shard = decodeShard(ap[i]) ?? ctx.fail(`not a shard: ${JSON.stringify(ap[i])}`);
    const p = decodePosition(ap[i + 1]) ?? ctx.fail(`not a record position: ${JSON.stringify(ap[i + 1])}`);
    setKey(state.applied, shard, p);
  }
  const sp = list(specs, 'specs', sensorId);
  for (const w of list(windows, 'windows', sensorId)) {
    const [key, open] = decodeWindow(w, sp, state.watermark, ctx);
    setKey(state.windows, key, open);
  }
  const ls = list(last, 'last', sensorId);
  for (let i = 0; i < ls.length; i += 2) setKey(state.last, ctx.name(ls[i]), ls[i + 1]);
  const fd = list(fired, 'fired', sensorId);
  for (let i = 0; i < fd.length; i += 2) setKey(state.fired, String(fd[i]), decodeBuckets(fd[i + 1], ctx));
  if (a[10] !== undefined && a[10] !== null) Object.assign(state, unpack(a[10], ctx));
  return state;
}

function encodeWindow(
  key: string,
  w: OpenWindow,
  watermark: number | null,
  ctx: PackContext,
  specs: (string | [string, string])[],
  specIndex: Map<string, number>,
): unknown[] {
  const specId = `${w.windowType}\u0000${w.spec}`;
  let s = specIndex.get(specId);
  if (s === undefined) {
    s =
      specs.push(w.spec.slice(0, w.spec.indexOf(':')) === w.windowType ? w.spec : [w.spec, w.windowType]) - 1;
    specIndex.set(specId, s);
  }
  const duration = w.end - w.start;
  const extra: Record<string, unknown> = {};
  if (key !== windowKey(w.spec, w.start)) extra.windowKey = key;
  if (w.start + duration !== w.end) extra.windowEnd = w.end;
  if (w.windowSizeMs !== duration) extra.windowSizeMs = w.windowSizeMs;
  for (const k in w) if (!WINDOW_FIELDS.has(k)) extra[k] = w[k as keyof OpenWindow];
  const aggs: unknown[] = [];
  for (const m in w.aggs) aggs.push(encodeAggregate(ctx.nameIndex(m), w.aggs[m]!));
  const out: unknown[] = [
    s,
    relativeTo(w.start, watermark),
    duration,
    aggs,
    w.windowSlideMs ?? null,
    w.windowGapMs ?? null,
  ];
  out.push(Object.keys(extra).length > 0 ? pack(extra, ctx) : null);
  return trimTrailing(out, 4);
}

const WINDOW_FIELDS = new Set([
  'spec',
  'windowType',
  'windowSizeMs',
  'windowSlideMs',
  'windowGapMs',
  'start',
  'end',
  'aggs',
]);

function decodeWindow(
  entry: unknown,
  specs: unknown[],
  watermark: number | null,
  ctx: PackContext,
): [string, OpenWindow] {
  const [s, relativeStart, duration, aggs, slide, gap, extraPacked] = list(entry, 'window', ctx.sensorId);
  const start = absolute(relativeStart, watermark, ctx);
  const spec = specs[s as number];
  const [id, type] =
    typeof spec === 'string' ? [spec, spec.slice(0, spec.indexOf(':'))] : Array.isArray(spec) ? spec : [];
  if (typeof id !== 'string' || typeof type !== 'string')
    return ctx.fail(`window names no spec ${String(s)}`);
  if (typeof start !== 'number' || typeof duration !== 'number')
    return ctx.fail('window without start and length');
  const extra = (extraPacked === undefined || extraPacked === null ? {} : unpack(extraPacked, ctx)) as Record<
    string,
    unknown
  >;
  const { windowKey: key, windowEnd, windowSizeMs, ...unknownFields } = extra;
  const end = (windowEnd as number | undefined) ?? start + duration;
  const w = {
    spec: id,
    windowType: type,
    windowSizeMs: (windowSizeMs as number | undefined) ?? duration,
  } as OpenWindow;
  if (slide !== undefined && slide !== null) w.windowSlideMs = slide as number;
  if (gap !== undefined && gap !== null) w.windowGapMs = gap as number;
  w.start = start;
  w.end = end;
  w.aggs = {};
  for (const agg of list(aggs ?? [], 'aggs', ctx.sensorId)) {
    const [m, aggregate] = decodeAggregate(agg, ctx);
    setKey(w.aggs, m, aggregate);
  }
  Object.assign(w, unknownFields);
  return [(key as string | undefined) ?? windowKey(id, start), w];
}

function encodeAggregate(name: number, a: Aggregate): unknown[] {
  const out: unknown[] = [
    name,
    a.count,
    a.sum.map(compactDouble),
    compactDouble(a.min),
    compactDouble(a.max),
  ];
  if (a.sq || a.q) out.push(a.sq ? a.sq.map(compactDouble) : 0);
  if (a.q) out.push(encodeSketch(a.q));
  return out;
}

function decodeAggregate(entry: unknown, ctx: PackContext): [string, Aggregate] {
  const [name, count, sum, min, max, sq, q] = list(entry, 'aggregate', ctx.sensorId);
  const a: Aggregate = {
    count: count as number,
    sum: list(sum, 'sum', ctx.sensorId).map((x) => fullDoubleOf(x, ctx)),
    min: fullDoubleOf(min, ctx),
    max: fullDoubleOf(max, ctx),
  };
  if (Array.isArray(sq)) a.sq = sq.map((x) => fullDoubleOf(x, ctx));
  if (typeof q === 'string') a.q = storable(decodeSketch(q));
  return [ctx.name(name), a];
}

function encodeOutbox(o: Outbox, ctx: PackContext): unknown[] {
  const items = (xs: readonly unknown[] | undefined) =>
    xs === undefined ? null : xs.map((x) => pack(x, ctx));
  const out = [items(o.results), items(o.alerts), items(o.late), items(o.transitions), items(o.actions)];
  // Absent transitions or actions are null, and only those go; an empty list stays as such.
  while (out.length > 3 && out[out.length - 1] === null) out.pop();
  return out.length === 3 ? trimTrailing(out, 0) : out;
}

function decodeOutbox(packed: unknown, ctx: PackContext): Outbox {
  const [results = [], alerts = [], late = [], transitions, actions] = list(
    packed ?? [],
    'outbox',
    ctx.sensorId,
  );
  const items = (xs: unknown, what: string) => list(xs, what, ctx.sensorId).map((x) => unpack(x, ctx));
  const o = {
    results: items(results, 'results'),
    alerts: items(alerts, 'alerts'),
    late: items(late, 'late'),
  } as Outbox;
  if (transitions !== undefined && transitions !== null)
    o.transitions = items(transitions, 'transitions') as never;
  if (actions !== undefined && actions !== null) o.actions = items(actions, 'actions') as never;
  return o;
}

/** Drops trailing members that are null or empty arrays, keeping at least `keep`. */
function trimTrailing(xs: unknown[], keep: number): unknown[] {
  let n = xs.length;
  while (
    n > keep &&
    (xs[n - 1] === null || (Array.isArray(xs[n - 1]) && (xs[n - 1] as unknown[]).length === 0))
  )
    n--;
  xs.length = n;
  return xs;
}

function list(x: unknown, what: string, sensorId: string): unknown[] {
  if (!Array.isArray(x)) throw new StateBodyError(sensorId, `${what} is not a list`);
  return x;
}

function timeOrNull(x: unknown, ctx: PackContext): number | null {
  if (x === undefined || x === null) return null;
  return typeof x === 'number' ? x : ctx.fail(`expected a time, got ${JSON.stringify(x)}`);
}

function absolute(x: unknown, base: number | null, ctx: PackContext): number {
  return absoluteTime(x, base) ?? ctx.fail(`not a time: ${JSON.stringify(x)}`);
}

function decodeBuckets(x: unknown, ctx: PackContext): number[] {
  return bucketsOf(x) ?? ctx.fail(`not cooldown buckets: ${JSON.stringify(x)}`);
}

function fullDoubleOf(x: unknown, ctx: PackContext): number {
  const d = fullDouble(x);
  return d === undefined ? ctx.fail(`not a number: ${JSON.stringify(x)}`) : (d as number);
}
