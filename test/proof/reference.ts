/**
 * A small reference implementation of docs/SEMANTICS.md written for the tests (it shares no
 * code with the pipeline): parse, per-sensor arrival order, watermark, allowed lateness,
 * tumbling windows, threshold and delta rules with cooldown buckets, flush at the end, and
 * the ALARM / RESOLVED transitions of threshold rules in mode alarm (A-E2, A-K1, A-L2,
 * A-L3: event-time high-water mark, hysteresis by `clear` and `clearAfter`).
 * Given the input lines in file order (each sensor's arrival order, since replay keys
 * records by sensor id), it computes what a replay must output. Used by the replay tests
 * and the chaos proof suite.
 */
import type { WindowpaneConfig } from '../../functions/domain/config.js';

export type Parsed =
  | { ok: true; sensorId: string; ts: number; values: Record<string, number> }
  | { ok: false; reason: string };

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):?(\d{2}))$/;

export function isoToMs(text: string): number | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const frac = m[7] ? Math.round(Number(`0${m[7]}`) * 1000) : 0;
  const utc = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, frac);
  if (m[8] === 'Z') return utc;
  const offset = (Number(m[10]) * 60 + Number(m[11])) * 60_000;
  return m[9] === '+' ? utc - offset : utc + offset;
}

export function parseLine(line: string, metrics: readonly string[]): Parsed {
  if (line.trim() === '') return { ok: false, reason: 'empty' };
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, reason: /:\s*-?(NaN|Infinity)\b/.test(line) ? 'non-finite-number' : 'not-json' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'not-object' };
  const o = v as Record<string, unknown>;
  if (o.sensorId !== undefined && o.sensor_id !== undefined && o.sensorId !== o.sensor_id) {
    return { ok: false, reason: 'conflicting-sensor-id' };
  }
  const sensorId = o.sensorId ?? o.sensor_id;
  if (sensorId === undefined) return { ok: false, reason: 'missing-sensor-id' };
  if (typeof sensorId !== 'string' || sensorId === '' || [...sensorId].length > 256) {
    return { ok: false, reason: 'invalid-sensor-id' };
  }
  if (o.timestamp === undefined) return { ok: false, reason: 'missing-timestamp' };
  const ts =
    typeof o.timestamp === 'number' && Number.isFinite(o.timestamp)
      ? o.timestamp
      : typeof o.timestamp === 'string'
        ? isoToMs(o.timestamp)
        : undefined;
  if (ts === undefined) return { ok: false, reason: 'invalid-timestamp' };
  const values: Record<string, number> = {};
  for (const metric of metrics) {
    if (!(metric in o)) continue;
    const value = o[metric];
    if (typeof value !== 'number' || !Number.isFinite(value)) return { ok: false, reason: 'invalid-metric' };
    values[metric] = value;
  }
  if (Object.keys(values).length === 0) return { ok: false, reason: 'no-metric' };
  return { ok: true, sensorId, ts, values };
}

export interface Expected {
  windows: { sensorId: string; metric: string; windowStart: number; values: number[] }[];
  alerts: {
    sensorId: string;
    rule: string;
    metric: string;
    value: number;
    timestamp: number;
    late: boolean;
  }[];
  late: { line: number; sensorId: string; timestamp: number }[];
  invalid: { line: number; reason: string; data: string }[];
  /** Per sensor, rule and seq; only ALARM and RESOLVED (the reference has no actions or latch). */
  transitions: {
    sensorId: string;
    rule: string;
    seq: number;
    transition: 'ALARM' | 'RESOLVED';
    at: number;
    line: number;
  }[];
}

type ThresholdAlarmRule = {
  name: string;
  metric: string;
  above?: number;
  below?: number;
  clear?: { below?: number; above?: number };
  clearAfter?: number;
};

interface AlarmTrack {
  active: boolean;
  /** The largest event time evaluated (A-E2). */
  mark: number | null;
  normals: number;
  seq: number;
}

