/**
 * The sensor fleet simulator: reproducible, shaped like the seed tutorial's producer,
 * and every record is what its `kind` says it is under the SEMANTICS rules.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { decodeReading } from '../../functions/domain/reading.js';
import { newSensorState } from '../../functions/domain/state.js';
import {
  createSimulator,
  PATTERN_CYCLE_MS,
  PATTERN_FAULT_RULES,
  type SimulatedKind,
  type SimulatedRecord,
  type SimulatorOptions,
  SimulatorOptionsError,
  simulate,
} from '../../local/simulator.js';

const METRICS = ['temperature'];
const START = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

function run(options: Partial<SimulatorOptions> & { durationMs: number }): SimulatedRecord[] {
  return [...simulate({ sensors: 3, rateHz: 1, seed: 42, startMs: START, ...options })];
}

/**
 * Replays records through the SEMANTICS definitions (per-sensor watermark, tumbling
 * windows, allowed lateness) and says what each one is, independently of the simulator.
 */
function classify(records: SimulatedRecord[], windowMs: number, latenessMs: number): SimulatedKind[] {
  const watermark = new Map<string, number>();
  return records.map((record) => {
    const result = decodeReading(record.data, METRICS);
    if (!result.ok) return 'malformed';
    const { sensorId, timestamp } = result.reading;
    const end = Math.floor(timestamp / windowMs) * windowMs + windowMs;
    const wm = watermark.get(sensorId) ?? Number.NEGATIVE_INFINITY;
    if (wm >= end + latenessMs) return 'late';
    watermark.set(sensorId, Math.max(wm, timestamp));
    return timestamp < wm ? 'out-of-order' : 'valid';
  });
}

function countKinds(records: SimulatedRecord[]): Record<SimulatedKind, number> {
  const counts: Record<SimulatedKind, number> = { valid: 0, 'out-of-order': 0, late: 0, malformed: 0 };
  for (const r of records) counts[r.kind]++;
  return counts;
}

describe('simulate: reproducible from its seed', () => {
  it('gives the same bytes, keys and kinds for the same seed', () => {
    const a = run({ durationMs: 10 * 60_000, malformedRate: 0.05, lateRate: 0.05, outOfOrderRate: 0.05 });
    const b = run({ durationMs: 10 * 60_000, malformedRate: 0.05, lateRate: 0.05, outOfOrderRate: 0.05 });
    expect(b).toEqual(a);
    expect(a.length).toBeGreaterThan(1_700);
  });

  it('gives different data for a different seed', () => {
    const a = run({ durationMs: 60_000 });
    const b = run({ durationMs: 60_000, seed: 43 });
    const text = (records: SimulatedRecord[]) =>
      records.map((r) => new TextDecoder().decode(r.data)).join('\n');
    expect(text(b)).not.toBe(text(a));
  });
});

describe('simulate: the seed tutorial fleet', () => {
  const records = run({ durationMs: HOUR, sensors: 5 });

  it('names sensors sensor_1..N and uses the sensor id as partition key', () => {
    const keys = new Set(records.map((r) => r.partitionKey));
    expect([...keys].sort()).toEqual(['sensor_1', 'sensor_2', 'sensor_3', 'sensor_4', 'sensor_5']);
    for (const r of records) {
      const result = decodeReading(r.data, METRICS);
      if (result.ok) expect(result.reading.sensorId).toBe(r.partitionKey);
    }
  });

  it('reads 20 °C ± 2, with about 2 % spikes of ±15', () => {
    const temperatures = records.flatMap((r) => {
      const result = decodeReading(r.data, METRICS);
      return result.ok ? [result.reading.values.temperature!] : [];
    });
    const spikes = temperatures.filter((t) => Math.abs(t - 20) > 2);
    for (const t of temperatures) {
      const offset = Math.abs(t - 20);
      expect(offset <= 2 || (offset >= 13 && offset <= 17)).toBe(true);
    }
    expect(spikes.length / temperatures.length).toBeGreaterThan(0.015);
    expect(spikes.length / temperatures.length).toBeLessThan(0.025);
    expect(spikes.some((t) => t > 35)).toBe(true);
    expect(spikes.some((t) => t < 5)).toBe(true);
  });

  it('sends about 10 % of readings with sensor_id and an ISO-8601 timestamp', () => {
    const readings = records
      .filter((r) => r.kind !== 'malformed')
      .map((r) => new TextDecoder().decode(r.data));
    const alias = readings.filter((text) => text.startsWith('{"sensor_id":'));
    expect(alias.length / readings.length).toBeGreaterThan(0.08);
    expect(alias.length / readings.length).toBeLessThan(0.12);
    for (const text of alias)
      expect(JSON.parse(text).timestamp).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:?\d\d)$/);
  });

  it('advances event time by 1000 / rateHz per sensor tick', () => {
    const fast = run({ durationMs: 10_000, rateHz: 4, outOfOrderRate: 0, lateRate: 0, malformedRate: 0 });
    const times = fast.filter((r) => r.partitionKey === 'sensor_2').map((r) => r.eventTimeMs);
    expect(times).toEqual(Array.from({ length: 40 }, (_, k) => START + k * 250));
  });
});

