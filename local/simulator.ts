/**
 * A deterministic sensor fleet: the producer of the classic Kafka tutorial (sensors
 * `sensor_1..N`, 20 °C ± 2 uniform noise, ~2 % spikes of ±15, one reading per sensor
 * per tick, the sensor id as partition key), plus the disorder a real fleet shows:
 * readings delayed within the allowed lateness, readings so late their window is
 * already final, and malformed records.
 *
 * Everything comes from one seeded PRNG, so a seed and the options fix every byte.
 * `simulate` replays a fixed duration (tests, sample data); `createSimulator` emits what
 * is due by a given clock time (the live `npm start` producer).
 *
 * Rates are per sensor tick. Kinds are guaranteed by construction, given the SEMANTICS
 * rules (per-sensor watermark, tumbling windows of `windowMs`, `allowedLatenessMs`) and
 * per-sensor order preserved in the stream:
 * - `out-of-order`: the tick's reading is held back 1..n ticks, at most the allowed
 *   lateness, and sent after a newer reading of that sensor. Its window ends after its
 *   event time t and the watermark is at most t + lateness when it arrives, so the
 *   window is not final: it is aggregated normally.
 * - `late`: an extra reading sent right after the sensor's on-time reading for tick t,
 *   with event time t - windowMs - allowedLatenessMs - margin (margin >= 1 s). Its
 *   window ends at or before t - allowedLatenessMs - margin, while the watermark is
 *   already t, so the window is final: the reading is late.
 * - `malformed`: replaces the tick's reading with one of a set of bad records, each
 *   built to be invalid for a stated reason (`malformation`).
 *
 * `faults` (none by default, so the bytes above are unchanged) add an offset to one
 * sensor's temperature over an event-time span, for the anomaly rules to find: a `spike`
 * (a plateau of `magnitude` for the span: zscore), a `drift` (0 rising to `magnitude` over
 * the span, then back: ewma) and a `ramp` (the same rise over a few seconds: rate). The
 * offset draws nothing from the PRNG, so every other reading keeps its bytes.
 *
 * With `patternFaults`, three sensors also act out the pattern rules (PATTERN_FAULT_RULES,
 * docs/SEMANTICS.md A-K6..A-K8) once per PATTERN_CYCLE_MS of event time: `sensor_1` a
 * burst above 35, `sensor_2` a cold reading then a hot one, `sensor_3` a silence longer
 * than a sweep interval. They change only those sensors' values and records, never the
 * PRNG's draws, so every other byte is what it is without them.
 */
import type { InvalidReason } from '../functions/domain/reading.js';
import { type Rule, RuleSchema } from '../functions/domain/rules/registry.js';

export interface SimulatorOptions {
  sensors: number;
  /** Readings per second, per sensor. */
  rateHz: number;
  seed: number;
  /** Event time of the first tick, epoch ms. */
  startMs: number;
  /** Fraction of readings with a ±15 °C spike. Default 0.02. */
  spikeRate?: number;
  /** Fraction of readings delayed within the allowed lateness (still on time). Default 0.01. */
  outOfOrderRate?: number;
  /** Fraction of ticks with an extra reading far beyond its window's end + lateness. Default 0.002. */
  lateRate?: number;
  /** Fraction of readings replaced by a malformed record. Default 0.002. */
  malformedRate?: number;
  /** Fraction of readings in the Kafka tutorial format: `sensor_id` and an ISO-8601 timestamp. Default 0.1. */
  useAliasRate?: number;
  /** Tumbling window size the disorder is shaped for. Default 60 000. */
  windowMs?: number;
  /** Allowed lateness the disorder is shaped for. Default 10 000. */
  allowedLatenessMs?: number;
  /** Anomalies added to some sensors' temperatures (see the header). Default none. */
  faults?: readonly SimulatedFault[];
  /** Burst, A-then-B and silence on sensor_1..3 (PATTERN_FAULT_RULES). Default false. */
  patternFaults?: boolean;
}

export type FaultKind = 'spike' | 'drift' | 'ramp';

