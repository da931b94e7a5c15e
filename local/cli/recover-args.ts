/**
 * Command line of `npm run recover`: the sub-command, its flags, and the target (which
 * stream, queues and tables) from flags or the environment the deployed function uses.
 * Pure, so the rules are unit-tested directly; every problem is a `UsageError` (exit 2).
 */
import { ENV } from '../../functions/lib/resources.js';
import { REQUEST_TIMEOUT_FLAG } from './args.js';
import { type Flag, flag, formatFlagHelp, HELP_FLAG, parseFlags, propertyName, UsageError } from './flags.js';

export type RecoverCommand = 'dlq list' | 'dlq redrive' | 'invalid list' | 'invalid redrive' | 'backfill';

const COMMANDS: readonly RecoverCommand[] = [
  'dlq list',
  'dlq redrive',
  'invalid list',
  'invalid redrive',
  'backfill',
];

/** Names beyond the handler's own: the input stream and the on-failure queue. */
export const STREAM_NAME_ENV = 'STREAM_NAME';
export const DLQ_URL_ENV = 'DLQ_URL';

/** Each target name: its environment variable and the flag that overrides it. */
export const TARGET_FLAGS = {
  stream: STREAM_NAME_ENV,
  'dlq-url': DLQ_URL_ENV,
  'invalid-queue-url': ENV.invalidQueueUrl,
  'late-queue-url': ENV.lateQueueUrl,
  'state-table': ENV.stateTable,
  'results-table': ENV.resultsTable,
  'alert-ledger-table': ENV.alertLedgerTable,
  'alert-topic-arn': ENV.alertTopicArn,
  'results-stream': ENV.resultsStream,
} as const;

type TargetFlag = keyof typeof TARGET_FLAGS;

/** What the real handler needs (RESULTS_STREAM_NAME and WINDOWPANE_CONFIG are optional). */
const HANDLER_NAMES: readonly TargetFlag[] = [
  'state-table',
  'results-table',
  'alert-ledger-table',
  'alert-topic-arn',
  'invalid-queue-url',
  'late-queue-url',
];

export const REQUIRED_TARGETS: Record<RecoverCommand, readonly TargetFlag[]> = {
  'dlq list': ['dlq-url'],
  'dlq redrive': ['dlq-url', ...HANDLER_NAMES],
  'invalid list': ['invalid-queue-url'],
  'invalid redrive': ['invalid-queue-url', 'stream'],
  backfill: ['stream', ...HANDLER_NAMES],
};

export type BackfillFrom =
  | { kind: 'timestamp'; at: Date }
  | { kind: 'sequence'; shardId: string; sequenceNumber: string };

/** Placeholders of the target flags in help and messages. */
const TARGET_PLACEHOLDERS: Record<TargetFlag, string> = {
  stream: 'NAME',
  'dlq-url': 'URL',
  'invalid-queue-url': 'URL',
  'late-queue-url': 'URL',
  'state-table': 'NAME',
  'results-table': 'NAME',
  'alert-ledger-table': 'NAME',
  'alert-topic-arn': 'ARN',
  'results-stream': 'NAME',
};

const TARGET_FLAG_SPECS = Object.fromEntries(
  Object.entries(TARGET_FLAGS).map(([f, envName]) => [
    f,
    flag.string(
      TARGET_PLACEHOLDERS[f as TargetFlag],
      f === 'results-stream' ? `${envName} (optional)` : envName,
    ),
  ]),
) as Record<TargetFlag, Flag<string, undefined>>;

function parseTimestamp(text: string, name: string): Date {
  // An ISO-8601 date-time with an explicit zone: a local-time reading would depend on the machine.
  const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text);
  const at = new Date(text);
  if (!ok || Number.isNaN(at.getTime())) {
    throw new UsageError(
      `flag --${name} must be an ISO-8601 time with a zone, e.g. 2026-01-01T00:00:00Z, got "${text}"`,
    );
  }
  return at;
}

function parseSequenceStart(text: string, name: string): BackfillFrom {
  const m = /^(shardId-\d+):(\d{1,129})$/.exec(text);
  if (!m) {
    throw new UsageError(
      `flag --${name} must be SHARD:SEQ, e.g. shardId-000000000000:4963..., got "${text}"`,
    );
  }
  return { kind: 'sequence', shardId: m[1]!, sequenceNumber: m[2]! };
}

/** The flags of the commands; COMMAND_FLAGS says which apply to which. */
const COMMAND_FLAG_SPECS = {
  apply: flag.boolean('make the changes (without it: a dry run)'),
  reason: flag.string('REASON', 'invalid redrive: only records rejected for this reason'),
  examples: flag.integer('N', 'invalid list: how many examples (default 5)', {
    min: 0,
    max: 100,
    default: 5,
  }),
  'from-timestamp': flag.custom('ISO', 'backfill from this arrival time', parseTimestamp),
  'from-sequence': flag.custom('SHARD:SEQ', 'backfill one shard from this record', parseSequenceStart),
  'to-timestamp': flag.custom('ISO', 'backfill up to this arrival time', parseTimestamp),
  'batch-size': flag.integer('N', 'backfill: records per handler invocation (default 500)', {
    min: 1,
    max: 10_000,
    default: 500,
  }),
};

/** Flags every command takes. */
const COMMON_FLAG_SPECS = {
  endpoint: flag.url(
    'an AWS-compatible endpoint for every service (LocalStack,\n' +
      'emulators); AWS_ENDPOINT_URL(_<SERVICE>) does the same',
  ),
  'request-timeout': REQUEST_TIMEOUT_FLAG,
  json: flag.boolean('one JSON report on stdout instead of lines'),
  help: HELP_FLAG,
};

