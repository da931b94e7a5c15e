/**
 * What percentiles cost the handler's pure path (issue 17): `npx tsx bench/sketch-cost.ts`.
 *
 * In one process, interleaved sample by sample, on the same 10,000-record batch of a
 * 1,000-sensor fleet at 1 Hz, each variant starting from 90 s of history folded under its
 * own configuration:
 * - baseline: `runPurePathWithStateJson` (decode, validate, fold, rules, state JSON) with
 *   the default configuration, percentiles off;
 * - percentiles: the same with `percentiles: [0.5, 0.9, 0.99]` (default accuracy and
 *   bucket limit): every open window keeps a sketch, stored as its text in the state body,
 *   and every window that becomes final reports three percentiles.
 * It prints records per CPU-second (median of the samples), their ratio, and the state
 * body's size per sensor in both variants. The ratio, not the absolute rate, is the
 * result: the machine is shared.
 */
import { DEFAULT_CONFIG, parseConfig, type WindowpaneConfig } from '../functions/domain/config.js';
import { fleetRecords, toEvents } from './data.js';
import { foldHistory, runPurePathWithStateJson, stateBody } from './pure-path.js';
import { collectGarbage, median, round } from './stats.js';

const SENSORS = 1_000;
const BATCH = 10_000;
const HISTORY_SECONDS = 90;
const SAMPLES = 9;
const MIN_SAMPLE_MS = 300;
const QUANTILES = [0.5, 0.9, 0.99];

const off = DEFAULT_CONFIG;
const on = parseConfig({ ...JSON.parse(JSON.stringify(DEFAULT_CONFIG)), percentiles: QUANTILES });

const history = Math.ceil((SENSORS * HISTORY_SECONDS) / BATCH) * BATCH;
const events = toEvents(fleetRecords({ sensors: SENSORS, rateHz: 1 }, history + BATCH), BATCH);
const event = events.pop()!;

interface Variant {
  config: WindowpaneConfig;
  prior: Map<string, { version: number; body: string }>;
  rates: number[];
}

function variant(config: WindowpaneConfig): Variant {
  const states = foldHistory(events, config);
  const prior = new Map([...states].map(([id, s]) => [id, { version: s.version, body: stateBody(s) }]));
  return { config, prior, rates: [] };
}

const variants = { off: variant(off), on: variant(on) };
let sink = 0;

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1_000;
};

/** Records per CPU-second of the variant, repeated until MIN_SAMPLE_MS of CPU time. */
function sample(v: Variant): number {
  collectGarbage();
  let reps = 0;
  const start = cpuMs();
  while (cpuMs() - start < MIN_SAMPLE_MS) {
    sink += runPurePathWithStateJson(event, v.prior, v.config).readings;
    reps++;
  }
  return (reps * event.Records.length) / ((cpuMs() - start) / 1_000);
}

/** Mean and max state body length after the measured batch, and open windows per sensor. */
function bodies(v: Variant) {
  const r = runPurePathWithStateJson(event, v.prior, v.config);
  const sizes = [...r.bodies!.values()].map((b) => b.length);
  const windows = [...r.states.values()].map((s) => Object.keys(s.windows).length);
  return {
    mean: sizes.reduce((a, b) => a + b, 0) / sizes.length,
    max: Math.max(...sizes),
    windows: windows.reduce((a, b) => a + b, 0) / windows.length,
    finals: r.windowsFinalised,
  };
}

for (let i = 0; i < 3; i++) sink += sample(variants.off) + sample(variants.on);
for (let i = 0; i < SAMPLES; i++) {
  variants.off.rates.push(sample(variants.off));
  variants.on.rates.push(sample(variants.on));
}
const b = median(variants.off.rates);
const p = median(variants.on.rates);
const sizeOff = bodies(variants.off);
const sizeOn = bodies(variants.on);
console.log(
  `batch ${BATCH} records, ${SENSORS} sensors at 1 Hz, ${HISTORY_SECONDS} s of history, tumbling 60 s`,
);
console.log(`pure path with state JSON, percentiles off: ${round(b)} records/CPU-s`);
console.log(`same, percentiles ${JSON.stringify(QUANTILES)}:        ${round(p)} records/CPU-s`);
console.log(
  `ratio on/off: ${round(p / b, 3)} (percentiles add ${round((b / p - 1) * 100, 1)} % CPU per record)`,
);
console.log(
  `state body per sensor: off mean ${round(sizeOff.mean)} max ${sizeOff.max} chars; ` +
    `on mean ${round(sizeOn.mean)} max ${sizeOn.max} chars ` +
    `(+${round(sizeOn.mean - sizeOff.mean)} for ${round(sizeOn.windows, 2)} open windows a sensor)`,
);
console.log(`windows finalised in the batch: ${sizeOn.finals} (each with ${QUANTILES.length} percentiles)`);
if (sink === 0) console.log('(no work done)');
