/**
 * Command-line flags of `npm start` and `npm run replay`, parsed into plain option
 * objects with the shared rules of flags.ts: every problem (unknown flag, missing or
 * malformed value, out-of-range number, conflicting flags) is a `UsageError` naming the
 * flag, which the commands turn into exit status 2. Pure, so the rules are unit-tested.
 *
 * Adding a flag is one line in START_FLAGS or REPLAY_FLAGS: its value appears under its
 * name in the parsed options, typed, and its help line in the help text.
 */
import { LOCAL_TIMEOUTS } from '../../functions/lib/clients.js';
import { DEFAULT_SETUP_TIMEOUT_MS } from '../pipeline/deadline.js';
import { REPLAY_FORMATS } from '../replay-formats.js';
import { flag, formatFlagHelp, HELP_FLAG, parseFlags, UsageError } from './flags.js';

/** Shared by replay and recover: one AWS request, each SDK attempt. */
export const REQUEST_TIMEOUT_FLAG = flag.duration(
  `how long one AWS request may take before the SDK retries it\n(default ${LOCAL_TIMEOUTS.requestMs / 1000}s)`,
  { placeholder: 'DUR', min: 100 },
);

/** Seeds are 32-bit: negative ones are accepted for symmetry with other tools. */
const SEED_RANGE = { min: -(2 ** 31), max: 2 ** 32 - 1 };

// ---------------------------------------------------------------------------------------
// npm start
// ---------------------------------------------------------------------------------------

export const START_DEFAULTS = { sensors: 5, rateHz: 1, durationMs: 0, seed: 42 } as const;

/** Bounds that keep the demo within what the embedded Kinesis emulator can take. */
export const MAX_SENSORS = 10_000;
export const MAX_RATE_HZ = 1_000;
export const MIN_WINDOW_MS = 1_000;
/** The formats the simulator can write (a replay may also send KPL aggregates). */
export const START_FORMATS = ['json', 'avro'] as const;

const START_FLAGS = {
  sensors: flag.integer('N', `simulated sensors (default ${START_DEFAULTS.sensors}, max ${MAX_SENSORS})`, {
    min: 1,
    max: MAX_SENSORS,
    default: START_DEFAULTS.sensors,
  }),
  rate: flag.number(
    'HZ',
    `readings per second per sensor (default ${START_DEFAULTS.rateHz}, max ${MAX_RATE_HZ})`,
    { minExclusive: 0, max: MAX_RATE_HZ, default: START_DEFAULTS.rateHz },
  ),
  duration: flag.duration('stop after this long, e.g. 90s, 5m (default 0: until Ctrl-C)', {
    default: START_DEFAULTS.durationMs,
  }),
  window: flag.duration('tumbling window size, e.g. 10s (default: cdk.json, else 60s)', {
    min: MIN_WINDOW_MS,
  }),
  backfill: flag.duration('event time sent at start-up (default: two windows; 0 for none)'),
  seed: flag.integer('N', `simulator seed: same seed, same readings (default ${START_DEFAULTS.seed})`, {
    ...SEED_RANGE,
    default: START_DEFAULTS.seed,
  }),
  chaos: flag.integer(
    'SEED',
    'chaos mode: inject faults (throttling, crashes, timeouts,\n' +
      'redeliveries, a reshard) decided by SEED; see local/chaos/README.md',
    SEED_RANGE,
  ),
  verbose: flag.boolean('emulator and provisioning details'),
  format: flag.oneOf(
    START_FORMATS,
    'how the simulator writes readings: json (default), or\navro (Glue Schema Registry framing, through the local registry)',
    {
      default: 'json',
    },
  ),
  mqtt: flag.boolean(
    'also run an MQTT broker on 127.0.0.1 that forwards\nwindowpane/<sensorId>/telemetry publishes to the stream',
  ),
  lake: flag.string(
    'DIR',
    'also write final windows and alarm transitions as Parquet,\npartitioned by date, under DIR/{windows,transitions}/dt=YYYY-MM-DD/',
  ),
  open: flag.boolean('open the dashboard in a browser'),
  'no-dashboard': flag.boolean('do not serve the web dashboard (the terminal view only)'),
  'no-anomalies': flag.boolean(
    'no alarm demo: without it, sensor_1..3 get a spike, a drift\nand a fast ramp (zscore, ewma and rate alarm rules), and a\nburst, cold-then-hot and a silence (n-of-m, sequence and\nabsence), each rule scoped to its sensor',
  ),
  help: HELP_FLAG,
};