describe('simulate: every record is what its kind says', () => {
  it.each([
    ['default 60 s windows, 10 s lateness, minute-aligned start', {}, 60_000, 10_000],
    [
      '30 s windows, 5 s lateness, unaligned start, 2 Hz',
      { windowMs: 30_000, allowedLatenessMs: 5_000, startMs: START + 12_345, rateHz: 2 },
      30_000,
      5_000,
    ],
    ['zero lateness (no out-of-order possible)', { allowedLatenessMs: 0 }, 60_000, 0],
  ])('%s', (_name, options, windowMs, latenessMs) => {
    const records = run({
      durationMs: HOUR,
      outOfOrderRate: 0.05,
      lateRate: 0.02,
      malformedRate: 0.02,
      ...options,
    });
    expect(classify(records, windowMs, latenessMs)).toEqual(records.map((r) => r.kind));
    const counts = countKinds(records);
    expect(counts.late).toBeGreaterThan(0);
    expect(counts.malformed).toBeGreaterThan(0);
    if (latenessMs >= 1_000) expect(counts['out-of-order']).toBeGreaterThan(0);
    else expect(counts['out-of-order']).toBe(0);
  });

  it('decodes every reading to its partition key and event time', () => {
    const records = run({ durationMs: HOUR, outOfOrderRate: 0.05, lateRate: 0.02, malformedRate: 0.02 });
    for (const r of records.filter((x) => x.kind !== 'malformed')) {
      const result = decodeReading(r.data, METRICS);
      if (!result.ok) expect.fail(`${r.kind} record did not decode: ${result.reason} ${result.detail}`);
      expect(result.reading.sensorId).toBe(r.partitionKey);
      expect(result.reading.timestamp).toBe(r.eventTimeMs);
    }
  });

  it('makes every malformed record invalid for the reason it was built for, covering many reasons', () => {
    const records = run({ durationMs: HOUR, malformedRate: 0.05 });
    const malformed = records.filter((r) => r.kind === 'malformed');
    for (const r of malformed) {
      const result = decodeReading(r.data, METRICS);
      if (result.ok) expect.fail(`malformed record decoded: ${new TextDecoder().decode(r.data)}`);
      expect(result.reason).toBe(r.malformation);
      expect(r.eventTimeMs).toBeUndefined();
    }
    expect(new Set(malformed.map((r) => r.malformation)).size).toBeGreaterThanOrEqual(10);
  });

  it('holds out-of-order readings back by 1 s up to the allowed lateness', () => {
    const records = run({ durationMs: HOUR, outOfOrderRate: 0.05 });
    const delays = records.filter((r) => r.kind === 'out-of-order').map((r) => r.arrivalMs - r.eventTimeMs!);
    expect(delays.length).toBeGreaterThan(0);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...delays)).toBe(10_000);
  });

  it('sends late readings far behind: older than arrival - window - lateness', () => {
    const records = run({ durationMs: HOUR, lateRate: 0.02 });
    const late = records.filter((r) => r.kind === 'late');
    expect(late.length).toBeGreaterThan(0);
    for (const r of late) {
      expect(r.eventTimeMs!).toBeLessThanOrEqual(r.arrivalMs - 60_000 - 10_000 - 1_000);
      expect(r.eventTimeMs!).toBeGreaterThanOrEqual(START);
    }
  });

  it('emits records in arrival order', () => {
    const records = run({ durationMs: HOUR, outOfOrderRate: 0.05, lateRate: 0.02 });
    for (let i = 1; i < records.length; i++) {
      expect(records[i]!.arrivalMs).toBeGreaterThanOrEqual(records[i - 1]!.arrivalMs);
    }
  });
});

describe('simulate: rates over a long run', () => {
  it.each<[string, Partial<SimulatorOptions>]>([
    ['configured', { spikeRate: 0.02, outOfOrderRate: 0.04, lateRate: 0.03, malformedRate: 0.02 }],
    ['defaults', {}],
  ])('%s rates', (_name, rates) => {
    const sensors = 10;
    const durationMs = 4 * HOUR;
    const records = run({ durationMs, sensors, ...rates });
    const ticks = sensors * (durationMs / 1000);
    const counts = countKinds(records);
    const expected = {
      'out-of-order': rates.outOfOrderRate ?? 0.01,
      late: rates.lateRate ?? 0.002,
      malformed: rates.malformedRate ?? 0.002,
    };
    for (const [kind, rate] of Object.entries(expected) as [SimulatedKind, number][]) {
      // Within 20 %: at least ~250 expected events, so a few standard deviations.
      expect(counts[kind] / ticks, kind).toBeGreaterThan(rate * 0.8);
      expect(counts[kind] / ticks, kind).toBeLessThan(rate * 1.2);
    }
    // Every tick of every sensor yields one reading or malformed record, plus the late extras.
    expect(records.length).toBe(ticks + counts.late);
  });
});

