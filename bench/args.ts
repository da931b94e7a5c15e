/**
 * Command line of `npm run bench`, on the commands' shared flag rules (local/cli/flags.ts).
 * Parsing is pure so it can be tested; a bad flag fails with a `UsageError` that names it,
 * before anything is started.
 */
import { flag, formatFlagHelp, HELP_FLAG, parseFlags, UsageError } from '../local/cli/flags.js';

export const SUITES = [
  'pure',
  'writes',
  'peer',
  'e2e',
  'memory',
  'cost',
  'dashboard',
  'percentiles',
] as const;
export type SuiteName = (typeof SUITES)[number];

/** Suites whose measurements another suite needs: `cost` is derived from `pure`, `writes` and `peer`. */
export const SUITE_DEPENDENCIES: Readonly<Record<SuiteName, readonly SuiteName[]>> = {
  pure: [],
  writes: [],
  peer: [],
  e2e: [],
  memory: [],
  cost: ['pure', 'writes', 'peer'],
  dashboard: [],
  percentiles: [],
};

export const DEFAULT_OUT = 'bench/results/latest.json';

export interface BenchOptions {
  help: boolean;
  quick: boolean;
  /** Suites to run, in run order, dependencies included. */
  suites: SuiteName[];
  /** Suites added because a selected suite needs them (reported on stderr). */
  addedDependencies: SuiteName[];
  out: string;
  /** Also write the results as Markdown into this file (between its bench markers). */
  markdown?: string;
}

const FLAGS = {
  quick: flag.boolean('small cases and few runs: checks that the benchmark works (CI)'),
  only: flag.custom(
    'SUITE,...',
    `run only these suites (${SUITES.join(', ')});\ncost also runs pure, writes and peer, which it is computed from`,
    parseSuiteList,
  ),
  out: flag.string('FILE.json', `where to write the JSON report (default ${DEFAULT_OUT})`, {
    default: DEFAULT_OUT,
    check: (text, name) => {
      if (!text.endsWith('.json'))
        throw new UsageError(`flag --${name} must name a .json file, got "${text}"`);
    },
  }),
  markdown: flag.string(
    'FILE.md',
    'also write the results as Markdown into this file, between\nits bench markers (how bench/RESULTS.md is updated)',
    {
      check: (text, name) => {
        if (!text.endsWith('.md')) throw new UsageError(`flag --${name} must name a .md file, got "${text}"`);
      },
    },
  ),
  help: HELP_FLAG,
};

export const USAGE = `Usage: npm run bench -- [flags]

Measures windowpane on this machine and compares it with a naive per-record design:
  pure    records/s of the pure handler path (decode, validate, windows, fold, rules)
          for batches of 100 / 1,000 / 10,000, vs a per-record JSON.parse baseline
          and the physical floor (base64 + JSON.parse + one Map fold)
  writes  DynamoDB write requests per batch against the emulator vs a naive
          one-write-per-reading writer (10 / 100 / 1,000 sensors at 1 Hz), and the
          carried-state design (tumbling window 300 / 900 s, 1 s batches) in units
  peer    the realistic peer (Powertools BatchProcessor + Idempotency on DynamoDB +
          per-reading UpdateItem): CPU, writes per reading and rate vs the others
  e2e     readings/s through the local pipeline vs the Kinesis emulator's own rate,
          and reading-to-alert latency p50 / p99
  memory  peak heap for one 10,000-record batch, handler bundle size and load time
  cost    dollars per million readings on AWS, from the measurements and bench/prices.ts
          (per-batch, carried state, naive, Powertools), and the scale model (10k / 100k / 1M sensors: shards, concurrency, limits)
  dashboard  the web dashboard in Chromium: time to first chart and frame time under
          live load for 1,000 sensors x a day of 1-minute windows vs 10 sensors x an
          hour, and the server store's memory (needs Chromium: .ci/install-packages)
  percentiles  the pure path (+ state JSON) with percentiles [0.5, 0.9, 0.99] on vs
          off in the same run: records/CPU-s, sketch bytes per open window, state
          body per sensor

Flags:
${formatFlagHelp(FLAGS)}

Progress goes to stderr; a short table goes to stdout. Exit status 0 when every
selected suite ran (whether or not its targets were met), 1 when a suite failed,
2 for a usage error.`;

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const { help, quick, only, out, markdown } = parseFlags(argv, FLAGS).values;
  const selected = new Set<SuiteName>(only ?? SUITES);
  const addedDependencies: SuiteName[] = [];
  for (const suite of [...selected]) {
    for (const dep of SUITE_DEPENDENCIES[suite]) {
      if (!selected.has(dep)) {
        selected.add(dep);
        addedDependencies.push(dep);
      }
    }
  }
  return {
    help,
    quick,
    suites: SUITES.filter((s) => selected.has(s)),
    addedDependencies,
    out,
    ...(markdown !== undefined ? { markdown } : {}),
  };
}

function parseSuiteList(text: string, name: string): SuiteName[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) throw new UsageError(`flag --${name} needs at least one suite`);
  for (const suite of names) {
    if (!(SUITES as readonly string[]).includes(suite)) {
      throw new UsageError(`flag --${name}: unknown suite "${suite}" (suites: ${SUITES.join(', ')})`);
    }
  }
  return names as SuiteName[];
}