/**
 * The options of `npm start`: every flag under its own name, except those renamed to say
 * their unit (`rateHz`: readings per second per sensor; `durationMs`: 0 runs until
 * Ctrl-C; `windowMs`: undefined keeps the configured windows; `backfillMs`: undefined
 * means two windows; `chaosSeed`: chaos mode's seed, faults injected, outputs unchanged;
 * `dashboard`: serve the web dashboard, false for `--no-dashboard`; `anomalies`: the anomaly
 * demo's faults and rules, false for `--no-anomalies`; `lakeDir`: where final
 * windows and alarm transitions go as Parquet; `mqtt`: run the MQTT bridge; `format`: the simulator's format).
 */
export function parseStartArgs(argv: readonly string[]) {
  const { rate, duration, window, backfill, chaos, noDashboard, noAnomalies, lake, ...rest } = parseFlags(
    argv,
    START_FLAGS,
  ).values;
  if (rest.open && noDashboard) throw new UsageError('flag --open needs the dashboard: drop --no-dashboard');
  return {
    ...rest,
    rateHz: rate,
    durationMs: duration,
    windowMs: window,
    backfillMs: backfill,
    chaosSeed: chaos,
    dashboard: !noDashboard,
    anomalies: !noAnomalies,
    lakeDir: lake,
  };
}

export type StartOptions = ReturnType<typeof parseStartArgs>;

export const START_HELP = `Usage: npm start -- [flags]

Runs the whole pipeline on this machine: the embedded local cloud (kinesis-local,
dynalite, fauxqs), a simulated sensor fleet writing to the stream, the real window
handler behind a local event source mapping, and a live view of what comes out.

Flags:
${formatFlagHelp(START_FLAGS)}

The web dashboard (charts per sensor, alerts, late and invalid records, the pipeline's
health) is served on a free 127.0.0.1 port whose URL is printed at start-up.

Why windows appear at once: a window is final only when the sensor's event time has
passed its end by the allowed lateness (60 s + 10 s by default), so a fleet started
"now" would show its first final window after more than a minute. The simulator
therefore starts its event time in the past (--backfill, two windows by default) and
sends that history as fast as the stream takes it, then continues in real time: the
first final windows and alerts show within seconds, later ones as each window closes.
For faster windows use --window 10s.

The terminal view redraws in place on a terminal (about twice a second; with the
dashboard, a status line every few seconds instead) and prints plain lines otherwise
(CI, pipes). Ctrl-C (or SIGTERM) stops the simulator, the event source
mapping and the emulators, prints a summary and exits with 130 (143 for SIGTERM).
With --duration the run ends by itself and exits 0.`;

// ---------------------------------------------------------------------------------------
// npm run replay
// ---------------------------------------------------------------------------------------

const PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{1,59}$/;

/** A resource name prefix as the local cloud names resources (replay, the dashboard). */
export function checkPrefix(text: string, name: string): void {
  if (!PREFIX_PATTERN.test(text)) {
    throw new UsageError(
      `flag --${name} must be 2-60 letters, digits, "-" or "_", starting with a letter or digit, got "${text}"`,
    );
  }
}

const REPLAY_FLAGS = {
  input: flag.string('FILE', 'the readings, one JSON object a line ("-" reads stdin)'),
  stdin: flag.boolean('read the readings from standard input'),
  out: flag.string('DIR', 'output directory (created if missing)'),
  endpoint: flag.url(
    'use an AWS-compatible endpoint (e.g. LocalStack at\n' +
      'http://localhost:4566) instead of the embedded emulators;\n' +
      'AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_<SERVICE>) does the same',
  ),
  prefix: flag.string('NAME', 'resource name prefix (default: windowpane, or a unique one\non --endpoint)', {
    check: checkPrefix,
  }),
  'keep-resources': flag.boolean('with --endpoint: keep the stream, tables, topic and queues'),
  stack: flag.string(
    'NAME',
    'with --endpoint: run on the resources of this deployed stack\n' +
      '(its outputs) with its bundled handler (npm run deploy:moto)',
  ),
  'drain-timeout': flag.duration(
    'an overall bound on processing after the last record was sent\n(default: none; replay fails once no record completes for 5 min)',
    { placeholder: 'DUR', positive: true },
  ),
  'setup-timeout': flag.duration(
    `how long creating the resources and opening the stream may\ntake (default ${DEFAULT_SETUP_TIMEOUT_MS / 1000}s)`,
    { placeholder: 'DUR', positive: true },
  ),
  'request-timeout': REQUEST_TIMEOUT_FLAG,
  chaos: flag.integer(
    'SEED',
    'chaos mode: the same run while faults are injected, decided\n' +
      'by SEED (DynamoDB throttling and 5xx, SNS failures, handler\n' +
      'crashes and timeouts, redeliveries, a reshard up and down);\n' +
      "the four files are the same as a clean run's",
    SEED_RANGE,
  ),
  format: flag.oneOf(
    REPLAY_FORMATS,
    'wire format of the records: json (each line as it is,\ndefault), avro (valid readings as Glue-framed Avro), kpl\n(lines packed into KPL aggregates); the files are the same',
    {
      default: 'json',
    },
  ),
  lake: flag.string(
    'DIR',
    'also write the final windows and alarm transitions as\nParquet, partitioned by date, under\nDIR/{windows,transitions}/dt=YYYY-MM-DD/',
  ),
  'retry-attempts': flag.integer(
    'N',
    'with --chaos: the mapping retries a failed batch N times, then\n' +
      'sends it to the on-failure queue (default: without limit);\n' +
      'npm run recover -- dlq redrive brings it back',
    { min: 0, max: 10_000 },
  ),
  rules: flag.string(
    'FILE',
    'a rules file (as npm run rules -- put reads) whose rules replace\n' +
      'the configured ones for this replay (default: the configured rules)',
  ),
  quiet: flag.boolean('no progress lines', { short: 'q' }),
  verbose: flag.boolean('emulator and provisioning details'),
  help: HELP_FLAG,
};