export function reference(lines: Buffer[], cfg: WindowpaneConfig): Expected {
  const sizes = cfg.windows.map((w) => {
    if (w.type !== 'tumbling') throw new Error('the reference implementation knows tumbling windows only');
    return w.sizeMs;
  });
  const expected: Expected = { windows: [], alerts: [], late: [], invalid: [], transitions: [] };
  const alertRules = cfg.rules.filter((r) => (r.mode ?? 'alert') === 'alert');
  const alarmRules = cfg.rules
    .filter((r) => r.mode === 'alarm')
    .map((r) => {
      if (r.type !== 'threshold' || r.latch || r.startDisabled) {
        throw new Error(`the reference implementation knows plain threshold alarms only, not ${r.name}`);
      }
      return r as ThresholdAlarmRule;
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  interface Sensor {
    watermark: number | null;
    windows: Map<string, { metric: string; size: number; start: number; values: number[] }>;
    previous: Map<string, number>;
    fired: Set<string>;
    alarms: Map<string, AlarmTrack>;
  }
  const sensors = new Map<string, Sensor>();
  // The file order is each sensor's arrival order (replay keys records by sensor id).
  lines.forEach((bytes, i) => {
    const parsed = parseLine(bytes.toString('utf8'), cfg.metrics);
    if (!parsed.ok) {
      expected.invalid.push({ line: i + 1, reason: parsed.reason, data: bytes.toString('base64') });
      return;
    }
    let s = sensors.get(parsed.sensorId);
    if (!s) {
      s = { watermark: null, windows: new Map(), previous: new Map(), fired: new Set(), alarms: new Map() };
      sensors.set(parsed.sensorId, s);
    }
    const { ts } = parsed;
    // Late: its window was final (watermark >= end + lateness) before it arrived.
    const late = sizes.some((size) => {
      const end = Math.floor(ts / size) * size + size;
      return s.watermark !== null && s.watermark >= end + cfg.allowedLatenessMs;
    });
    for (const [metric, value] of Object.entries(parsed.values)) {
      const previous = s.previous.get(metric);
      for (const rule of alertRules.filter((r) => r.metric === metric)) {
        const fires =
          rule.type === 'threshold'
            ? (rule.above !== undefined && value > rule.above) ||
              (rule.below !== undefined && value < rule.below)
            : rule.type === 'delta'
              ? previous !== undefined && Math.abs(value - previous) > rule.maxDelta
              : false; // the anomaly and pattern kinds run in alarm mode only: they never alert
        const bucket = `${rule.name}|${Math.floor(ts / rule.cooldownMs)}`;
        if (fires && !s.fired.has(bucket)) {
          s.fired.add(bucket);
          expected.alerts.push({
            sensorId: parsed.sensorId,
            rule: rule.name,
            metric,
            value,
            timestamp: ts,
            late,
          });
        }
      }
      s.previous.set(metric, value);
    }
    // Alarm-mode rules after the alert-mode ones, in name order, late readings included.
    for (const rule of alarmRules) {
      const value = parsed.values[rule.metric];
      if (value === undefined) continue;
      const a = s.alarms.get(rule.name) ?? { active: false, mark: null, normals: 0, seq: 0 };
      s.alarms.set(rule.name, a);
      const older = a.mark !== null && ts < a.mark;
      if (!older) a.mark = ts;
      const breach =
        (rule.above !== undefined && value > rule.above) || (rule.below !== undefined && value < rule.below);
      const normal =
        !breach &&
        (rule.clear?.below === undefined || value < rule.clear.below) &&
        (rule.clear?.above === undefined || value > rule.clear.above);
      const emit = (transition: 'ALARM' | 'RESOLVED') =>
        expected.transitions.push({
          sensorId: parsed.sensorId,
          rule: rule.name,
          seq: ++a.seq,
          transition,
          at: ts,
          line: i + 1,
        });
      if (breach) {
        a.normals = 0;
        if (!a.active) {
          a.active = true;
          emit('ALARM');
        }
      } else if (older) {
        // An older reading may raise, never count towards clearing: it changes nothing.
      } else if (!normal) {
        a.normals = 0; // the band between the bound and the clear bound restarts the count
      } else if (a.active && ++a.normals >= (rule.clearAfter ?? 1)) {
        a.active = false;
        a.normals = 0;
        emit('RESOLVED');
      }
    }
    if (late) {
      expected.late.push({ line: i + 1, sensorId: parsed.sensorId, timestamp: ts });
      return;
    }
    for (const size of sizes) {
      const start = Math.floor(ts / size) * size;
      for (const [metric, value] of Object.entries(parsed.values)) {
        const key = `${size}|${start}|${metric}`;
        const w = s.windows.get(key) ?? { metric, size, start, values: [] };
        w.values.push(value);
        s.windows.set(key, w);
      }
    }
    if (s.watermark === null || ts > s.watermark) s.watermark = ts;
  });
  // Every window that got a reading is final by the end (the flush closes the open ones).
  for (const [sensorId, s] of sensors) {
    for (const w of s.windows.values()) {
      expected.windows.push({ sensorId, metric: w.metric, windowStart: w.start, values: w.values });
    }
  }
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  expected.windows.sort(
    (a, b) => order(a.sensorId, b.sensorId) || a.windowStart - b.windowStart || order(a.metric, b.metric),
  );
  expected.transitions.sort(
    (a, b) => order(a.sensorId, b.sensorId) || order(a.rule, b.rule) || a.seq - b.seq,
  );
  expected.alerts.sort(
    (a, b) => a.timestamp - b.timestamp || order(a.sensorId, b.sensorId) || order(a.rule, b.rule),
  );
  return expected;
}

/** Each expected window as `[sensorId, windowStart, count, sum, min, max]` (values exact in doubles). */
export function windowRows(expected: Expected): [string, number, number, number, number, number][] {
  return expected.windows.map((w) => [
    w.sensorId,
    w.windowStart,
    w.values.length,
    w.values.reduce((a, b) => a + b, 0),
    Math.min(...w.values),
    Math.max(...w.values),
  ]);
}