/** An offset on one sensor's temperature from `startMs` for `durationMs` of event time. */
export interface SimulatedFault {
  kind: FaultKind;
  /** The sensor's id, `sensor_<n>`. */
  sensor: string;
  startMs: number;
  durationMs: number;
  /** °C: the spike's height, the drift's and the ramp's last offset (negative: downwards). */
  magnitude: number;
  /** Repeat every this many ms of event time after `startMs` (at least durationMs); once without. */
  everyMs?: number;
}

/** A fault's offset at event time t: 0 outside its spans. */
export function faultOffset(fault: SimulatedFault, t: number): number {
  let since = t - fault.startMs;
  if (since < 0) return 0;
  if (fault.everyMs !== undefined) since %= fault.everyMs;
  if (since >= fault.durationMs) return 0;
  return fault.kind === 'spike' ? fault.magnitude : (fault.magnitude * since) / fault.durationMs;
}

/** The pattern faults repeat every 15 minutes of event time. */
export const PATTERN_CYCLE_MS = 15 * 60_000;
/** Within a cycle: sensor_1 reads 40 °C for 10 s from 1 min. */
const BURST = { from: 60_000, to: 70_000, value: 40 };
/** sensor_2 reads 2 °C at 2 min, then 38 °C 3 s later. */
const SEQUENCE = { coldAt: 120_000, cold: 2, hotAt: 123_000, hot: 38 };
/**
 * sensor_3 sends nothing for 6.5 min from 5 min: longer than the idle sweeper's 5-minute
 * schedule plus `silentForMs`, so a sweep always sees the silence before it ends.
 */
const SILENCE = { from: 300_000, to: 690_000 };

/** The alarm-mode rules the pattern faults exercise, each scoped to the sensor that acts it out. */
export const PATTERN_FAULT_RULES: readonly Rule[] = [
  {
    name: 'burst',
    type: 'n-of-m',
    metric: 'temperature',
    above: 35,
    count: 5,
    withinMs: 10_000,
    severity: 'warning',
    scope: { sensor: 'sensor_1' },
  },
  {
    name: 'cold-then-hot',
    type: 'sequence',
    metric: 'temperature',
    first: { below: 5 },
    // biome-ignore lint/suspicious/noThenProperty: the sequence kind's field (A-K7), a plain object.
    then: { above: 35 },
    withinMs: 10_000,
    severity: 'warning',
    scope: { sensor: 'sensor_2' },
  },
  {
    name: 'sensor-silent',
    type: 'absence',
    metric: 'temperature',
    silentForMs: 60_000,
    severity: 'critical',
    scope: { sensor: 'sensor_3' },
  },
].map((r) => RuleSchema.parse(r));

export type SimulatedKind = 'valid' | 'out-of-order' | 'late' | 'malformed';

export interface SimulatedRecord {
  partitionKey: string;
  data: Uint8Array;
  /** For tests and reports: what the record was built to be. */
  kind: SimulatedKind;
  /** Event time of the reading (absent for malformed records). */
  eventTimeMs?: number;
  /** Clock time at which the record is due to be sent. */
  arrivalMs: number;
  /** For malformed records: the reason decodeReading is expected to give. */
  malformation?: InvalidReason;
}

export class SimulatorOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulatorOptionsError';
  }
}

export const SIMULATOR_DEFAULTS = {
  spikeRate: 0.02,
  outOfOrderRate: 0.01,
  lateRate: 0.002,
  malformedRate: 0.002,
  useAliasRate: 0.1,
  windowMs: 60_000,
  allowedLatenessMs: 10_000,
} as const;

// The seed tutorial's sensor: base 20 °C, uniform noise in [-2, 2], spikes of ±15.
const BASE_TEMPERATURE = 20;
const NOISE = 2;
const SPIKE = 15;
/** Smallest distance by which a late reading misses its window's end + lateness. */
const LATE_MIN_MARGIN_MS = 1_000;
/** Zones used by readings with ISO timestamps, to exercise offset parsing downstream. */
const ISO_ZONES = ['Z', '+00:00', '+01:00', '-05:00', '+05:30', '+0900', '-0330'] as const;