/** True when the SDK's endpoint variables point somewhere (see `endpointTarget`). */
function endpointFromEnvironment(env: NodeJS.ProcessEnv): boolean {
  return Object.entries(env).some(([k, v]) => v && /^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$/.test(k));
}

/**
 * The options of `npm run replay`: `input` is a path or `-` (standard input), `outDir`
 * the output directory, `drainTimeoutMs` the bound for processing once every record was
 * sent, `setupTimeoutMs` the one for set-up, `requestTimeoutMs` each AWS request's,
 * `keepResources` keeps what `--endpoint` created, `chaosSeed` is chaos mode's seed.
 * `env` only tells whether the SDK's endpoint variables name a target (`--keep-resources`).
 */
export function parseReplayArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const { values } = parseFlags(argv, REPLAY_FLAGS);
  const {
    input,
    stdin,
    out,
    drainTimeout,
    setupTimeout,
    requestTimeout,
    chaos,
    retryAttempts,
    lake,
    ...rest
  } = values;
  const opts = {
    ...rest,
    drainTimeoutMs: drainTimeout,
    setupTimeoutMs: setupTimeout,
    requestTimeoutMs: requestTimeout,
    chaosSeed: chaos,
    chaosRetryAttempts: retryAttempts,
    input: stdin ? '-' : input,
    outDir: out,
    lakeDir: lake,
  };
  if (opts.help) return opts;
  if (input !== undefined && stdin) throw new UsageError('give either --input FILE or --stdin, not both');
  if (input === undefined && !stdin) {
    throw new UsageError('missing --input FILE (or --stdin to read standard input)');
  }
  if (out === undefined) throw new UsageError('missing --out DIR (where the four JSONL files are written)');
  if (opts.stack !== undefined && opts.endpoint === undefined && !endpointFromEnvironment(env)) {
    throw new UsageError(
      'flag --stack needs --endpoint URL (or AWS_ENDPOINT_URL): where the stack is deployed',
    );
  }
  if (
    opts.stack !== undefined &&
    (opts.chaosSeed !== undefined || opts.prefix !== undefined || opts.rules !== undefined)
  ) {
    const other = opts.chaosSeed !== undefined ? 'chaos' : opts.prefix !== undefined ? 'prefix' : 'rules';
    throw new UsageError(
      `flag --stack runs the deployed resources and handler as they are: it cannot be combined with --${other}`,
    );
  }
  if (retryAttempts !== undefined && chaos === undefined) {
    throw new UsageError(
      'flag --retry-attempts needs --chaos SEED: without chaos the mapping uses eventSource.retryAttempts',
    );
  }
  if (opts.keepResources && opts.endpoint === undefined && !endpointFromEnvironment(env)) {
    // The embedded emulators keep their data in memory: there is nothing to keep.
    throw new UsageError(
      'flag --keep-resources needs --endpoint URL (or AWS_ENDPOINT_URL): the embedded emulators stop with the run',
    );
  }
  return opts;
}

export type ReplayOptions = ReturnType<typeof parseReplayArgs>;

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

With --lake DIR the final windows are also written as Parquet files, partitioned by
date (DIR/windows/dt=YYYY-MM-DD/part-*.parquet), one row per line of windows.jsonl,
and the alarm transitions beside them (DIR/transitions/dt=YYYY-MM-DD/, by the UTC date
of each transition), one row per line of alarms.jsonl.

Flags:
${formatFlagHelp(REPLAY_FLAGS)}

Exit status: 0 when the run completed, whatever the data held (invalid and late
records are outputs, not errors); 1 when it could not run or complete (unreadable
input, output directory not writable, emulators or endpoint failing or not answering
in time, drain timeout, records the pipeline gave up on); 2 for bad flags.`;
