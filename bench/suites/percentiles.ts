/**
 * Suite `percentiles` (issue 17): what window percentiles cost the handler's pure path,
 * percentiles off against on in the same run, on the same batch.
 *
 * - off: `runPurePathWithStateJson` (decode, validate, fold, rules, state JSON) with the
 *   default configuration, which has no percentiles;
 * - on: the same with `percentiles: [0.5, 0.9, 0.99]` (default accuracy and bucket limit):
 *   every open window keeps a sketch, stored as its text in the state body, and every
 *   window that becomes final reports three percentiles.
 * Each variant starts from the history folded under its own configuration, and the two
 * are sampled alternately, so a change in the machine's load falls on both. Reported: records
 * per CPU-second and their ratio, the sketch's bytes per open window (its stored form in
 * the state body), and the state body per sensor (the bulk of a state item) in both.
 * The ratios, not the absolute rates, are the result: the machine is shared.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { DEFAULT_CONFIG, parseConfig, type WindowpaneConfig } from '../../functions/domain/config.js';
import type { BenchContext, Headline } from '../context.js';
import { fleetRecords, toEvents } from '../data.js';
import { foldHistory, runPurePathWithStateJson, stateBody } from '../pure-path.js';
import { collectGarbage, round, type Summary, summarize } from '../stats.js';

export const PERCENTILES_MEASURED = [0.5, 0.9, 0.99];

interface Settings {
  sensors: number;
  batchSize: number;
  historySeconds: number;
  warmups: number;
  samples: number;
  minSampleMs: number;
}

/**
 * 125 s of history and a 10 s batch (of 1 Hz sensors) end at 135 s of event time: the batch
 * moves the watermark past 130 s, so the 60 s windows [60 s, 120 s) become final in it (with
 * the default 10 s lateness) and their percentiles are estimated in the measured work.
 */
export function percentilesSettings(quick: boolean): Settings {
  return quick
    ? { sensors: 200, batchSize: 2_000, historySeconds: 125, warmups: 1, samples: 3, minSampleMs: 40 }
    : { sensors: 1_000, batchSize: 10_000, historySeconds: 125, warmups: 3, samples: 9, minSampleMs: 300 };
}

export interface StateSize {
  /** State body characters per sensor after the measured batch (JSON, so bytes for ASCII). */
  meanBodyBytes: number;
  maxBodyBytes: number;
  openWindowsPerSensor: number;
}

export interface PercentilesVariantResult {
  recordsPerCpuSecond: Summary;
  state: StateSize;
  windowsFinalised: number;
}

export interface PercentilesSuiteResult {
  sensors: number;
  batchSize: number;
  historySeconds: number;
  quantiles: number[];
  off: PercentilesVariantResult;
  on: PercentilesVariantResult;
  /** Mean stored sketch (`q`) per open window and metric with percentiles on. */
  sketchBytesPerOpenWindow: number;
  ratios: {
    /** Median on / median off: below 1 is what percentiles cost. */
    recordsPerCpuSecond: number;
    meanStateBody: number;
  };
}

interface Variant {
  config: WindowpaneConfig;
  prior: Map<string, { version: number; body: string }>;
  rates: number[];
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1_000;
};

let sink = 0;

function variant(events: readonly KinesisStreamEvent[], config: WindowpaneConfig): Variant {
  const states = foldHistory(events, config);
  const prior = new Map([...states].map(([id, s]) => [id, { version: s.version, body: stateBody(s) }]));
  return { config, prior, rates: [] };
}

/** Records per CPU-second of one variant, repeated until `minMs` of CPU time. */
function sample(v: Variant, event: KinesisStreamEvent, minMs: number): number {
  collectGarbage();
  let reps = 0;
  const start = cpuMs();
  while (cpuMs() - start < minMs) {
    sink += runPurePathWithStateJson(event, v.prior, v.config).readings;
    reps++;
  }
  return (reps * event.Records.length) / ((cpuMs() - start) / 1_000);
}