type ResolvedOptions = Required<SimulatorOptions>;
const FAULT_KINDS: readonly FaultKind[] = ['spike', 'drift', 'ramp'];

interface PendingReading {
  sensor: number;
  dueTick: number;
  eventTimeMs: number;
  data: Uint8Array;
}

/** Streaming simulator: `next(nowMs)` returns every record due at or before `nowMs`. */
export interface Simulator {
  next(nowMs: number): SimulatedRecord[];
}

export function createSimulator(options: SimulatorOptions): Simulator {
  const fleet = new Fleet(resolve(options));
  return {
    next(nowMs: number): SimulatedRecord[] {
      const out: SimulatedRecord[] = [];
      while (fleet.nextTickMs() <= nowMs) fleet.tick(out);
      return out;
    },
  };
}

/**
 * Every record of `durationMs` of event time, in emission (arrival) order. Readings
 * still held back when the duration ends are sent after the last tick.
 */
export function* simulate(options: SimulatorOptions & { durationMs: number }): Generator<SimulatedRecord> {
  if (!(Number.isFinite(options.durationMs) && options.durationMs >= 0)) {
    throw new SimulatorOptionsError(`durationMs must be a non-negative number, got ${options.durationMs}`);
  }
  const resolved = resolve(options);
  const fleet = new Fleet(resolved);
  const endMs = resolved.startMs + options.durationMs;
  const out: SimulatedRecord[] = [];
  while (fleet.nextTickMs() < endMs) {
    fleet.tick(out);
    yield* out;
    out.length = 0;
  }
  fleet.drain(out);
  yield* out;
}

function resolve(options: SimulatorOptions): ResolvedOptions {
  const d = SIMULATOR_DEFAULTS;
  const o: ResolvedOptions = {
    sensors: options.sensors,
    rateHz: options.rateHz,
    seed: options.seed,
    startMs: options.startMs,
    spikeRate: options.spikeRate ?? d.spikeRate,
    outOfOrderRate: options.outOfOrderRate ?? d.outOfOrderRate,
    lateRate: options.lateRate ?? d.lateRate,
    malformedRate: options.malformedRate ?? d.malformedRate,
    useAliasRate: options.useAliasRate ?? d.useAliasRate,
    windowMs: options.windowMs ?? d.windowMs,
    allowedLatenessMs: options.allowedLatenessMs ?? d.allowedLatenessMs,
    faults: options.faults ?? [],
    patternFaults: options.patternFaults ?? false,
  };
  if (!Number.isInteger(o.sensors) || o.sensors < 1) {
    throw new SimulatorOptionsError(`sensors must be a positive integer, got ${o.sensors}`);
  }
  if (!(Number.isFinite(o.rateHz) && o.rateHz > 0 && o.rateHz <= 1000)) {
    throw new SimulatorOptionsError(`rateHz must be in (0, 1000], got ${o.rateHz}`);
  }
  if (!Number.isFinite(o.seed)) throw new SimulatorOptionsError(`seed must be a number, got ${o.seed}`);
  if (!Number.isInteger(o.startMs)) {
    throw new SimulatorOptionsError(`startMs must be integer epoch ms, got ${o.startMs}`);
  }
  for (const key of ['spikeRate', 'outOfOrderRate', 'lateRate', 'malformedRate', 'useAliasRate'] as const) {
    const rate = o[key];
    if (!(rate >= 0 && rate <= 1)) throw new SimulatorOptionsError(`${key} must be in [0, 1], got ${rate}`);
  }
  if (o.outOfOrderRate + o.malformedRate > 1) {
    throw new SimulatorOptionsError('outOfOrderRate + malformedRate must not exceed 1');
  }
  if (!(Number.isInteger(o.windowMs) && o.windowMs > 0)) {
    throw new SimulatorOptionsError(`windowMs must be a positive integer, got ${o.windowMs}`);
  }
  if (!(Number.isInteger(o.allowedLatenessMs) && o.allowedLatenessMs >= 0)) {
    throw new SimulatorOptionsError(
      `allowedLatenessMs must be a non-negative integer, got ${o.allowedLatenessMs}`,
    );
  }
  o.faults.forEach((f, i) => {
    const at = `faults[${i}]`;
    if (!FAULT_KINDS.includes(f.kind))
      throw new SimulatorOptionsError(`${at}.kind must be one of ${FAULT_KINDS.join(', ')}, got ${f.kind}`);
    if (!/^sensor_[1-9]\d*$/.test(f.sensor))
      throw new SimulatorOptionsError(`${at}.sensor must be a simulated id sensor_<n>, got ${f.sensor}`);
    if (!Number.isInteger(f.startMs))
      throw new SimulatorOptionsError(`${at}.startMs must be integer epoch ms`);
    if (!(Number.isInteger(f.durationMs) && f.durationMs > 0))
      throw new SimulatorOptionsError(`${at}.durationMs must be a positive integer, got ${f.durationMs}`);
    if (!(Number.isFinite(f.magnitude) && Math.abs(f.magnitude) <= 1_000))
      throw new SimulatorOptionsError(
        `${at}.magnitude must be a number of at most 1000 °C, got ${f.magnitude}`,
      );
    if (f.everyMs !== undefined && !(Number.isInteger(f.everyMs) && f.everyMs >= f.durationMs))
      throw new SimulatorOptionsError(
        `${at}.everyMs must be an integer of at least durationMs, got ${f.everyMs}`,
      );
  });
  return o;
}

