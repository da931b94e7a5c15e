/**
 * Flags of `npm run dashboard` (the dashboard on a deployed stack or an endpoint), on the
 * shared rules of local/cli/flags.ts: every problem is a `UsageError` naming the flag
 * (exit 2). Pure, so the rules are unit-tested.
 */
import { checkPrefix, REQUEST_TIMEOUT_FLAG } from '../cli/args.js';
import {
  flag,
  formatDuration,
  formatFlagHelp,
  HELP_FLAG,
  parseDuration,
  parseFlags,
  UsageError,
} from '../cli/flags.js';
import { DEFAULT_OPEN_POLL_MS } from './model.js';

const HOUR = 3_600_000;
export const DEFAULT_HORIZON_MS = 24 * HOUR;
/** Series are sized by the horizon (store.ts), within the store's per-series bound. */
const HORIZON_RANGE = { min: 60_000, max: 30 * 24 * HOUR };

function parseHorizon(text: string, name: string): number {
  const ms = parseDuration(name, text);
  if (ms < HORIZON_RANGE.min || ms > HORIZON_RANGE.max) {
    throw new UsageError(
      `flag --${name} must be from ${formatDuration(HORIZON_RANGE.min)} to ${formatDuration(HORIZON_RANGE.max)}, e.g. 6h, got "${text}"`,
    );
  }
  return ms;
}

/** The state table's re-read: off (0), or at least this far apart (a scan reads the whole table). */
const MIN_OPEN_POLL_MS = 1_000;

function parseOpenPoll(text: string, name: string): number {
  const ms = parseDuration(name, text);
  if (ms !== 0 && ms < MIN_OPEN_POLL_MS) {
    throw new UsageError(
      `flag --${name} must be 0 (off) or at least ${formatDuration(MIN_OPEN_POLL_MS)}, got "${text}"`,
    );
  }
  return ms;
}

const DASHBOARD_FLAGS = {
  stack: flag.string(
    'NAME',
    'CloudFormation stack whose outputs name the results table and\nstream, the readings stream and the alarms table',
  ),
  region: flag.string('R', 'AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)'),
  endpoint: flag.url('one endpoint for every service (LocalStack, moto, ...)'),
  prefix: flag.string('P', 'with --endpoint and no --stack: resource name prefix (default windowpane)', {
    check: checkPrefix,
  }),
  port: flag.integer('N', 'port to serve on (default: a free one)', { min: 0, max: 65_535, default: 0 }),
  open: flag.boolean('open the page in a browser'),
  horizon: flag.custom('DURATION', 'how far back the charts reach, e.g. 6h (default 24h)', parseHorizon),
  'max-windows': flag.integer(
    'N',
    'stop the initial scan of the results table after N windows\n(default 2000000)',
    {
      min: 1,
      max: 100_000_000,
      default: 2_000_000,
    },
  ),
  'open-every': flag.custom(
    'DURATION',
    `how often the state table is read for open windows, e.g. 30s;\n0: never (default ${formatDuration(DEFAULT_OPEN_POLL_MS)}; each read scans the whole table)`,
    parseOpenPoll,
  ),
  'request-timeout': REQUEST_TIMEOUT_FLAG,
  help: HELP_FLAG,
};

/**
 * The options of `npm run dashboard`: `horizonMs` how far back the charts reach,
 * `maxWindows` the bound of the initial table scan, `requestTimeoutMs` each AWS request's
 * limit (undefined: LOCAL_TIMEOUTS); `region` falls back to `AWS_REGION` in `env`.
 */
export function parseDashboardArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const { horizon, requestTimeout, region, openEvery, ...rest } = parseFlags(argv, DASHBOARD_FLAGS).values;
  const opts = {
    ...rest,
    openPollMs: openEvery ?? DEFAULT_OPEN_POLL_MS,
    region: region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    horizonMs: horizon ?? DEFAULT_HORIZON_MS,
    requestTimeoutMs: requestTimeout,
  };
  if (opts.help) return opts;
  if (opts.stack === undefined && opts.endpoint === undefined) {
    throw new UsageError('give --stack NAME (a deployed stack) or --endpoint URL');
  }
  if (opts.prefix !== undefined && opts.stack !== undefined) {
    throw new UsageError('flag --prefix is for --endpoint without --stack (a stack names its resources)');
  }
  if (opts.region === undefined && opts.endpoint === undefined) {
    throw new UsageError('flag --region is needed (or AWS_REGION) to find the stack');
  }
  return opts;
}

export type DashboardOptions = ReturnType<typeof parseDashboardArgs>;

export const DASHBOARD_HELP = `Usage: npm run dashboard -- (--stack NAME [--region R] | --endpoint URL [--stack NAME | --prefix P]) [flags]

Serves the windowpane dashboard on 127.0.0.1 for a deployed stack or an AWS-compatible
endpoint. AWS credentials are used by this process only; the page never sees them.

Flags:
${formatFlagHelp(DASHBOARD_FLAGS)}

Exit status: 0 on Ctrl-C, 1 when the stack or its resources cannot be read, 2 for bad flags.`;
