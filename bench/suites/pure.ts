/**
 * Suite 1, the pure handler path: records/s of decode + validate + window assignment +
 * fold + rules (bench/pure-path.ts) for batches of 100, 1,000 and 10,000 records, against
 * the tutorial-style per-record baseline (bench/baseline.ts) on the same bytes, in the
 * same process, interleaved run by run.
 *
 * One core: the work is synchronous JavaScript on the main thread, so it never uses more
 * than one core whatever the machine has. Rates are records per second of the process's
 * CPU time (user + system, all threads, so V8's background GC work is charged too), which
 * other processes on the machine do not inflate; wall-clock rates of the same runs are
 * reported beside them.
 *
 * Each measured batch starts from the state a real stream would be in: the sensors' state
 * after folding the preceding `historySeconds` of the same fleet (untimed), so windows are
 * open, some have closed, and the watermark is advanced. Every repetition starts from that
 * same state (the fold copies it; the baseline's mutable maps are copied untimed).
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { DEFAULT_CONFIG, type WindowpaneConfig } from '../../functions/domain/config.js';
import type { SensorState } from '../../functions/domain/state.js';
import { cloneNaiveState, type NaiveState, naiveProcessBatch, newNaiveState } from '../baseline.js';
import type { BenchContext, Headline } from '../context.js';
import { distinctPartitionKeys, fleetRecords, toEvents } from '../data.js';
import { floorProcessBatch } from '../floor.js';
import { foldHistory, runPurePath, runPurePathWithStateJson, stateBody } from '../pure-path.js';
import { collectGarbage, nowMs, round, type Summary, summarize } from '../stats.js';

/** Issue 14's targets: records per CPU-second, and the share of the naive baseline's rate. */
export const PURE_TARGET_RECORDS_PER_SECOND = 400_000;
export const PURE_TARGET_VS_NAIVE = 0.55;
export const PURE_TARGET_BATCH = 10_000;

type Variant = 'pipeline' | 'pipelineWithStateJson' | 'naive' | 'floor';
const VARIANTS: readonly Variant[] = ['pipeline', 'pipelineWithStateJson', 'naive', 'floor'];

export interface PureCaseResult {
  sensors: number;
  rateHz: number;
  batchSize: number;
  historyRecords: number;
  distinctSensorsInBatch: number;
  /** What each side made of the batch: proof both did the work, and where they differ. */
  check: {
    pipeline: { readings: number; invalid: number; late: number; alerts: number; windowsFinalised: number };
    naive: { valid: number; invalid: number; alerts: number };
  };
  /** Records per CPU-second (process CPU time), one sample per run: the headline measure. */
  recordsPerSecond: Record<Variant, Summary>;
  /** Records per wall-clock second, same runs (lower when other work shares the machine). */
  wallClockRecordsPerSecond: Record<Variant, Summary>;
  /** Median CPU milliseconds per batch. */
  msPerBatch: Record<Variant, number>;
  /** Median pipeline rate / median naive rate. */
  pipelineVsNaive: number;
  pipelineWithStateJsonVsNaive: number;
  /** Median pipeline rate / median floor rate (base64 + JSON.parse + one Map fold). */
  pipelineVsFloor: number;
  naiveVsFloor: number;
}

export interface PureSuiteResult {
  singleCore: true;
  warmupMs: number;
  runs: number;
  minSampleMs: number;
  historySeconds: number;
  cases: PureCaseResult[];
  headline: {
    sensors: number;
    batchSize: number;
    recordsPerSecond: number;
    target: number;
    met: boolean;
    pipelineVsNaive: number;
    floorRecordsPerSecond: number;
    pipelineVsFloor: number;
  };
}

interface Settings {
  fleets: number[];
  batchSizes: number[];
  warmupMs: number;
  runs: number;
  minSampleMs: number;
  historySeconds: number;
}

export function pureSettings(quick: boolean): Settings {
  return quick
    ? {
        fleets: [1_000],
        batchSizes: [100, 1_000, 10_000],
        warmupMs: 100,
        runs: 3,
        minSampleMs: 25,
        historySeconds: 20,
      }
    : {
        fleets: [100, 1_000],
        batchSizes: [100, 1_000, 10_000],
        warmupMs: 1_000,
        runs: 7,
        minSampleMs: 250,
        historySeconds: 90,
      };
}

// Results are summed into this so no run's work can be optimised away.
let sink = 0;

interface Prepared {
  event: KinesisStreamEvent;
  prior: Map<string, SensorState>;
  priorBodies: Map<string, { version: number; body: string }>;
  naivePrior: NaiveState;
  historyRecords: number;
}