class Fleet {
  private readonly random: () => number;
  private readonly periodMs: number;
  private readonly ids: string[];
  /** Largest event time sent so far per sensor (its watermark, if all are accepted). */
  private readonly sent: number[];
  private readonly pending: PendingReading[] = [];
  private readonly encoder = new TextEncoder();
  private k = 0;

  constructor(private readonly o: ResolvedOptions) {
    this.random = mulberry32(o.seed);
    this.periodMs = 1000 / o.rateHz;
    this.ids = Array.from({ length: o.sensors }, (_, i) => `sensor_${i + 1}`);
    this.sent = this.ids.map(() => Number.NEGATIVE_INFINITY);
  }

  nextTickMs(): number {
    return this.tickMs(this.k);
  }

  /** Appends the records of the next tick, in the order they are sent. */
  tick(out: SimulatedRecord[]): void {
    const k = this.k++;
    const t = this.tickMs(k);
    for (let s = 0; s < this.ids.length; s++) {
      const id = this.ids[s]!;
      // A silent sensor's records are built (the same draws) and not sent.
      const silent = this.isSilent(s, t);
      const u = this.random();
      if (u < this.o.malformedRate) {
        const bad = this.malformed(id, t);
        if (!silent) out.push(bad);
      } else if (u < this.o.malformedRate + this.o.outOfOrderRate && this.maxDelayTicks(k) >= 1) {
        const dueTick = k + 1 + Math.floor(this.random() * this.maxDelayTicks(k));
        this.pending.push({ sensor: s, dueTick, eventTimeMs: t, data: this.reading(id, t, s) });
      } else {
        const data = this.reading(id, t, s);
        if (!silent) out.push(this.send(s, t, data, t));
        const late = this.lateEventTime(t);
        if (late !== undefined) {
          const lateData = this.reading(id, late, s);
          if (!silent) out.push(this.send(s, late, lateData, t, 'late'));
        }
      }
      this.releaseDue(s, k, t, out, silent);
    }
  }

  /** Appends every reading still held back, in due order, as if sent after the last tick. */
  drain(out: SimulatedRecord[]): void {
    this.pending.sort((a, b) => a.dueTick - b.dueTick || a.sensor - b.sensor);
    for (const p of this.pending) {
      out.push(this.send(p.sensor, p.eventTimeMs, p.data, this.tickMs(p.dueTick)));
    }
    this.pending.length = 0;
  }

  private tickMs(k: number): number {
    return this.o.startMs + Math.round(k * this.periodMs);
  }

  /**
   * Largest delay in ticks that keeps a held-back reading within the allowed lateness
   * of its own event time t. Its window ends after t, so finality needs a watermark
   * above t + lateness, and no reading of that sensor sent by then is newer than the
   * arrival time.
   */
  private maxDelayTicks(k: number): number {
    let j = Math.floor(this.o.allowedLatenessMs / this.periodMs);
    while (j >= 1 && this.tickMs(k + j) - this.tickMs(k) > this.o.allowedLatenessMs) j--;
    return j;
  }

