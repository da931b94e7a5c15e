/**
 * Command line of `npm run bench`. Parsing is pure so it can be tested; a bad flag fails
 * with a `BenchUsageError` that names it, before anything is started.
 */

export const SUITES = ['pure', 'writes', 'peer', 'e2e', 'memory', 'cost'] as const;
export type SuiteName = (typeof SUITES)[number];

/** Suites whose measurements another suite needs: `cost` is derived from `pure`, `writes` and `peer`. */
export const SUITE_DEPENDENCIES: Readonly<Record<SuiteName, readonly SuiteName[]>> = {
  pure: [],
  writes: [],
  peer: [],
  e2e: [],
  memory: [],
  cost: ['pure', 'writes', 'peer'],
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

export class BenchUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchUsageError';
  }
}

export const USAGE = `Usage: npm run bench -- [options]

Measures windowpane on this machine and compares it with a naive per-record design:
  pure    records/s of the pure handler path (decode, validate, windows, fold, rules)
          for batches of 100 / 1,000 / 10,000, vs a per-record JSON.parse baseline
          and the physical floor (base64 + JSON.parse + one Map fold)
  writes  DynamoDB write requests per batch against the emulator vs a naive
          one-write-per-reading writer (10 / 100 / 1,000 sensors at 1 Hz)
  peer    the realistic peer (Powertools BatchProcessor + Idempotency on DynamoDB +
          per-reading UpdateItem): CPU, writes per reading and rate vs the others
  e2e     readings/s through the local pipeline vs the Kinesis emulator's own rate,
          and reading-to-alert latency p50 / p99
  memory  peak heap for one 10,000-record batch, handler bundle size and load time
  cost    dollars per million readings on AWS, from the measurements and bench/prices.ts,
          and the scale model (10k / 100k / 1M sensors: shards, concurrency, limits)

Options:
  --quick               small cases and few runs: checks that the benchmark works (CI)
  --only <suite,...>    run only these suites (${SUITES.join(', ')});
                        cost also runs pure, writes and peer, which it is computed from
  --out <file.json>     where to write the JSON report (default ${DEFAULT_OUT})
  --markdown <file.md>  also write the results as Markdown into this file, between
                        its bench markers (how bench/RESULTS.md is updated)
  -h, --help            show this help

Progress goes to stderr; a short table goes to stdout. Exit status 0 when every
selected suite ran (whether or not its targets were met), 1 when a suite failed,
2 for a usage error.`;

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let help = false;
  let quick = false;
  let only: SuiteName[] | undefined;
  let out = DEFAULT_OUT;
  let markdown: string | undefined;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) {
        if (inline === '') throw new BenchUsageError(`option ${name} needs a value`);
        return inline;
      }
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('-'))
        throw new BenchUsageError(`option ${name} needs a value`);
      i++;
      return next;
    };
    const flag = (): true => {
      if (inline !== undefined) throw new BenchUsageError(`option ${name} takes no value`);
      return true;
    };

    switch (name) {
      case '-h':
      case '--help':
        help = flag();
        break;
      case '--quick':
        quick = flag();
        break;
      case '--only':
        only = parseSuiteList(value());
        break;
      case '--out':
        out = value();
        if (!out.endsWith('.json'))
          throw new BenchUsageError(`option --out must name a .json file, got "${out}"`);
        break;
      case '--markdown':
        markdown = value();
        if (!markdown.endsWith('.md')) {
          throw new BenchUsageError(`option --markdown must name a .md file, got "${markdown}"`);
        }
        break;
      default:
        throw new BenchUsageError(
          arg.startsWith('-') ? `unknown option "${name}"` : `unexpected argument "${arg}"`,
        );
    }
  }

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

function parseSuiteList(text: string): SuiteName[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) throw new BenchUsageError('option --only needs at least one suite');
  for (const name of names) {
    if (!(SUITES as readonly string[]).includes(name)) {
      throw new BenchUsageError(`option --only: unknown suite "${name}" (suites: ${SUITES.join(', ')})`);
    }
  }
  return names as SuiteName[];
}