describe('createSimulator: the live producer', () => {
  const options = { sensors: 4, rateHz: 2, seed: 7, startMs: START, outOfOrderRate: 0.05, lateRate: 0.02 };

  it('returns what is due by each clock time, the same records simulate gives', () => {
    const live = createSimulator(options);
    const received: SimulatedRecord[] = [];
    let lastNow = START - 5_000;
    for (let now = lastNow; now < START + 10 * 60_000; now += 1_337) {
      const batch = live.next(now);
      for (const r of batch) expect(r.arrivalMs).toBeLessThanOrEqual(now);
      received.push(...batch);
      lastNow = now;
    }
    // Readings held back past lastNow are not due yet; the horizon leaves none pending at its end.
    const expected = [...simulate({ ...options, durationMs: 11 * 60_000 })].filter(
      (r) => r.arrivalMs <= lastNow,
    );
    expect(received.length).toBeGreaterThan(4_000);
    expect(received).toEqual(expected);
  });

  it('returns nothing before the start time', () => {
    expect(createSimulator(options).next(START - 1)).toEqual([]);
  });
});

describe('simulator options', () => {
  it.each([
    [{ sensors: 0 }, /sensors/],
    [{ sensors: 1.5 }, /sensors/],
    [{ rateHz: 0 }, /rateHz/],
    [{ startMs: 1.5 }, /startMs/],
    [{ lateRate: 1.5 }, /lateRate/],
    [{ spikeRate: -0.1 }, /spikeRate/],
    [{ outOfOrderRate: 0.6, malformedRate: 0.6 }, /must not exceed 1/],
    [{ windowMs: 0 }, /windowMs/],
    [{ allowedLatenessMs: -1 }, /allowedLatenessMs/],
    [{ durationMs: -1 }, /durationMs/],
  ])('rejects %o', (bad, message) => {
    expect(() => run({ durationMs: 1_000, ...bad })).toThrow(SimulatorOptionsError);
    expect(() => run({ durationMs: 1_000, ...bad })).toThrow(message);
  });
});

describe('simulate: pattern faults exercise n-of-m, sequence and absence (A-K6..A-K8)', () => {
  const options = { durationMs: 20 * 60_000, sensors: 5 };
  const plain = run(options);
  const faulted = run({ ...options, patternFaults: true });

  it('leave every other sensor byte for byte as without them, and are off by default', () => {
    const others = (records: SimulatedRecord[]) =>
      records.filter((r) => !['sensor_1', 'sensor_2', 'sensor_3'].includes(r.partitionKey));
    expect(others(faulted)).toEqual(others(plain));
    expect(run({ ...options, patternFaults: false })).toEqual(plain);
  });

  it('sensor_3 sends nothing during its silence', () => {
    const phase = (t: number) => (t - START) % PATTERN_CYCLE_MS;
    const quiet = faulted.filter((r) => r.partitionKey === 'sensor_3' && phase(r.arrivalMs) >= 300_000);
    expect(quiet.every((r) => phase(r.arrivalMs) >= 690_000)).toBe(true);
    expect(quiet.length).toBeGreaterThan(0);
  });

  it('folded with PATTERN_FAULT_RULES, each sensor raises its pattern alarm and resolves it', () => {
    const config = parseConfig({ rules: PATTERN_FAULT_RULES });
    const transitions = (sensorId: string) => {
      const records = faulted.flatMap((r, i) => {
        const decoded = decodeReading(r.data, METRICS);
        return r.partitionKey === sensorId && decoded.ok
          ? [
              {
                shardId: 'shardId-0',
                sequence: String(i + 1),
                reading: decoded.reading,
                arrivalMs: r.arrivalMs,
              },
            ]
          : [];
      });
      const folded = foldSensorRecords(newSensorState(sensorId), records, config);
      return (folded.effects.transitions ?? []).map((t) => `${t.rule} ${t.transition}`);
    };
    expect(transitions('sensor_1')).toEqual([
      'burst ALARM',
      'burst RESOLVED',
      'burst ALARM',
      'burst RESOLVED',
    ]);
    expect(transitions('sensor_2')).toEqual([
      'cold-then-hot ALARM',
      'cold-then-hot RESOLVED',
      'cold-then-hot ALARM',
      'cold-then-hot RESOLVED',
    ]);
    expect(transitions('sensor_3')).toEqual(['sensor-silent ALARM', 'sensor-silent RESOLVED']);
  });
});