  /** Event time for an extra late reading at tick time t, or undefined for none. */
  private lateEventTime(t: number): number | undefined {
    if (this.o.lateRate === 0 || this.random() >= this.o.lateRate) return undefined;
    const newest = t - this.o.windowMs - this.o.allowedLatenessMs - LATE_MIN_MARGIN_MS;
    // Only late for windows the sensor actually had: never before the first tick.
    if (newest < this.o.startMs) return undefined;
    const spread = Math.min(this.o.windowMs, newest - this.o.startMs);
    return newest - Math.floor(this.random() * (spread + 1));
  }

  private releaseDue(
    sensor: number,
    k: number,
    arrivalMs: number,
    out: SimulatedRecord[],
    silent = false,
  ): void {
    for (let i = 0; i < this.pending.length; ) {
      const p = this.pending[i]!;
      if (p.sensor === sensor && p.dueTick === k) {
        if (!silent) out.push(this.send(sensor, p.eventTimeMs, p.data, arrivalMs));
        this.pending.splice(i, 1);
      } else {
        i++;
      }
    }
  }

  private send(
    sensor: number,
    eventTimeMs: number,
    data: Uint8Array,
    arrivalMs: number,
    kind?: 'late',
  ): SimulatedRecord {
    const previous = this.sent[sensor]!;
    const resolvedKind: SimulatedKind = kind ?? (eventTimeMs < previous ? 'out-of-order' : 'valid');
    if (eventTimeMs > previous) this.sent[sensor] = eventTimeMs;
    return { partitionKey: this.ids[sensor]!, data, kind: resolvedKind, eventTimeMs, arrivalMs };
  }

  private temperature(): number {
    let value = BASE_TEMPERATURE + (this.random() * 2 - 1) * NOISE;
    if (this.random() < this.o.spikeRate) value += this.random() < 0.5 ? SPIKE : -SPIKE;
    return Math.round(value * 100) / 100;
  }

  /** Within the pattern cycle, where event time `t` is. */
  private phase(t: number): number {
    return (((t - this.o.startMs) % PATTERN_CYCLE_MS) + PATTERN_CYCLE_MS) % PATTERN_CYCLE_MS;
  }

  private isSilent(sensor: number, t: number): boolean {
    if (!this.o.patternFaults || sensor !== 2) return false;
    const p = this.phase(t);
    return p >= SILENCE.from && p < SILENCE.to;
  }

  /** The value a pattern fault gives sensor `sensor` at event time `t`, if any. */
  private faultValue(sensor: number, t: number): number | undefined {
    if (!this.o.patternFaults) return undefined;
    const p = this.phase(t);
    if (sensor === 0 && p >= BURST.from && p < BURST.to) return BURST.value;
    // The first tick at or after each moment, whatever the rate.
    if (sensor === 1 && p >= SEQUENCE.coldAt && p < SEQUENCE.coldAt + this.periodMs) return SEQUENCE.cold;
    if (sensor === 1 && p >= SEQUENCE.hotAt && p < SEQUENCE.hotAt + this.periodMs) return SEQUENCE.hot;
    return undefined;
  }

  private reading(id: string, eventTimeMs: number, sensor = -1): Uint8Array {
    // Drawn whatever the fault, so the PRNG's sequence does not depend on the faults.
    let drawn = this.temperature();
    for (const f of this.o.faults)
      if (f.sensor === id) drawn = Math.round((drawn + faultOffset(f, eventTimeMs)) * 100) / 100;
    const temperature = this.faultValue(sensor, eventTimeMs) ?? drawn;
    if (this.random() < this.o.useAliasRate) {
      const zone = ISO_ZONES[Math.floor(this.random() * ISO_ZONES.length)]!;
      return this.encode({ sensor_id: id, temperature, timestamp: isoWithZone(eventTimeMs, zone) });
    }
    return this.encode({ sensorId: id, temperature, timestamp: eventTimeMs });
  }

