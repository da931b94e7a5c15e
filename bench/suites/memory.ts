/**
 * Suite 4, memory and cold start.
 *
 * - Peak heap for one 10,000-record batch (1,000 sensors at 1 Hz, 10 readings each: many
 *   states in memory at once) in a child process running bundled code under plain Node:
 *   the pure path, and `processBatch` against the emulators this process runs
 *   (bench/memory-child.ts). A second child runs the same batch with the old generation
 *   capped at 128 MB (`--max-old-space-size=128`): finishing proves the live heap stayed
 *   under the target without relying on sampling.
 * - Cold-start cost: the handler bundled as the CDK stack bundles it (infra/functions.ts:
 *   esbuild, ESM, node22, minified, AWS SDK included, source map beside it); its size, and
 *   the time a fresh `node` takes to import it (median of several processes), with and
 *   without `--enable-source-maps` (the stack sets it).
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build, version as esbuildVersion } from 'esbuild';
import { DEFAULT_CONFIG } from '../../functions/domain/config.js';
import { ENV } from '../../functions/lib/resources.js';
import { type EmulatorEndpoints, registerChild } from '../../local/cloud/emulators.js';
import { provisionLocalCloud, uniquePrefix } from '../../local/cloud/index.js';
import { type BenchContext, BenchSuiteError, defaultDeploymentEnv, type Headline } from '../context.js';
import type { MemoryChildInput, MemoryChildOutput } from '../memory-child.js';
import { median, round, type Summary, summarize } from '../stats.js';

export const HEAP_TARGET_MB = 128;

const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface MemorySuiteResult {
  batch: { records: number; sensors: number; historyBatches: number };
  heap: MemoryChildOutput;
  /** The same batch with `--max-old-space-size=128`: completed, or ran out of heap (null: skipped by --quick). */
  cappedRun: {
    maxOldSpaceMb: number;
    completed: boolean;
    exitCode: number | null;
    handlerPeakHeapMb?: number;
  } | null;
  heapTargetMet: boolean;
  bundle: {
    entry: string;
    bytes: number;
    gzipBytes: number;
    sourceMapBytes: number;
    esbuild: string;
  };
  moduleLoad: {
    runs: number;
    /** `import()` of the bundle in a fresh process, ms. */
    importMs: Summary;
    /** Process start to module loaded, ms. */
    sinceProcessStartMs: Summary;
    withSourceMaps: { importMs: Summary; sinceProcessStartMs: Summary };
  };
}

/** The stack's bundling options (infra/functions.ts), so the numbers are the deployed ones. */
const LAMBDA_BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  mainFields: ['module', 'main'],
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: 'silent',
};

async function bundle(entry: string, outfile: string, sourcemap: boolean): Promise<void> {
  await build({
    ...LAMBDA_BUNDLE_OPTIONS,
    entryPoints: [path.join(ROOT, entry)],
    outfile,
    sourcemap: sourcemap ? 'external' : false,
    sourcesContent: false,
  });
}

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runNode(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    // A minimal environment: no NODE_OPTIONS (tsx's loader) and no AWS_* of this process.
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    registerChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function lastJsonLine<T>(text: string, what: string): T {
  const line = text.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new BenchSuiteError(`${what} printed no JSON result: ${text.slice(-500)}`);
  }
}

