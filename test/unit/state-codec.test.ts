/**
 * The state body's encoding (functions/domain/state-codec.ts): format 2 gives back every
 * state it was given (key order included where it is published or relied on: the outbox,
 * rule memory, the LRU order of `applied`, the order of windows), the previous release's
 * JSON bodies still read, and a body that is neither fails with the sensor named.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bodyBytes, stateBody } from '../../functions/domain/bounds.js';
import { alertIdOf, cooldownBucket } from '../../functions/domain/rules.js';
import { sketchSpec } from '../../functions/domain/sketch/sketch.js';
import { storable } from '../../functions/domain/sketch/stored.js';
import type { OpenWindow, SensorState } from '../../functions/domain/state.js';
import { decodeStateBody, encodeStateBody, StateBodyError } from '../../functions/domain/state-codec.js';
import { windowKey } from '../../functions/domain/windows/assign.js';
import { sketchOf } from './sketch-values.js';

/** The previous release's body (bounds.ts stateBody before format 2), as stored today in old items. */
function formatOneBody(state: SensorState): string {
  const { sensorId: _s, version: _v, updatedAt: _u, claim: _c, ...rest } = state;
  return JSON.stringify(rest);
}

const T = Date.UTC(2026, 0, 1);
const name = fc.oneof(
  fc.constantFrom(
    'temperature',
    'too-hot',
    '~',
    '~x',
    '#0',
    'a',
    'count',
    '__proto__',
    '1',
    'shardId-000000000001',
  ),
  fc.string({ maxLength: 12 }),
);
const double = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1000, max: 1000 }).map((i) => i / 100),
  fc.constantFrom(-3.907985046680551e-14, 1207.71, 1e-300, 5e-324, 2 ** 60),
);
const time = fc.oneof(
  fc.integer({ min: T - 1e9, max: T + 1e9 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const sequence = fc.bigInt({ min: 1n, max: 10n ** 80n }).map(String);
const position = fc.oneof(
  sequence,
  fc.tuple(sequence, fc.integer({ min: 1, max: 4_294_967_295 })).map(([s, k]) => `${s}.${k}`),
  fc.constantFrom('0', '007', '12.0', '=5', '~', ''),
);
const shard = fc.oneof(
  fc.integer({ min: 0, max: 999 }).map((n) => `shardId-${String(n).padStart(12, '0')}`),
  name,
);

const aggregate = fc
  .record({
    count: fc.nat(),
    sum: fc.array(double, { maxLength: 4 }),
    min: double,
    max: double,
    sq: fc.option(fc.array(double, { maxLength: 4 }), { nil: undefined }),
    q: fc.option(fc.array(fc.double({ min: 1e-9, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 20 }), {
      nil: undefined,
    }),
  })
  .map(({ q, sq, ...a }) => ({
    ...a,
    ...(sq ? { sq } : {}),
    ...(q ? { q: storable(sketchOf(q, sketchSpec({ accuracy: 0.01 }))) } : {}),
  }));

const openWindow = fc
  .record({
    type: fc.constantFrom('tumbling', 'sliding', 'session', 'odd'),
    size: fc.oneof(fc.constant(60_000), fc.integer({ min: 1, max: 1e7 })),
    start: time,
    slide: fc.option(fc.integer({ min: 1, max: 60_000 }), { nil: undefined }),
    gap: fc.option(fc.integer({ min: 1, max: 60_000 }), { nil: undefined }),
    ownKey: fc.option(name, { nil: undefined }),
    sizeOff: fc.boolean(),
    aggs: fc.dictionary(name, aggregate, { maxKeys: 3 }),
  })
  .map(({ type, size, start, slide, gap, ownKey, sizeOff, aggs }) => {
    const spec = type === 'odd' ? `tumbling:${size}` : `${type}:${size}`;
    const w: OpenWindow = {
      spec,
      windowType: type as OpenWindow['windowType'],
      windowSizeMs: size,
      start,
      end: start + size,
      aggs,
    };
    if (sizeOff) w.windowSizeMs = size + 1;
    if (slide !== undefined) w.windowSlideMs = slide;
    if (gap !== undefined) w.windowGapMs = gap;
    return [ownKey ?? windowKey(spec, start), w] as const;
  });

const alertOf = fc
  .record({
    rule: name,
    ts: time,
    cooldownMs: fc.integer({ min: 1, max: 1e6 }),
    kind: fc.nat(3),
    id: fc.boolean(),
  })
  .map(({ rule, ts, cooldownMs, kind, id }) => (sensorId: string) => {
    const bucket = cooldownBucket(ts, cooldownMs);
    const base = {
      alertId: id ? alertIdOf(sensorId, rule, bucket) : 'not-derived',
      sensorId,
      rule,
      ruleVersion: 0,
      ruleType: kind === 3 ? 'delta' : 'threshold',
      severity: 'critical',
      metric: 'temperature',
      value: 4.21,
      timestamp: ts,
      cooldownBucket: bucket,
      cooldownMs,
      late: false,
    };
    return [base, { ...base, above: 35 }, { ...base, below: 5 }, { ...base, previous: 20.85, maxDelta: 5 }][
      kind
    ]!;
  });

const sensorState = fc
  .record({
    sensorId: fc.oneof(fc.constantFrom('sensor_1', '~', '~~', 'x'.repeat(256)), fc.string({ minLength: 1 })),
    watermark: fc.option(fc.integer({ min: T - 1e9, max: T + 1e9 }), { nil: null }),
    flushedThrough: fc.option(time, { nil: null }),
    applied: fc.dictionary(shard, position, { maxKeys: 3 }),
    windows: fc.array(openWindow, { maxLength: 3 }),
    last: fc.dictionary(name, double, { maxKeys: 3 }),
    fired: fc.dictionary(
      name,
      fc.array(fc.oneof(fc.integer({ min: 29_000_000, max: 30_000_000 }), double), { maxLength: 4 }),
      {
        maxKeys: 3,
      },
    ),
    alerts: fc.array(alertOf, { maxLength: 3 }),
    late: fc.array(fc.record({ seq: sequence, ts: time, own: fc.boolean() }), { maxLength: 2 }),
    transitions: fc.option(fc.array(fc.jsonValue(), { maxLength: 2 }), { nil: undefined }),
    actions: fc.option(fc.array(fc.dictionary(name, fc.jsonValue()), { maxLength: 2 }), { nil: undefined }),
    alarms: fc.option(fc.dictionary(name, fc.record({ st: fc.nat(5), q: fc.nat(), ac: fc.array(name) })), {
      nil: undefined,
    }),
    rs: fc.option(
      fc.dictionary(name, fc.record({ k: name, h: fc.option(time, { nil: null }), s: fc.jsonValue() })),
      {
        nil: undefined,
      },
    ),
    sd: fc.option(time, { nil: undefined }),
  })
  .map((r): SensorState => {
    const missed = {
      windowType: 'tumbling' as const,
      spec: 'tumbling:60000',
      windowStart: T,
      windowEnd: T + 60_000,
    };
    const state: SensorState = {
      sensorId: r.sensorId,
      version: 3,
      watermark: r.watermark,
      flushedThrough: r.flushedThrough,
      applied: r.applied,
      windows: Object.fromEntries(r.windows),
      last: r.last,
      fired: r.fired,
      outbox: {
        results: [
          {
            sensorId: r.sensorId,
            windowKey: windowKey('tumbling:60000', T),
            windowType: 'tumbling',
            windowSizeMs: 60_000,
            windowStart: T,
            windowEnd: T + 60_000,
            metrics: {
              temperature: { count: 3, sum: 60.1, min: 19, max: 21.1, mean: 60.1 / 3, stddev: 1.05 },
            },
          },
        ],
        alerts: r.alerts.map((a) => a(r.sensorId) as never),
        late: r.late.map((l) => ({
          id: `shardId-000000000000:${l.seq}`,
          sensorId: r.sensorId,
          timestamp: l.ts,
          values: { temperature: 3.5 },
          reason: 'window-final' as const,
          windowStart: l.own ? T - 1 : T,
          windowEnd: T + 60_000,
          watermark: r.watermark,
          missedWindows: [missed],
        })),
      },
    };
    if (r.transitions) state.outbox.transitions = r.transitions as never;
    if (r.actions) state.outbox.actions = r.actions as never;
    if (r.alarms) state.alarms = r.alarms as never;
    if (r.rs) state.rs = r.rs;
    if (r.sd !== undefined) state.sd = r.sd;
    return state;
  });

/** What JSON keeps of a state (format 1 stored exactly this), in its key order. */
const asJson = (s: SensorState) => JSON.parse(formatOneBody(s)) as unknown;

describe('state body format 2', () => {
  it('gives back any state it was given, key order included', () => {
    fc.assert(
      fc.property(sensorState, (state) => {
        const back = decodeStateBody(state.sensorId, state.version, encodeStateBody(state));
        expect(back.sensorId).toBe(state.sensorId);
        expect(back.version).toBe(state.version);
        expect(asJson(back)).toEqual(asJson(state));
        // Published as they are (outbox), or read in order (applied: LRU; windows; rule memory).
        expect(JSON.stringify(back.outbox)).toBe(JSON.stringify(state.outbox));
        expect(JSON.stringify(back.rs)).toBe(JSON.stringify(state.rs));
        expect(JSON.stringify(back.alarms)).toBe(JSON.stringify(state.alarms));
        expect(Object.entries(back.applied)).toEqual(Object.entries(state.applied));
        expect(Object.keys(back.windows)).toEqual(Object.keys(state.windows));
        expect(Object.keys(back.fired)).toEqual(Object.keys(state.fired));
        for (const [key, w] of Object.entries(state.windows)) {
          for (const [m, a] of Object.entries(w.aggs)) {
            expect(back.windows[key]!.aggs[m]!.q).toEqual(a.q);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reads a body of the previous release (a JSON object) as the state it held', () => {
    fc.assert(
      fc.property(sensorState, (state) => {
        const old = decodeStateBody(state.sensorId, state.version, formatOneBody(state));
        expect(asJson(old)).toEqual(asJson(state));
        // Written again, it is format 2 and reads back the same.
        const body = stateBody(old);
        expect(body.startsWith('[2,')).toBe(true);
        expect(asJson(decodeStateBody(state.sensorId, state.version, body))).toEqual(asJson(state));
      }),
      { numRuns: 100 },
    );
  });

  it('reads a recorded body of the previous release, and writes it in under half the bytes', () => {
    const recorded =
      '{"watermark":1767225669000,"flushedThrough":null,"applied":{"shardId-000000000000":"49000000000000000000000000000000000000000000000000006905"},"windows":{"tumbling:60000#0001767225660000":{"spec":"tumbling:60000","windowType":"tumbling","windowSizeMs":60000,"start":1767225660000,"end":1767225720000,"aggs":{"temperature":{"count":10,"sum":[-8.881784197001252e-16,-3.552713678800501e-15,187.99],"min":4.21,"max":21.48,"sq":[7.888609052210118e-31,1.1238441288696777e-13,3776.2361]}}}},"last":{"temperature":20.36},"fired":{"too-cold":[29453761],"jump":[29453761]},"outbox":{"results":[],"alerts":[{"alertId":"ac6f05e7771fb442c42a9fa7dce6ccba","sensorId":"sensor_14","rule":"too-cold","ruleVersion":0,"ruleType":"threshold","severity":"critical","metric":"temperature","value":4.21,"timestamp":1767225662000,"cooldownBucket":29453761,"cooldownMs":60000,"late":false,"below":5}],"late":[]}}';
    const state = decodeStateBody('sensor_14', 7, recorded);
    expect(state.applied['shardId-000000000000']).toBe(
      '49000000000000000000000000000000000000000000000000006905',
    );
    expect(state.windows['tumbling:60000#0001767225660000']!.aggs.temperature!.count).toBe(10);
    expect(state.outbox.alerts[0]!.alertId).toBe('ac6f05e7771fb442c42a9fa7dce6ccba');
    const body = stateBody(state);
    expect(formatOneBody(decodeStateBody('sensor_14', 7, body))).toBe(recorded);
    expect(bodyBytes(body)).toBeLessThan(bodyBytes(recorded) / 2);
  });

  it.each([
    ['not JSON', 'garbage', /sensor "s1" cannot be decoded: not JSON/],
    ['JSON null', 'null', /unknown format null/],
    ['another format', '[3,null,null]', /unknown format 3/],
    ['an object without the state', '{"a":1}', /format 1 body \(an object\) without windows/],
    ['a bad position', '[2,null,null,[0,"49"]]', /not a record position: "49"/],
    ['a window naming no spec', '[2,5,null,[],[],[],[[4,0,1,[]]]]', /window names no spec 4/],
    ['an unknown shape', '[2,null,null,[],[],[],[],[],[],[[[99,1]]]]', /unknown shape 99/],
    ['an unknown key', '[2,null,null,[],[],[],[],[],[],[],{"zz":1}]', /unknown key alias "zz"/],
    ['a bad double', '[2,5,null,[],["t"],["tumbling:1"],[[0,0,1,[[0,1,["!!"],1,1]]]]]', /not a number: "!!"/],
  ])('refuses %s with the sensor named', (_what, body, message) => {
    expect(() => decodeStateBody('s1', 1, body)).toThrowError(StateBodyError);
    expect(() => decodeStateBody('s1', 1, body)).toThrowError(message);
  });
});
