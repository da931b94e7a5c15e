/**
 * One input, three wire formats (issue 12): `npm run replay` of the golden small input
 * sent as JSON, as Glue-framed Avro through the local registry stand-in, and packed into
 * KPL aggregates (aws-kinesis-agg's aggregator) gives the same four files, the KPL one
 * also under chaos mode (faults, redeliveries, a reshard); the lake
 * written with `--lake` reads back in DuckDB equal to windows.jsonl.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig, type WindowpaneConfig } from '../../functions/domain/config.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { uniquePrefix } from '../../local/cloud/index.js';
import { REPO_ROOT } from '../../local/config.js';
import { OUTPUT_FILES, type ReplaySummary, runReplay } from '../../local/replay.js';
import type { ReplayFormat } from '../../local/replay-formats.js';
import { lakeLines } from './lake-helpers.js';

const endpoints = inject('endpoints');
const GOLDEN = path.join(REPO_ROOT, 'test', 'golden', 'small');
const dirs: string[] = [];
let config: WindowpaneConfig;
const runs = new Map<string, { summary: ReplaySummary; files: Record<string, string> }>();
let lakeDir: string;

async function replay(format: ReplayFormat, opts: { lake?: string; chaosSeed?: number } = {}) {
  const name = opts.chaosSeed === undefined ? format : `${format}-chaos`;
  const outDir = await mkdtemp(path.join(tmpdir(), `windowpane-format-${format}-`));
  dirs.push(outDir);
  const summary = await runReplay({
    input: path.join(GOLDEN, 'input.jsonl'),
    outDir,
    config,
    target: localClientOptions(endpoints),
    prefix: uniquePrefix(`fmt-${format}`),
    resourceSource: 'config',
    format,
    ...(opts.lake ? { lakeDir: opts.lake } : {}),
    ...(opts.chaosSeed === undefined ? {} : { chaos: { seed: opts.chaosSeed } }),
  });
  const files: Record<string, string> = {};
  for (const [k, f] of Object.entries(OUTPUT_FILES)) files[k] = await readFile(path.join(outDir, f), 'utf8');
  runs.set(name, { summary, files });
}

beforeAll(async () => {
  config = parseConfig(JSON.parse(await readFile(path.join(GOLDEN, 'config.json'), 'utf8')));
  lakeDir = await mkdtemp(path.join(tmpdir(), 'windowpane-format-lake-'));
  dirs.push(lakeDir);
  // One after the other: kinesis-local is CPU-bound, and the machine is shared.
  await replay('json', { lake: lakeDir });
  await replay('avro');
  await replay('kpl');
  // Faults, redeliveries of aggregates and a reshard up and down.
  await replay('kpl', { chaosSeed: 7 });
}, 600_000);

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe('replay formats: the outputs do not depend on the wire format', () => {
  it('the JSON replay is the recorded golden output (the baseline is right)', async () => {
    const json = runs.get('json')!;
    for (const [k, f] of Object.entries(OUTPUT_FILES)) {
      expect(json.files[k], f).toBe(await readFile(path.join(GOLDEN, f), 'utf8'));
    }
    expect(json.summary.windows).toBeGreaterThan(0);
    expect(json.summary.alerts).toBeGreaterThan(0);
  });

  it('Avro replay = JSON replay: the four files byte for byte', () => {
    const [json, avro] = [runs.get('json')!, runs.get('avro')!];
    expect(avro.summary.discarded).toBe(0);
    for (const k of Object.keys(OUTPUT_FILES)) expect(avro.files[k], k).toBe(json.files[k]);
  });

  it('KPL replay = JSON replay: windows, alerts and late byte for byte; invalid the same records, by line', () => {
    const [json, kpl] = [runs.get('json')!, runs.get('kpl')!];
    expect(kpl.summary.discarded).toBe(0);
    for (const k of ['windows', 'alerts', 'late']) expect(kpl.files[k], k).toBe(json.files[k]);
    // An invalid user record also names its index in the aggregate; otherwise the same line.
    const withoutIndex = lines(kpl.files.invalid!).map((l) => {
      const { subIndex: _s, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
    expect(withoutIndex).toEqual(lines(json.files.invalid!).map((l) => JSON.parse(l)));
    expect(lines(kpl.files.invalid!).some((l) => 'subIndex' in JSON.parse(l))).toBe(true);
  });

  it('KPL under chaos (redelivered aggregates, a reshard) = the clean KPL replay, file for file', () => {
    const [kpl, chaos] = [runs.get('kpl')!, runs.get('kpl-chaos')!];
    expect(chaos.summary.discarded).toBe(0);
    expect(chaos.summary.chaos!.totalFaults).toBeGreaterThan(2);
    for (const k of Object.keys(OUTPUT_FILES)) expect(chaos.files[k], k).toBe(kpl.files[k]);
  });
});

describe('replay --lake: DuckDB reads the partitioned Parquet back as windows.jsonl', () => {
  it('one row per windows.jsonl line, equal field for field', async () => {
    const json = runs.get('json')!;
    const want = lines(json.files.windows!).map((l) => JSON.parse(l) as Record<string, unknown>);
    const got = await lakeLines(lakeDir);
    const key = (r: Record<string, unknown>) =>
      JSON.stringify([r.sensorId, r.windowType, r.windowStart, r.windowEnd, r.metric]);
    const normalise = (r: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null && v !== undefined));
    expect(got.map(normalise).sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
      want.map(normalise).sort((a, b) => key(a).localeCompare(key(b))),
    );
    expect(json.summary.lake!.rows).toBe(want.length);
  });
});