function prepare(
  sensors: number,
  batchSize: number,
  historySeconds: number,
  config: WindowpaneConfig,
): Prepared {
  // History in whole batches of the measured size, as the stream would have delivered it.
  const historyRecords = Math.max(batchSize, Math.ceil((sensors * historySeconds) / batchSize) * batchSize);
  const records = fleetRecords({ sensors, rateHz: 1 }, historyRecords + batchSize);
  const events = toEvents(records, batchSize);
  const event = events.pop()!;
  const prior = foldHistory(events, config);
  const priorBodies = new Map<string, { version: number; body: string }>();
  for (const [id, s] of prior) priorBodies.set(id, { version: s.version, body: stateBody(s) });
  const naivePrior = newNaiveState();
  for (const e of events) naiveProcessBatch(e, naivePrior, config);
  return { event, prior, priorBodies, naivePrior, historyRecords };
}

interface Sample {
  /** Records per second of process CPU time (user + system, all threads). */
  cpu: number;
  /** Records per second of wall-clock time. */
  wall: number;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1_000;
};

/** Runs one repetition of `variant`, returning its result count (kept in `sink`). */
function runOnce(
  variant: Variant,
  p: Prepared,
  config: WindowpaneConfig,
  naiveState: NaiveState | undefined,
): number {
  if (variant === 'naive') {
    const r = naiveProcessBatch(p.event, naiveState!, config);
    return r.valid + r.alerts.length;
  }
  if (variant === 'floor') return floorProcessBatch(p.event, config.metrics[0]!, new Map());
  if (variant === 'pipeline') {
    const r = runPurePath(p.event, p.prior, config);
    return r.readings + r.alerts;
  }
  const r = runPurePathWithStateJson(p.event, p.priorBodies, config);
  return r.readings + (r.bodies?.size ?? 0);
}

/**
 * One sample: repetitions of the batch until at least `minMs` of measured CPU time. Only
 * the repetition itself is inside the clocks; the baseline's state copy is outside them.
 */
function sample(variant: Variant, p: Prepared, config: WindowpaneConfig, minMs: number): Sample {
  let wall = 0;
  let cpu = 0;
  let reps = 0;
  while (cpu < minMs) {
    // Untimed: the real handler starts from loaded state, so the baseline gets a fresh copy.
    const naiveState = variant === 'naive' ? cloneNaiveState(p.naivePrior) : undefined;
    const c0 = cpuMs();
    const t0 = nowMs();
    sink += runOnce(variant, p, config, naiveState);
    wall += nowMs() - t0;
    cpu += cpuMs() - c0;
    reps++;
  }
  const records = reps * p.event.Records.length * 1_000;
  return { cpu: records / cpu, wall: records / wall };
}

