/**
 * Command-line flags of `npm start` and `npm run replay`, parsed into plain option
 * objects. Every problem (unknown flag, missing or malformed value, out-of-range number,
 * conflicting flags) is a `UsageError` whose message names the flag; the commands print it
 * and exit with status 2. Pure: no I/O, so the rules are unit-tested directly.
 */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit status for a usage error (bad flags), as most Unix tools use it. */
export const USAGE_EXIT_CODE = 2;

interface FlagSpec {
  kind: 'boolean' | 'value';
  /** Placeholder shown in messages, e.g. `N`, `FILE`. */
  value?: string;
  short?: string;
}

type FlagSpecs = Record<string, FlagSpec>;

/**
 * Splits argv into flags. Accepts `--name value`, `--name=value` and the declared short
 * forms; a value may not itself look like a long flag (`--out --stdin` is a missing value,
 * not an output directory called `--stdin`), but may start with one dash (`--seed -3`).
 */
export function parseFlags(argv: readonly string[], specs: FlagSpecs): Map<string, string | true> {
  const byShort = new Map(
    Object.entries(specs).flatMap(([name, s]) => (s.short ? [[s.short, name] as const] : [])),
  );
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else if (/^-[A-Za-z]$/.test(arg) && byShort.has(arg.slice(1))) {
      name = byShort.get(arg.slice(1))!;
    } else if (arg.startsWith('-') && arg.length > 1) {
      throw new UsageError(`unknown flag ${arg}`);
    } else {
      throw new UsageError(`unexpected argument "${arg}" (flags start with --)`);
    }
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown flag --${name}`);
    if (out.has(name)) throw new UsageError(`flag --${name} is given more than once`);
    if (spec.kind === 'boolean') {
      if (inline !== undefined) throw new UsageError(`flag --${name} takes no value`);
      out.set(name, true);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        throw new UsageError(`flag --${name} needs a value (--${name} ${spec.value ?? 'VALUE'})`);
      }
      value = next;
      i++;
    }
    if (value === '') throw new UsageError(`flag --${name} needs a non-empty value`);
    out.set(name, value);
  }
  return out;
}

export function parseIntegerFlag(name: string, text: string, range: { min: number; max: number }): number {
  if (!/^[+-]?\d+$/.test(text.trim())) {
    throw new UsageError(`flag --${name} must be a whole number, got "${text}"`);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new UsageError(`flag --${name} must be between ${range.min} and ${range.max}, got ${text}`);
  }
  return n;
}

export function parseNumberFlag(
  name: string,
  text: string,
  range: { minExclusive: number; max: number },
): number {
  const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isFinite(n)) throw new UsageError(`flag --${name} must be a number, got "${text}"`);
  if (n <= range.minExclusive || n > range.max) {
    throw new UsageError(
      `flag --${name} must be above ${range.minExclusive} and at most ${range.max}, got ${text}`,
    );
  }
  return n;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `500ms`, `10s`, `1.5m`, `2h`, or a bare number of seconds; whole milliseconds. */
export function parseDuration(name: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) {
    throw new UsageError(`flag --${name} must be a duration such as 90s, 5m, 500ms or 0, got "${text}"`);
  }
  const ms = Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!;
  if (!Number.isInteger(ms)) {
    throw new UsageError(`flag --${name} must be a whole number of milliseconds, got "${text}"`);
  }
  return ms;
}

// ---------------------------------------------------------------------------------------
// npm start
// ---------------------------------------------------------------------------------------

export interface StartOptions {
  help: boolean;
  sensors: number;
  /** Readings per second, per sensor. */
  rateHz: number;
  /** Wall-clock run time; 0 runs until Ctrl-C. */
  durationMs: number;
  /** Tumbling window size; undefined keeps the configured windows. */
  windowMs?: number;
  /** Event time replayed at start-up; undefined means "two windows". */
  backfillMs?: number;
  seed: number;
  /** Chaos mode's seed (`--chaos SEED`): faults injected, outputs unchanged. */
  chaosSeed?: number;
  verbose: boolean;
}

/** Seeds are 32-bit: negative ones are accepted for symmetry with other tools. */
const SEED_RANGE = { min: -(2 ** 31), max: 2 ** 32 - 1 };

export const START_DEFAULTS = { sensors: 5, rateHz: 1, durationMs: 0, seed: 42 } as const;

const START_FLAGS: FlagSpecs = {
  sensors: { kind: 'value', value: 'N' },
  rate: { kind: 'value', value: 'HZ' },
  duration: { kind: 'value', value: 'DURATION' },
  window: { kind: 'value', value: 'DURATION' },
  backfill: { kind: 'value', value: 'DURATION' },
  seed: { kind: 'value', value: 'N' },
  chaos: { kind: 'value', value: 'SEED' },
  verbose: { kind: 'boolean' },
  help: { kind: 'boolean', short: 'h' },
};

/** Bounds that keep the demo within what the embedded Kinesis emulator can take. */
export const MAX_SENSORS = 10_000;
export const MAX_RATE_HZ = 1_000;
export const MIN_WINDOW_MS = 1_000;

export function parseStartArgs(argv: readonly string[]): StartOptions {
  const flags = parseFlags(argv, START_FLAGS);
  const value = (name: string) => flags.get(name) as string | undefined;
  const opts: StartOptions = {
    help: flags.get('help') === true,
    sensors: START_DEFAULTS.sensors,
    rateHz: START_DEFAULTS.rateHz,
    durationMs: START_DEFAULTS.durationMs,
    seed: START_DEFAULTS.seed,
    verbose: flags.get('verbose') === true,
  };
  const sensors = value('sensors');
  if (sensors !== undefined)
    opts.sensors = parseIntegerFlag('sensors', sensors, { min: 1, max: MAX_SENSORS });
  const rate = value('rate');
  if (rate !== undefined) opts.rateHz = parseNumberFlag('rate', rate, { minExclusive: 0, max: MAX_RATE_HZ });
  const duration = value('duration');
  if (duration !== undefined) opts.durationMs = parseDuration('duration', duration);
  const window = value('window');
  if (window !== undefined) {
    const ms = parseDuration('window', window);
    if (ms < MIN_WINDOW_MS) throw new UsageError(`flag --window must be at least 1s, got "${window}"`);
    opts.windowMs = ms;
  }
  const backfill = value('backfill');
  if (backfill !== undefined) opts.backfillMs = parseDuration('backfill', backfill);
  const seed = value('seed');
  if (seed !== undefined) {
    opts.seed = parseIntegerFlag('seed', seed, SEED_RANGE);
  }
  const chaos = value('chaos');
  if (chaos !== undefined) opts.chaosSeed = parseIntegerFlag('chaos', chaos, SEED_RANGE);
  return opts;
}

export const START_HELP = `Usage: npm start -- [flags]

Runs the whole pipeline on this machine: the embedded local cloud (kinesis-local,
dynalite, fauxqs), a simulated sensor fleet writing to the stream, the real window
handler behind a local event source mapping, and a live view of what comes out.

Flags:
  --sensors N          simulated sensors (default ${START_DEFAULTS.sensors}, max ${MAX_SENSORS})
  --rate HZ            readings per second per sensor (default ${START_DEFAULTS.rateHz}, max ${MAX_RATE_HZ})
  --duration DURATION  stop after this long, e.g. 90s, 5m (default 0: until Ctrl-C)
  --window DURATION    tumbling window size, e.g. 10s (default: cdk.json, else 60s)
  --backfill DURATION  event time sent at start-up (default: two windows; 0 for none)
  --seed N             simulator seed: same seed, same readings (default ${START_DEFAULTS.seed})
  --chaos SEED         chaos mode: inject faults (throttling, crashes, timeouts,
                       redeliveries, a reshard) decided by SEED; see local/chaos/README.md
  --verbose            emulator and provisioning details
  -h, --help           this text

Why windows appear at once: a window is final only when the sensor's event time has
passed its end by the allowed lateness (60 s + 10 s by default), so a fleet started
"now" would show its first final window after more than a minute. The simulator
therefore starts its event time in the past (--backfill, two windows by default) and
sends that history as fast as the stream takes it, then continues in real time: the
first final windows and alerts show within seconds, later ones as each window closes.
For faster windows use --window 10s.

The view redraws in place on a terminal (about twice a second) and prints plain lines
otherwise (CI, pipes). Ctrl-C (or SIGTERM) stops the simulator, the event source
mapping and the emulators, prints a summary and exits with 130 (143 for SIGTERM).
With --duration the run ends by itself and exits 0.`;

// ---------------------------------------------------------------------------------------
// npm run replay
// ---------------------------------------------------------------------------------------

export interface ReplayOptions {
  help: boolean;
  /** A file path, or `-` for standard input. */
  input?: string;
  outDir?: string;
  /** One endpoint for every AWS service (LocalStack, ...); no emulators are started. */
  endpoint?: string;
  /** Resource name prefix. */
  prefix?: string;
  /** Upper bound for the stream to be processed once every record was sent. */
  drainTimeoutMs?: number;
  /** Keep the resources created on `--endpoint` (they are deleted by default). */
  keepResources: boolean;
  /** Chaos mode's seed (`--chaos SEED`): faults injected, outputs unchanged. */
  chaosSeed?: number;
  quiet: boolean;
  verbose: boolean;
}

const REPLAY_FLAGS: FlagSpecs = {
  input: { kind: 'value', value: 'FILE' },
  stdin: { kind: 'boolean' },
  out: { kind: 'value', value: 'DIR' },
  endpoint: { kind: 'value', value: 'URL' },
  prefix: { kind: 'value', value: 'NAME' },
  'drain-timeout': { kind: 'value', value: 'DURATION' },
  'keep-resources': { kind: 'boolean' },
  chaos: { kind: 'value', value: 'SEED' },
  quiet: { kind: 'boolean', short: 'q' },
  verbose: { kind: 'boolean' },
  help: { kind: 'boolean', short: 'h' },
};

export function parseReplayArgs(argv: readonly string[]): ReplayOptions {
  const flags = parseFlags(argv, REPLAY_FLAGS);
  const value = (name: string) => flags.get(name) as string | undefined;
  const opts: ReplayOptions = {
    help: flags.get('help') === true,
    keepResources: flags.get('keep-resources') === true,
    quiet: flags.get('quiet') === true,
    verbose: flags.get('verbose') === true,
  };
  if (opts.help) return opts;
  const input = value('input');
  if (input !== undefined && flags.get('stdin') === true) {
    throw new UsageError('give either --input FILE or --stdin, not both');
  }
  if (input === undefined && flags.get('stdin') !== true) {
    throw new UsageError('missing --input FILE (or --stdin to read standard input)');
  }
  opts.input = input ?? '-';
  const out = value('out');
  if (out === undefined) throw new UsageError('missing --out DIR (where the four JSONL files are written)');
  opts.outDir = out;
  const endpoint = value('endpoint');
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new UsageError(`flag --endpoint must be a URL such as http://localhost:4566, got "${endpoint}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UsageError(`flag --endpoint must be an http(s) URL, got "${endpoint}"`);
    }
    opts.endpoint = endpoint;
  }
  const prefix = value('prefix');
  if (prefix !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{1,59}$/.test(prefix)) {
      throw new UsageError(
        `flag --prefix must be 2-60 letters, digits, "-" or "_", starting with a letter or digit, got "${prefix}"`,
      );
    }
    opts.prefix = prefix;
  }
  const drain = value('drain-timeout');
  if (drain !== undefined) {
    const ms = parseDuration('drain-timeout', drain);
    if (ms === 0) throw new UsageError('flag --drain-timeout must be above 0');
    opts.drainTimeoutMs = ms;
  }
  const chaos = value('chaos');
  if (chaos !== undefined) opts.chaosSeed = parseIntegerFlag('chaos', chaos, SEED_RANGE);
  return opts;
}

