/**
 * Command line of `npm run recover`: the sub-command, its flags, and the target (which
 * stream, queues and tables) from flags or the environment the deployed function uses.
 * Pure, so the rules are unit-tested directly; every problem is a `UsageError` (exit 2).
 */
import { ENV } from '../../functions/lib/resources.js';
import { parseFlags, parseIntegerFlag, UsageError } from './args.js';

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
  /** Target names given as flags, by environment variable name. */
  targets: Record<string, string>;
}

const FLAGS: Parameters<typeof parseFlags>[1] = {
  apply: { kind: 'boolean' },
  json: { kind: 'boolean' },
  endpoint: { kind: 'value', value: 'URL' },
  reason: { kind: 'value', value: 'REASON' },
  examples: { kind: 'value', value: 'N' },
  'from-timestamp': { kind: 'value', value: 'ISO' },
  'from-sequence': { kind: 'value', value: 'SHARD:SEQ' },
  'to-timestamp': { kind: 'value', value: 'ISO' },
  'batch-size': { kind: 'value', value: 'N' },
  help: { kind: 'boolean', short: 'h' },
  ...Object.fromEntries(Object.keys(TARGET_FLAGS).map((f) => [f, { kind: 'value' as const, value: 'NAME' }])),
};

/** Only flags that make sense for the command (a misplaced flag is a mistake worth naming). */
const COMMAND_FLAGS: Record<RecoverCommand, readonly string[]> = {
  'dlq list': [],
  'dlq redrive': ['apply'],
  'invalid list': ['examples'],
  'invalid redrive': ['apply', 'reason'],
  backfill: ['apply', 'from-timestamp', 'from-sequence', 'to-timestamp', 'batch-size'],
};
const COMMON_FLAGS = new Set(['json', 'endpoint', 'help', ...Object.keys(TARGET_FLAGS)]);

function parseTimestamp(flag: string, text: string): Date {
  // An ISO-8601 date-time with an explicit zone: a local-time reading would depend on the machine.
  const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text);
  const at = new Date(text);
  if (!ok || Number.isNaN(at.getTime())) {
    throw new UsageError(
      `flag --${flag} must be an ISO-8601 time with a zone, e.g. 2026-01-01T00:00:00Z, got "${text}"`,
    );
  }
  return at;
}

export function parseRecoverArgs(argv: readonly string[]): RecoverOptions {
  const words: string[] = [];
  let i = 0;
  while (i < argv.length && !argv[i]!.startsWith('-') && words.length < 2) words.push(argv[i++]!);
  const flags = parseFlags(argv.slice(i), FLAGS);
  const value = (name: string) => flags.get(name) as string | undefined;
  const opts: RecoverOptions = {
    help: flags.get('help') === true,
    apply: flags.get('apply') === true,
    json: flags.get('json') === true,
    examples: 5,
    batchSize: 500,
    targets: {},
  };
  if (opts.help && words.length === 0) return opts;
  const name = words.join(' ');
  const command = COMMANDS.find((c) => c === name);
  if (!command) {
    throw new UsageError(
      words.length === 0
        ? `missing command: one of ${COMMANDS.join(', ')}`
        : `unknown command "${name}": one of ${COMMANDS.join(', ')}`,
    );
  }
  opts.command = command;
  if (opts.help) return opts;
  for (const flag of flags.keys()) {
    if (!COMMON_FLAGS.has(flag) && !COMMAND_FLAGS[command].includes(flag)) {
      throw new UsageError(`flag --${flag} does not apply to "${command}"`);
    }
  }
  for (const [flag, envName] of Object.entries(TARGET_FLAGS)) {
    const v = value(flag);
    if (v !== undefined) opts.targets[envName] = v;
  }
  const endpoint = value('endpoint');
  if (endpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new UsageError(
        `flag --endpoint must be an http(s) URL such as http://localhost:4566, got "${endpoint}"`,
      );
    }
    opts.endpoint = endpoint;
  }
  const reason = value('reason');
  if (reason !== undefined) opts.reason = reason;
  const examples = value('examples');
  if (examples !== undefined) opts.examples = parseIntegerFlag('examples', examples, { min: 0, max: 100 });
  const batchSize = value('batch-size');
  if (batchSize !== undefined)
    opts.batchSize = parseIntegerFlag('batch-size', batchSize, { min: 1, max: 10_000 });

  if (command === 'backfill') {
    const ts = value('from-timestamp');
    const seq = value('from-sequence');
    if ((ts === undefined) === (seq === undefined)) {
      throw new UsageError('backfill needs exactly one of --from-timestamp ISO or --from-sequence SHARD:SEQ');
    }
    if (ts !== undefined) opts.from = { kind: 'timestamp', at: parseTimestamp('from-timestamp', ts) };
    if (seq !== undefined) {
      const m = /^(shardId-\d+):(\d{1,129})$/.exec(seq);
      if (!m) {
        throw new UsageError(
          `flag --from-sequence must be SHARD:SEQ, e.g. shardId-000000000000:4963..., got "${seq}"`,
        );
      }
      opts.from = { kind: 'sequence', shardId: m[1]!, sequenceNumber: m[2]! };
    }
    const to = value('to-timestamp');
    if (to !== undefined) {
      opts.to = parseTimestamp('to-timestamp', to);
      if (opts.from?.kind === 'timestamp' && opts.to.getTime() < opts.from.at.getTime()) {
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
  --stream NAME              STREAM_NAME
  --dlq-url URL              DLQ_URL
  --invalid-queue-url URL    ${ENV.invalidQueueUrl}
  --late-queue-url URL       ${ENV.lateQueueUrl}
  --state-table NAME         ${ENV.stateTable}
  --results-table NAME       ${ENV.resultsTable}
  --alert-ledger-table NAME  ${ENV.alertLedgerTable}
  --alert-topic-arn ARN      ${ENV.alertTopicArn}
  --results-stream NAME      ${ENV.resultsStream} (optional)
  ${ENV.config} (environment only) the handler's configuration; default: cdk.json
  --endpoint URL             an AWS-compatible endpoint for every service (LocalStack,
                             emulators); AWS_ENDPOINT_URL(_<SERVICE>) does the same

Other flags:
  --json                     one JSON report on stdout instead of lines
  -h, --help                 this text

Exit status: 0 done (or dry run), 1 something failed (messages are kept), 2 bad usage
or missing target names.`;