const FLAGS = { ...COMMAND_FLAG_SPECS, ...TARGET_FLAG_SPECS, ...COMMON_FLAG_SPECS };

/** Only flags that make sense for the command (a misplaced flag is a mistake worth naming). */
const COMMAND_FLAGS: Record<RecoverCommand, readonly (keyof typeof COMMAND_FLAG_SPECS)[]> = {
  'dlq list': [],
  'dlq redrive': ['apply'],
  'invalid list': ['examples'],
  'invalid redrive': ['apply', 'reason'],
  backfill: ['apply', 'from-timestamp', 'from-sequence', 'to-timestamp', 'batch-size'],
};

export interface RecoverOptions {
  help: boolean;
  command?: RecoverCommand;
  apply: boolean;
  json: boolean;
  endpoint?: string;
  /** invalid redrive: only this reason. */
  reason?: string;
  /** invalid list: how many examples. */
  examples: number;
  from?: BackfillFrom;
  to?: Date;
  batchSize: number;
  /** Each AWS request's limit (default LOCAL_TIMEOUTS). */
  requestTimeoutMs?: number;
  /** Target names given as flags, by environment variable name. */
  targets: Record<string, string>;
}

export function parseRecoverArgs(argv: readonly string[]): RecoverOptions {
  const { values, given, positionals } = parseFlags(argv, FLAGS, { allowPositionals: true });
  const [first, second, extra] = positionals;
  const opts: RecoverOptions = {
    help: values.help,
    apply: values.apply,
    json: values.json,
    examples: values.examples,
    batchSize: values.batchSize,
    targets: {},
  };
  if (opts.help && positionals.length === 0) return opts;
  const name = [first, second].filter((w) => w !== undefined).join(' ');
  const command = COMMANDS.find((c) => c === name);
  if (!command) {
    throw new UsageError(
      positionals.length === 0
        ? `missing command: one of ${COMMANDS.join(', ')}`
        : `unknown command "${name}": one of ${COMMANDS.join(', ')}`,
    );
  }
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}" (flags start with --)`);
  opts.command = command;
  if (opts.help) return opts;
  for (const f of given) {
    const applies =
      !Object.hasOwn(COMMAND_FLAG_SPECS, f) ||
      COMMAND_FLAGS[command].includes(f as keyof typeof COMMAND_FLAG_SPECS);
    if (!applies) throw new UsageError(`flag --${f} does not apply to "${command}"`);
  }
  for (const [f, envName] of Object.entries(TARGET_FLAGS)) {
    const v = values[propertyName(f as TargetFlag)];
    if (v !== undefined) opts.targets[envName] = v;
  }
  if (values.endpoint !== undefined) opts.endpoint = values.endpoint;
  if (values.requestTimeout !== undefined) opts.requestTimeoutMs = values.requestTimeout;
  if (values.reason !== undefined) opts.reason = values.reason;

  if (command === 'backfill') {
    const ts = values.fromTimestamp;
    const seq = values.fromSequence;
    if ((ts === undefined) === (seq === undefined)) {
      throw new UsageError('backfill needs exactly one of --from-timestamp ISO or --from-sequence SHARD:SEQ');
    }
    opts.from = ts !== undefined ? { kind: 'timestamp', at: ts } : seq;
    const to = values.toTimestamp;
    if (to !== undefined) {
      opts.to = to;
      if (ts !== undefined && to.getTime() < ts.getTime()) {
        throw new UsageError('flag --to-timestamp must not be before --from-timestamp');
      }
    }
  }
  return opts;
}

/**
 * The target names the command needs, flags first, then the environment. Every missing
 * one is named with its variable and flag, in one error.
 */
export function resolveTargets(
  command: RecoverCommand,
  flagTargets: Record<string, string>,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const envName of Object.values(TARGET_FLAGS)) {
    const v = flagTargets[envName] ?? env[envName];
    if (v) out[envName] = v;
  }
  const missing = REQUIRED_TARGETS[command].filter((flag) => !out[TARGET_FLAGS[flag]]);
  if (missing.length > 0) {
    const names = missing.map((flag) => `${TARGET_FLAGS[flag]} (--${flag})`).join(', ');
    throw new UsageError(`"${command}" needs ${names}: set the variable or give the flag`);
  }
  return out;
}

/** One column for the help's three flag tables. */
const HELP_COLUMN = 29;

export const RECOVER_HELP = `Usage: npm run recover -- <command> [flags]

Inspect and redrive what the pipeline could not process, and re-process a stream range.
Dry run by default: nothing changes without --apply.

Commands:
  dlq list                 one line per batch range in the on-failure queue (DLQ_URL)
  dlq redrive [--apply]    re-read each range from the stream and run it through the
                           real window handler; delete the message when it succeeded
  invalid list [--examples N]
                           invalid records by reason, with a few examples
  invalid redrive [--apply] [--reason R]
                           put the original bytes back on the stream (NEW records:
                           only for records the handler rejected) and delete the messages
  backfill (--from-timestamp ISO | --from-sequence SHARD:SEQ) [--to-timestamp ISO]
           [--batch-size N] [--apply]
                           re-process a stream range through the real handler; records
                           already applied are duplicates, so results do not change

Target (flag, else environment variable; the deployed function's names):
${formatFlagHelp(TARGET_FLAG_SPECS, { minColumn: HELP_COLUMN })}
  ${ENV.config} (environment only) the handler's configuration; default: cdk.json

Command flags:
${formatFlagHelp(COMMAND_FLAG_SPECS, { minColumn: HELP_COLUMN })}

Other flags:
${formatFlagHelp(COMMON_FLAG_SPECS, { minColumn: HELP_COLUMN })}

Exit status: 0 done (or dry run), 1 something failed (messages are kept), 2 bad usage
or missing target names.`;