  private malformed(id: string, t: number): SimulatedRecord {
    const variant = MALFORMED[Math.floor(this.random() * MALFORMED.length)]!;
    const text = variant.build(id, t, this.temperature(), this.random);
    return {
      partitionKey: id,
      data: this.encoder.encode(text),
      kind: 'malformed',
      arrivalMs: t,
      malformation: variant.reason,
    };
  }

  private encode(value: unknown): Uint8Array {
    return this.encoder.encode(JSON.stringify(value));
  }
}

interface MalformedVariant {
  reason: InvalidReason;
  /** One line of text (no newline), so every record fits a JSONL file. */
  build(id: string, t: number, temperature: number, random: () => number): string;
}

/** Bad records seen from real producers, each invalid for exactly one stated reason. */
const MALFORMED: readonly MalformedVariant[] = [
  {
    reason: 'not-json',
    // Cut off mid-write: a proper prefix of an object is never valid JSON.
    build: (id, t, temperature, random) => {
      const full = JSON.stringify({ sensorId: id, temperature, timestamp: t });
      return full.slice(0, 1 + Math.floor(random() * (full.length - 1)));
    },
  },
  { reason: 'not-json', build: (id, _t, temperature) => `${id} temperature=${temperature}C status=ok` },
  {
    reason: 'non-finite-number',
    // Python's json.dumps(float('nan')): spaces after separators, bare NaN.
    build: (id, t) => `{"sensor_id": "${id}", "temperature": NaN, "timestamp": ${t}}`,
  },
  {
    reason: 'invalid-metric',
    build: (id, t, temperature) =>
      JSON.stringify({ sensorId: id, temperature: temperature.toFixed(2), timestamp: t }),
  },
  {
    reason: 'invalid-metric',
    build: (id, t) => JSON.stringify({ sensorId: id, temperature: null, timestamp: t }),
  },
  {
    reason: 'invalid-metric',
    build: (id, t) => `{"sensorId":"${id}","temperature":1e999,"timestamp":${t}}`,
  },
  {
    reason: 'no-metric',
    build: (id, t) => JSON.stringify({ sensorId: id, status: 'probe disconnected', timestamp: t }),
  },
  {
    reason: 'missing-sensor-id',
    build: (_id, t, temperature) => JSON.stringify({ temperature, timestamp: t }),
  },
  {
    reason: 'missing-timestamp',
    build: (id, _t, temperature) => JSON.stringify({ sensorId: id, temperature }),
  },
  {
    reason: 'invalid-timestamp',
    // Python's naive datetime.isoformat(): no zone.
    build: (id, t, temperature) =>
      JSON.stringify({ sensor_id: id, temperature, timestamp: new Date(t).toISOString().slice(0, -1) }),
  },
  {
    reason: 'invalid-timestamp',
    build: (id, t, temperature) =>
      JSON.stringify({ sensorId: id, temperature, timestamp: new Date(t).toUTCString() }),
  },
  {
    reason: 'invalid-timestamp',
    build: (id, t, temperature) => JSON.stringify({ sensorId: id, temperature, timestamp: String(t) }),
  },
  {
    reason: 'conflicting-sensor-id',
    build: (id, t, temperature) =>
      JSON.stringify({ sensorId: id, sensor_id: `${id}_old`, temperature, timestamp: t }),
  },
  {
    reason: 'invalid-sensor-id',
    build: (_id, t, temperature) => JSON.stringify({ sensorId: 0, temperature, timestamp: t }),
  },
  {
    reason: 'not-object',
    build: (id, t, temperature) => JSON.stringify([{ sensorId: id, temperature, timestamp: t }]),
  },
];

/** The instant `ms` as local time at the given zone, ISO-8601 with that zone, ms precision. */
function isoWithZone(ms: number, zone: string): string {
  if (zone === 'Z') return new Date(ms).toISOString();
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (m === null) throw new SimulatorOptionsError(`zone must be Z or ±hh:mm / ±hhmm, got ${zone}`);
  const offsetMinutes = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  return new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1) + zone;
}

/** mulberry32: a tiny, fast 32-bit PRNG; good enough for test data, fully reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