function measureState(v: Variant, event: KinesisStreamEvent) {
  const r = runPurePathWithStateJson(event, v.prior, v.config);
  const sizes = [...r.bodies!.values()].map((b) => Buffer.byteLength(b));
  const sketches: number[] = [];
  let windows = 0;
  for (const s of r.states.values()) {
    for (const w of Object.values(s.windows)) {
      windows++;
      for (const agg of Object.values(w.aggs)) if (agg.q) sketches.push(JSON.stringify(agg.q).length);
    }
  }
  const state: StateSize = {
    meanBodyBytes: round(sizes.reduce((a, b) => a + b, 0) / sizes.length),
    maxBodyBytes: Math.max(...sizes),
    openWindowsPerSensor: round(windows / r.states.size, 2),
  };
  const sketchBytes = sketches.length > 0 ? sketches.reduce((a, b) => a + b, 0) / sketches.length : 0;
  return { state, sketchBytes, windowsFinalised: r.windowsFinalised };
}

export async function runPercentilesSuite(ctx: BenchContext): Promise<PercentilesSuiteResult> {
  const s = percentilesSettings(ctx.quick);
  const on = parseConfig(
    { ...JSON.parse(JSON.stringify(DEFAULT_CONFIG)), percentiles: PERCENTILES_MEASURED },
    'bench percentiles',
  );
  ctx.log(
    `percentiles: ${s.sensors} sensors at 1 Hz, batches of ${s.batchSize}, ${s.historySeconds} s of history`,
  );
  const history = Math.ceil((s.sensors * s.historySeconds) / s.batchSize) * s.batchSize;
  const events = toEvents(
    fleetRecords({ sensors: s.sensors, rateHz: 1 }, history + s.batchSize),
    s.batchSize,
  );
  const event = events.pop()!;
  const variants = { off: variant(events, DEFAULT_CONFIG), on: variant(events, on) };

  for (let i = 0; i < s.warmups; i++) {
    sink += sample(variants.off, event, s.minSampleMs) + sample(variants.on, event, s.minSampleMs);
  }
  for (let i = 0; i < s.samples; i++) {
    // Alternate which goes first, so neither always runs after the other's garbage.
    const order = i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
    for (const name of order) variants[name].rates.push(sample(variants[name], event, s.minSampleMs));
  }
  const offState = measureState(variants.off, event);
  const onState = measureState(variants.on, event);
  if (sink === 0) throw new Error('percentiles: no reading was folded');
  const offRate = summarize(variants.off.rates);
  const onRate = summarize(variants.on.rates);
  return {
    sensors: s.sensors,
    batchSize: s.batchSize,
    historySeconds: s.historySeconds,
    quantiles: PERCENTILES_MEASURED,
    off: { recordsPerCpuSecond: offRate, state: offState.state, windowsFinalised: offState.windowsFinalised },
    on: { recordsPerCpuSecond: onRate, state: onState.state, windowsFinalised: onState.windowsFinalised },
    sketchBytesPerOpenWindow: round(onState.sketchBytes),
    ratios: {
      recordsPerCpuSecond: round(onRate.median / offRate.median, 3),
      meanStateBody: round(onState.state.meanBodyBytes / offState.state.meanBodyBytes, 2),
    },
  };
}

export function percentilesHeadlines(r: PercentilesSuiteResult): Headline[] {
  const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')}`;
  return [
    {
      suite: 'percentiles',
      metric: `pure path + state JSON, percentiles ${JSON.stringify(r.quantiles)} on vs off (${r.sensors} sensors, batch ${r.batchSize.toLocaleString('en-US')})`,
      value: r.ratios.recordsPerCpuSecond,
      unit: 'ratio',
      display: `${r.ratios.recordsPerCpuSecond}x (${rate(r.on.recordsPerCpuSecond.median)} vs ${rate(r.off.recordsPerCpuSecond.median)} rec/CPU-s)`,
    },
    {
      suite: 'percentiles',
      metric: 'sketch bytes per open window and metric (stored form)',
      value: r.sketchBytesPerOpenWindow,
      unit: 'bytes',
      display: `${r.sketchBytesPerOpenWindow} B`,
    },
    {
      suite: 'percentiles',
      metric: 'state body per sensor, on vs off (mean / max)',
      value: r.ratios.meanStateBody,
      unit: 'ratio',
      display: `${r.ratios.meanStateBody}x (${r.on.state.meanBodyBytes} / ${r.on.state.maxBodyBytes} vs ${r.off.state.meanBodyBytes} / ${r.off.state.maxBodyBytes} B, ${r.on.state.openWindowsPerSensor} open windows a sensor)`,
    },
  ];
}