export async function runPureSuite(ctx: BenchContext): Promise<PureSuiteResult> {
  const s = pureSettings(ctx.quick);
  const config = DEFAULT_CONFIG;
  const cases: PureCaseResult[] = [];
  for (const sensors of s.fleets) {
    for (const batchSize of s.batchSizes) {
      ctx.log(`pure: ${sensors} sensors, batches of ${batchSize}: preparing history`);
      const p = prepare(sensors, batchSize, s.historySeconds, config);
      const pipelineOnce = runPurePath(p.event, p.prior, config);
      const naiveOnce = naiveProcessBatch(p.event, cloneNaiveState(p.naivePrior), config);

      // Warm-up: every variant runs until the JIT has settled, interleaved.
      const warmEnd = nowMs() + s.warmupMs * VARIANTS.length;
      while (nowMs() < warmEnd) for (const v of VARIANTS) sample(v, p, config, s.warmupMs / 10);
      collectGarbage();

      const samples: Record<Variant, Sample[]> = {
        pipeline: [],
        pipelineWithStateJson: [],
        naive: [],
        floor: [],
      };
      for (let run = 0; run < s.runs; run++) {
        // Rotate the order so no variant always runs right after another's garbage.
        for (let k = 0; k < VARIANTS.length; k++) {
          const v = VARIANTS[(run + k) % VARIANTS.length]!;
          collectGarbage();
          samples[v].push(sample(v, p, config, s.minSampleMs));
        }
      }
      const rates = {
        pipeline: summarize(samples.pipeline.map((x) => x.cpu)),
        pipelineWithStateJson: summarize(samples.pipelineWithStateJson.map((x) => x.cpu)),
        naive: summarize(samples.naive.map((x) => x.cpu)),
        floor: summarize(samples.floor.map((x) => x.cpu)),
      };
      const wallRates = {
        pipeline: summarize(samples.pipeline.map((x) => x.wall)),
        pipelineWithStateJson: summarize(samples.pipelineWithStateJson.map((x) => x.wall)),
        naive: summarize(samples.naive.map((x) => x.wall)),
        floor: summarize(samples.floor.map((x) => x.wall)),
      };
      const ms = (v: Variant) => round((batchSize * 1_000) / rates[v].median, 3);
      const result: PureCaseResult = {
        sensors,
        rateHz: 1,
        batchSize,
        historyRecords: p.historyRecords,
        distinctSensorsInBatch: distinctPartitionKeys(p.event),
        check: {
          pipeline: {
            readings: pipelineOnce.readings,
            invalid: pipelineOnce.invalid,
            late: pipelineOnce.late,
            alerts: pipelineOnce.alerts,
            windowsFinalised: pipelineOnce.windowsFinalised,
          },
          naive: { valid: naiveOnce.valid, invalid: naiveOnce.invalid, alerts: naiveOnce.alerts.length },
        },
        recordsPerSecond: {
          pipeline: roundSummary(rates.pipeline),
          pipelineWithStateJson: roundSummary(rates.pipelineWithStateJson),
          naive: roundSummary(rates.naive),
          floor: roundSummary(rates.floor),
        },
        wallClockRecordsPerSecond: {
          pipeline: roundSummary(wallRates.pipeline),
          pipelineWithStateJson: roundSummary(wallRates.pipelineWithStateJson),
          naive: roundSummary(wallRates.naive),
          floor: roundSummary(wallRates.floor),
        },
        msPerBatch: {
          pipeline: ms('pipeline'),
          pipelineWithStateJson: ms('pipelineWithStateJson'),
          naive: ms('naive'),
          floor: ms('floor'),
        },
        pipelineVsNaive: round(rates.pipeline.median / rates.naive.median, 3),
        pipelineWithStateJsonVsNaive: round(rates.pipelineWithStateJson.median / rates.naive.median, 3),
        pipelineVsFloor: round(rates.pipeline.median / rates.floor.median, 3),
        naiveVsFloor: round(rates.naive.median / rates.floor.median, 3),
      };
      cases.push(result);
      ctx.log(
        `pure: ${sensors} sensors, batch ${batchSize} (records per CPU-second): pipeline ${fmt(rates.pipeline.median)}, ` +
          `with state JSON ${fmt(rates.pipelineWithStateJson.median)}, naive ${fmt(rates.naive.median)}, ` +
          `floor ${fmt(rates.floor.median)}; ` +
          `pipeline wall-clock ${fmt(wallRates.pipeline.median)}/s`,
      );
    }
  }
  if (sink === -1) ctx.log('unreachable');

  // The headline is the largest fleet at the target batch size (more sensors per batch
  // means more per-sensor work per record, so it is the less flattering fleet).
  const largest = Math.max(...s.fleets);
  const head = cases.find((c) => c.sensors === largest && c.batchSize === PURE_TARGET_BATCH) ?? cases.at(-1)!;
  return {
    singleCore: true,
    warmupMs: s.warmupMs,
    runs: s.runs,
    minSampleMs: s.minSampleMs,
    historySeconds: s.historySeconds,
    cases,
    headline: {
      sensors: head.sensors,
      batchSize: head.batchSize,
      recordsPerSecond: head.recordsPerSecond.pipeline.median,
      target: PURE_TARGET_RECORDS_PER_SECOND,
      met: head.recordsPerSecond.pipeline.median >= PURE_TARGET_RECORDS_PER_SECOND,
      pipelineVsNaive: head.pipelineVsNaive,
      floorRecordsPerSecond: head.recordsPerSecond.floor.median,
      pipelineVsFloor: head.pipelineVsFloor,
    },
  };
}

function roundSummary(s: Summary): Summary {
  return {
    median: round(s.median),
    min: round(s.min),
    max: round(s.max),
    samples: s.samples.map((x) => round(x)),
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function pureHeadlines(r: PureSuiteResult): Headline[] {
  const h = r.headline;
  return [
    {
      suite: 'pure',
      metric: `pure path, ${h.sensors} sensors, ${h.batchSize.toLocaleString('en-US')}-record batches`,
      value: h.recordsPerSecond,
      unit: 'records/s',
      display: `${fmt(h.recordsPerSecond)} rec/CPU-s`,
      target: `>= ${fmt(h.target)} /s on one core`,
      met: h.met,
    },
    {
      suite: 'pure',
      metric: 'pure path vs naive per-record baseline (same batch)',
      value: h.pipelineVsNaive,
      unit: 'x',
      display: `${h.pipelineVsNaive.toFixed(2)}x`,
      target: `>= ${PURE_TARGET_VS_NAIVE}x`,
      met: h.pipelineVsNaive >= PURE_TARGET_VS_NAIVE,
    },
    {
      suite: 'pure',
      metric: 'physical floor (base64 + JSON.parse + one Map fold), same batch',
      value: h.floorRecordsPerSecond,
      unit: 'records/s',
      display: `${fmt(h.floorRecordsPerSecond)} rec/CPU-s (pipeline at ${h.pipelineVsFloor.toFixed(2)}x of it)`,
    },
  ];
}
