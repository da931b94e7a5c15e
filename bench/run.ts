/**
 * `npm run bench`: runs the benchmark suites (see `--help`), writes the JSON report and
 * prints a short table. Progress goes to stderr, the table to stdout.
 *
 * Honesty rules the suites follow: both sides of a comparison get the same bytes on the
 * same machine in the same process; warm-up runs first; medians of several runs; the
 * machine and Node version are part of every report. Targets that are missed are
 * reported, not failed: the exit status says whether the benchmark ran, not how fast.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { USAGE_EXIT_CODE, UsageError } from '../local/cli/flags.js';
import { type Emulators, startEmulators } from '../local/cloud/emulators.js';
import { parseBenchArgs, type SuiteName, USAGE } from './args.js';
import type { BenchContext, Headline } from './context.js';
import { machineInfo } from './machine.js';
import { type BenchReport, renderMarkdown, writeMarkdown } from './markdown.js';
import { renderTable } from './report.js';
import { type CostSuiteResult, costHeadlines, runCostSuite } from './suites/cost.js';
import { type DashboardSuiteResult, dashboardHeadlines, runDashboardSuite } from './suites/dashboard.js';
import { type E2eSuiteResult, e2eHeadlines, runE2eSuite } from './suites/e2e.js';
import { type MemorySuiteResult, memoryHeadlines, runMemorySuite } from './suites/memory.js';
import { type PeerSuiteResult, peerHeadlines, runPeerSuite } from './suites/peer.js';
import {
  type PercentilesSuiteResult,
  percentilesHeadlines,
  runPercentilesSuite,
} from './suites/percentiles.js';
import { type PureSuiteResult, pureHeadlines, runPureSuite } from './suites/pure.js';
import { runWritesSuite, type WritesSuiteResult, writesHeadlines } from './suites/writes.js';

interface SuiteDefinition<R> {
  run(ctx: BenchContext): Promise<R>;
  headlines(result: R): Headline[];
}

const SUITE_DEFINITIONS: { [K in SuiteName]: SuiteDefinition<unknown> } = {
  pure: { run: runPureSuite, headlines: (r) => pureHeadlines(r as PureSuiteResult) },
  writes: { run: runWritesSuite, headlines: (r) => writesHeadlines(r as WritesSuiteResult) },
  peer: { run: runPeerSuite, headlines: (r) => peerHeadlines(r as PeerSuiteResult) },
  e2e: { run: runE2eSuite, headlines: (r) => e2eHeadlines(r as E2eSuiteResult) },
  memory: { run: runMemorySuite, headlines: (r) => memoryHeadlines(r as MemorySuiteResult) },
  cost: { run: runCostSuite, headlines: (r) => costHeadlines(r as CostSuiteResult) },
  dashboard: { run: runDashboardSuite, headlines: (r) => dashboardHeadlines(r as DashboardSuiteResult) },
  percentiles: {
    run: runPercentilesSuite,
    headlines: (r) => percentilesHeadlines(r as PercentilesSuiteResult),
  },
};

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

// The handler logs every batch and emits EMF metrics on stdout, where the table goes:
// errors only, no metrics (this is not Lambda; the logging cost is not what is measured).
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

export async function main(argv: readonly string[]): Promise<number> {
  let opts: ReturnType<typeof parseBenchArgs>;
  try {
    opts = parseBenchArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\nRun "npm run bench -- --help" for the flags.\n`);
    return USAGE_EXIT_CODE;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const startedAt = new Date();
  const t0 = Date.now();
  const machine = machineInfo();
  const mode = opts.quick ? 'quick' : 'full';
  log(
    `${mode} run of ${opts.suites.join(', ')} on ${machine.cpuModel} (${machine.cpus} CPUs), Node ${machine.node}`,
  );
  if (opts.addedDependencies.length > 0) {
    log(`also running ${opts.addedDependencies.join(', ')}: the selected suites are computed from them`);
  }

  const tmpDir = mkdtempSync(path.join(tmpdir(), 'windowpane-bench-'));
  let emulators: Promise<Emulators> | undefined;
  const results: Partial<Record<SuiteName, unknown>> = {};
  const errors: Partial<Record<SuiteName, string>> = {};
  const headlines: Headline[] = [];
  const ctx: BenchContext = {
    quick: opts.quick,
    log,
    tmpDir,
    results,
    endpoints: async () => {
      if (!emulators) {
        log('starting the embedded emulators (kinesis-local, dynalite, fauxqs)');
        emulators = startEmulators();
      }
      return (await emulators).endpoints;
    },
  };

  try {
    for (const suite of opts.suites) {
      const def = SUITE_DEFINITIONS[suite];
      const suiteStart = Date.now();
      log(`--- ${suite} ---`);
      try {
        const result = await def.run(ctx);
        results[suite] = result;
        headlines.push(...def.headlines(result));
        log(`${suite} done in ${((Date.now() - suiteStart) / 1_000).toFixed(1)} s`);
      } catch (err) {
        errors[suite] = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        log(`${suite} FAILED: ${errors[suite]}`);
        if (err instanceof Error && err.stack) log(err.stack);
      }
    }
  } finally {
    if (emulators) {
      log('stopping the emulators');
      await emulators.then((e) => e.stop()).catch((err) => log(`stopping the emulators failed: ${err}`));
    }
    rmSync(tmpDir, { recursive: true, force: true });
  }

  const report: BenchReport = {
    tool: 'windowpane-bench',
    schemaVersion: 1,
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
    mode,
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - t0) / 100) / 10,
    machine,
    loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
    notes: [
      'Single-threaded: every measured path runs on the main thread, so on one core at a time.',
      'The emulators dynalite and fauxqs run in the same process and kinesis-local in a child process, on the same machine.',
      'Emulator timings are local measurements, not AWS latencies; the cost model states its own assumptions.',
    ],
    suites: Object.fromEntries(
      opts.suites.map((s) => [s, s in results ? results[s] : { error: errors[s] ?? 'not run' }]),
    ),
    headlines,
  };
  const out = path.resolve(opts.out);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  log(`report written to ${path.relative(process.cwd(), out) || out}`);
  if (opts.markdown) {
    writeMarkdown(path.resolve(opts.markdown), renderMarkdown(report));
    log(`markdown written to ${opts.markdown}`);
  }

  process.stdout.write(`${renderTable(headlines, machine, mode, errors)}\n`);
  return Object.keys(errors).length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