/** Dummy values for every variable the handler parses at load (no request is made). */
const LOAD_ENV: Record<string, string> = {
  [ENV.stateTable]: 'bench-state',
  [ENV.resultsTable]: 'bench-results',
  [ENV.alertLedgerTable]: 'bench-ledger',
  [ENV.alertTopicArn]: 'arn:aws:sns:us-east-1:000000000000:bench-alerts',
  [ENV.invalidQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench-invalid',
  [ENV.lateQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench-late',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
};

const LOAD_SCRIPT = `
const t0 = performance.now();
await import(process.env.BENCH_MODULE_URL);
const t1 = performance.now();
console.log(JSON.stringify({ importMs: t1 - t0, sinceProcessStartMs: t1 }));
`;

async function measureLoad(bundleFile: string, runs: number, sourceMaps: boolean) {
  const importMs: number[] = [];
  const sinceStart: number[] = [];
  const url = pathToFileURL(bundleFile).href;
  // One unmeasured run first: the first import after the build also pays for a cold file cache.
  for (let i = 0; i <= runs; i++) {
    const args = [...(sourceMaps ? ['--enable-source-maps'] : []), '--input-type=module', '-e', LOAD_SCRIPT];
    const r = await runNode(args, { ...LOAD_ENV, BENCH_MODULE_URL: url }, 60_000);
    if (r.code !== 0)
      throw new BenchSuiteError(
        `loading the handler bundle failed (exit ${r.code}): ${r.stderr.slice(-800)}`,
      );
    const out = lastJsonLine<{ importMs: number; sinceProcessStartMs: number }>(r.stdout, 'the load probe');
    if (i === 0) continue;
    importMs.push(round(out.importMs, 2));
    sinceStart.push(round(out.sinceProcessStartMs, 2));
  }
  return { importMs: summarize(importMs), sinceProcessStartMs: summarize(sinceStart) };
}

/** The batch again, fresh resources, old generation capped at the target. */
async function runCapped(
  ctx: BenchContext,
  endpoints: EmulatorEndpoints,
  input: MemoryChildInput,
  childFile: string,
): Promise<NonNullable<MemorySuiteResult['cappedRun']>> {
  const cloud = await provisionLocalCloud(endpoints, {
    config: { ...DEFAULT_CONFIG, stream: { ...DEFAULT_CONFIG.stream, shardCount: 1 } },
    prefix: uniquePrefix('bench-mem'),
  });
  try {
    ctx.log(`memory: the same batch with --max-old-space-size=${HEAP_TARGET_MB}`);
    const capped: MemoryChildInput = { ...input, env: defaultDeploymentEnv(cloud.env), handlerOnly: true };
    const c = await runNode([`--max-old-space-size=${HEAP_TARGET_MB}`, '--expose-gc', childFile], {
      BENCH_MEMORY_INPUT: JSON.stringify(capped),
    });
    if (c.code !== 0) return { maxOldSpaceMb: HEAP_TARGET_MB, completed: false, exitCode: c.code };
    const out = lastJsonLine<MemoryChildOutput>(c.stdout, 'the capped memory child');
    return {
      maxOldSpaceMb: HEAP_TARGET_MB,
      completed: true,
      exitCode: 0,
      handlerPeakHeapMb: out.handler.peakHeapMb,
    };
  } finally {
    cloud.destroyClients();
  }
}

export async function runMemorySuite(ctx: BenchContext): Promise<MemorySuiteResult> {
  const sensors = 1_000;
  const batchSize = 10_000;
  const historyBatches = ctx.quick ? 1 : 2;
  const loadRuns = ctx.quick ? 2 : 9;

  // --- bundles ---
  ctx.log('memory: bundling the handler as the stack does');
  const handlerFile = path.join(ctx.tmpDir, 'handler', 'handler.mjs');
  await bundle('functions/window-handler/handler.ts', handlerFile, true);
  const childFile = path.join(ctx.tmpDir, 'memory-child', 'memory-child.mjs');
  await bundle('bench/memory-child.ts', childFile, false);
  const code = readFileSync(handlerFile);

  // --- peak heap ---
  const endpoints = await ctx.endpoints();
  const cloud = await provisionLocalCloud(endpoints, {
    config: { ...DEFAULT_CONFIG, stream: { ...DEFAULT_CONFIG.stream, shardCount: 1 } },
    prefix: uniquePrefix('bench-mem'),
  });
  let heap: MemoryChildOutput;
  let capped: MemorySuiteResult['cappedRun'] = null;
  try {
    const input: MemoryChildInput = {
      endpoints,
      env: defaultDeploymentEnv(cloud.env),
      sensors,
      batchSize,
      historyBatches,
    };
    ctx.log(`memory: one ${batchSize}-record batch of ${sensors} sensors in a child process`);
    const r = await runNode(['--expose-gc', childFile], { BENCH_MEMORY_INPUT: JSON.stringify(input) });
    if (r.code !== 0)
      throw new BenchSuiteError(`the memory child failed (exit ${r.code}): ${r.stderr.slice(-800)}`);
    heap = lastJsonLine<MemoryChildOutput>(r.stdout, 'the memory child');

    // Skipped by --quick: a second 10,000-record run only re-checks the same bound.
    if (!ctx.quick) capped = await runCapped(ctx, endpoints, input, childFile);
  } finally {
    cloud.destroyClients();
  }

  // --- module load ---
  ctx.log(`memory: module load time, ${loadRuns} fresh processes each with and without source maps`);
  const plain = await measureLoad(handlerFile, loadRuns, false);
  const withMaps = await measureLoad(handlerFile, loadRuns, true);

  const peak = Math.max(heap.handler.peakHeapMb, heap.pure?.peakHeapMb ?? 0);
  ctx.log(
    `memory: peak heap ${peak} MB (handler batch +${heap.handler.batchHeapMb} MB), max RSS ${heap.maxRssMb} MB, ` +
      `bundle ${Math.round(code.byteLength / 1024)} KB, import ${median(plain.importMs.samples)} ms`,
  );
  return {
    batch: { records: heap.records, sensors, historyBatches },
    heap,
    cappedRun: capped,
    heapTargetMet: peak < HEAP_TARGET_MB && capped?.completed !== false,
    bundle: {
      entry: 'functions/window-handler/handler.ts',
      bytes: code.byteLength,
      gzipBytes: gzipSync(code).byteLength,
      sourceMapBytes: statSync(`${handlerFile}.map`).size,
      esbuild: esbuildVersion,
    },
    moduleLoad: { runs: loadRuns, ...plain, withSourceMaps: withMaps },
  };
}

function cappedNote(capped: MemorySuiteResult['cappedRun']): string {
  if (!capped) return '';
  return capped.completed ? '; runs with 128 MB old space' : '; FAILS with 128 MB old space';
}

export function memoryHeadlines(r: MemorySuiteResult): Headline[] {
  const peak = Math.max(r.heap.handler.peakHeapMb, r.heap.pure?.peakHeapMb ?? 0);
  return [
    {
      suite: 'memory',
      metric: `peak heap, one ${r.batch.records.toLocaleString('en-US')}-record batch (${r.batch.sensors} sensors)`,
      value: peak,
      unit: 'MB',
      display: `${peak} MB (batch +${r.heap.handler.batchHeapMb} MB${cappedNote(r.cappedRun)})`,
      target: '< 128 MB',
      met: r.heapTargetMet,
    },
    {
      suite: 'memory',
      metric: 'handler bundle (minified ESM, SDK included)',
      value: r.bundle.bytes,
      unit: 'bytes',
      display: `${Math.round(r.bundle.bytes / 1024)} KB (${Math.round(r.bundle.gzipBytes / 1024)} KB gzip)`,
    },
    {
      suite: 'memory',
      metric: 'handler module load, fresh process (median; with source maps)',
      value: r.moduleLoad.importMs.median,
      unit: 'ms',
      display: `${Math.round(r.moduleLoad.importMs.median)} ms (${Math.round(r.moduleLoad.withSourceMaps.importMs.median)} ms)`,
    },
  ];
}
