/**
 * What the quantile sketch (functions/domain/sketch/) would add to the handler's pure
 * path, before it is wired in (issue 17, step 1): `npx tsx bench/sketch-cost.ts`.
 *
 * In one process, interleaved sample by sample, on the same 10,000-record batch of a
 * 1,000-sensor fleet at 1 Hz starting from 90 s of folded history:
 * - baseline: `runPurePathWithStateJson` (decode, validate, fold, rules, state JSON), the
 *   handler's CPU work without the SDK, with no sketch;
 * - sketch: the work percentiles would add for the same readings: decode each sensor's
 *   stored sketch text of every open window it touches, add each reading's value to the
 *   sketch of its tumbling window, encode every touched sketch back, and take three
 *   percentiles of each (as if every touched window closed: an upper bound).
 * - adds: the sketch adds alone, into fresh sketches (no text round trip, no percentiles).
 * It prints the rates and their ratios (records per CPU-second; median of the samples).
 * The ratio, not the absolute rate, is the result: the machine is shared.
 */
import { DEFAULT_CONFIG } from '../functions/domain/config.js';
import { decodeSketch, encodeSketch } from '../functions/domain/sketch/codec.js';
import { percentiles } from '../functions/domain/sketch/estimate.js';
import {
  addToSketch,
  newSketch,
  type QuantileSketch,
  sketchSpec,
} from '../functions/domain/sketch/sketch.js';
import { decodeBatch } from '../functions/window-handler/decode-batch.js';
import { fleetRecords, toEvents } from './data.js';
import { foldHistory, runPurePathWithStateJson, stateBody } from './pure-path.js';
import { collectGarbage, median, round } from './stats.js';

const SENSORS = 1_000;
const BATCH = 10_000;
const HISTORY_SECONDS = 90;
const SAMPLES = 9;
const MIN_SAMPLE_MS = 300;
const WINDOW_MS = 60_000;
const QUANTILES = [0.5, 0.9, 0.99];

const config = DEFAULT_CONFIG;
const metric = config.metrics[0]!;
const spec = sketchSpec();

const history = Math.ceil((SENSORS * HISTORY_SECONDS) / BATCH) * BATCH;
const events = toEvents(fleetRecords({ sensors: SENSORS, rateHz: 1 }, history + BATCH), BATCH);
const event = events.pop()!;
const prior = foldHistory(events, config);
const priorBodies = new Map([...prior].map(([id, s]) => [id, { version: s.version, body: stateBody(s) }]));

/** Stored sketch texts per sensor and window start, built from the same history. */
const priorSketches = new Map<string, Map<number, string>>();
{
  const open = new Map<string, Map<number, QuantileSketch>>();
  for (const e of events) {
    for (const [id, group] of decodeBatch(e, config.metrics).groups) {
      const windows = open.get(id) ?? new Map<number, QuantileSketch>();
      open.set(id, windows);
      for (const { reading } of group.records) {
        const value = reading.values[metric];
        if (value === undefined) continue;
        const start = Math.floor(reading.timestamp / WINDOW_MS) * WINDOW_MS;
        const s = windows.get(start) ?? newSketch(spec);
        windows.set(start, s);
        addToSketch(s, value);
      }
    }
  }
  for (const [id, windows] of open) {
    priorSketches.set(id, new Map([...windows].map(([start, s]) => [start, encodeSketch(s)])));
  }
}
// Decoded outside the clocks: both variants start from the batch's readings in hand, as the
// sketch work inside the fold would.
const groups = decodeBatch(event, config.metrics).groups;

let sink = 0;

function baseline(): number {
  const r = runPurePathWithStateJson(event, priorBodies, config);
  return r.readings;
}

/** `full`: with the state round trip and the percentiles; otherwise the adds alone. */
function sketchWork(full: boolean): number {
  let n = 0;
  for (const [id, group] of groups) {
    const stored = priorSketches.get(id);
    const touched = new Map<number, QuantileSketch>();
    for (const { reading } of group.records) {
      const value = reading.values[metric];
      if (value === undefined) continue;
      const start = Math.floor(reading.timestamp / WINDOW_MS) * WINDOW_MS;
      let s = touched.get(start);
      if (!s) {
        const text = stored?.get(start);
        s = text === undefined || !full ? newSketch(spec) : decodeSketch(text);
        touched.set(start, s);
      }
      addToSketch(s, value);
      n++;
    }
    if (!full) continue;
    for (const s of touched.values()) {
      n += encodeSketch(s).length;
      n += Object.keys(percentiles(s, QUANTILES)).length;
    }
  }
  return n;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1_000;
};

/** Records per CPU-second of `run`, repeated until MIN_SAMPLE_MS of CPU time. */
function sample(run: () => number): number {
  collectGarbage();
  let reps = 0;
  const start = cpuMs();
  while (cpuMs() - start < MIN_SAMPLE_MS) {
    sink += run();
    reps++;
  }
  return (reps * event.Records.length) / ((cpuMs() - start) / 1_000);
}

for (let i = 0; i < 3; i++) sink += baseline() + sketchWork(true) + sketchWork(false);
const base: number[] = [];
const sketch: number[] = [];
const adds: number[] = [];
for (let i = 0; i < SAMPLES; i++) {
  base.push(sample(baseline));
  sketch.push(sample(() => sketchWork(true)));
  adds.push(sample(() => sketchWork(false)));
}
const b = median(base);
const s = median(sketch);
const a = median(adds);
// Time per record adds up: with the sketch, a record costs 1/b + 1/s seconds.
const withSketch = 1 / (1 / b + 1 / s);
console.log(`batch ${BATCH} records, ${SENSORS} sensors at 1 Hz, ${HISTORY_SECONDS} s of history`);
console.log(`pure path with state JSON (no sketch): ${round(b)} records/CPU-s`);
console.log(`sketch work alone for the same batch:  ${round(s)} records/CPU-s`);
console.log(`pure path plus sketch (estimated):     ${round(withSketch)} records/CPU-s`);
console.log(
  `ratio with/without sketch: ${round(withSketch / b, 3)} (sketch adds ${round((b / s) * 100, 1)} %)`,
);
console.log(`of which the adds alone (no state round trip, no percentiles): ${round((b / a) * 100, 1)} %`);
if (sink === 0) console.log('(no work done)');