export const REPLAY_HELP = `Usage: npm run replay -- (--input FILE | --stdin) --out DIR [flags]

Sends each line of the input, in file order, as one record to the stream (partition
key: the line's sensorId / sensor_id, or a fixed key for lines that do not parse), runs
the real window handler through the local event source mapping until the stream is
drained, flushes the open windows, and writes four files to DIR:

  windows.jsonl   each final window, one line per metric
                  (sorted by sensorId, windowStart, metric)
  alerts.jsonl    each alert as delivered through SNS, once per alertId
                  (sorted by timestamp, sensorId, rule)
  late.jsonl      each late reading with its reason and input line (sorted by line)
  invalid.jsonl   each invalid record with its reason, original data (base64) and
                  input line (sorted by line)

Flags:
  --input FILE           the readings, one JSON object a line ("-" reads stdin)
  --stdin                read the readings from standard input
  --out DIR              output directory (created if missing)
  --endpoint URL         use an AWS-compatible endpoint (e.g. LocalStack at
                         http://localhost:4566) instead of the embedded emulators;
                         AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_<SERVICE>) does the same
  --prefix NAME          resource name prefix (default: windowpane, or a unique one
                         on --endpoint)
  --keep-resources       with --endpoint: keep the stream, tables, topic and queues
  --drain-timeout DUR    how long processing may take after the last record was sent
                         (default: 2 min plus 1 s per 200 records)
  --chaos SEED           chaos mode: the same run while faults are injected, decided
                         by SEED (DynamoDB throttling and 5xx, SNS failures, handler
                         crashes and timeouts, redeliveries, a reshard up and down);
                         the four files are the same as a clean run's
  -q, --quiet            no progress lines
  --verbose              emulator and provisioning details
  -h, --help             this text

Exit status: 0 when the run completed, whatever the data held (invalid and late
records are outputs, not errors); 1 when it could not run or complete (unreadable
input, output directory not writable, emulators or endpoint failing, drain timeout,
records the pipeline gave up on); 2 for bad flags.`;
