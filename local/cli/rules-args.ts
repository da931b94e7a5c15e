/**
 * Command line of `npm run rules`: the sub-command, its argument, and which rules table
 * (a running `npm start`'s local cloud, any endpoint, or a deployed stack). Pure, so the
 * rules are unit-tested; every problem is a `UsageError` naming the flag (exit 2).
 */
import { ENV } from '../../functions/lib/resources.js';
import { checkPrefix, REQUEST_TIMEOUT_FLAG } from './args.js';
import { flag, formatFlagHelp, HELP_FLAG, parseFlags, UsageError } from './flags.js';

export type RulesCommand = 'list' | 'get' | 'put' | 'delete' | 'import' | 'export';

const COMMANDS: readonly RulesCommand[] = ['list', 'get', 'put', 'delete', 'import', 'export'];

/** What the word after the command is, per command (absent: none). */
const ARGUMENT: Partial<Record<RulesCommand, 'NAME' | 'FILE'>> = {
  get: 'NAME',
  delete: 'NAME',
  put: 'FILE',
  import: 'FILE',
};

/**
 * `--scope all | prefix:P | tag:T | sensor:ID` -> the scope key of a row (`all`,
 * `prefix#P`, ...), the form docs/SEMANTICS.md A-R2 and the table use.
 */
export function parseScope(text: string, name: string): string {
  if (text === 'all') return 'all';
  const m = /^(prefix|tag|sensor)[:#](.+)$/.exec(text);
  if (!m) {
    throw new UsageError(`flag --${name} must be all, prefix:P, tag:T or sensor:ID, got "${text}"`);
  }
  return `${m[1]}#${m[2]}`;
}

const TARGET_FLAGS = {
  endpoint: flag.url(
    'DynamoDB endpoint of the table (the one `npm start` prints,\n' +
      'LocalStack, moto); with --stack its CloudFormation too',
  ),
  table: flag.string('NAME', `the rules table (default: ${ENV.rulesTable}, else <prefix>-Rules)`),
  prefix: flag.string('P', "with --endpoint: the local cloud's prefix (default windowpane)", {
    check: checkPrefix,
  }),
  stack: flag.string('NAME', 'a deployed stack: its output RulesTableName names the table'),
  region: flag.string('R', 'AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)'),
};

const COMMAND_FLAGS = {
  scope: flag.custom('SCOPE', 'get, delete: all (default), prefix:P, tag:T or sensor:ID', parseScope),
};

const OTHER_FLAGS = {
  json: flag.boolean('list, get, put, delete, import: one JSON report on stdout'),
  'request-timeout': REQUEST_TIMEOUT_FLAG,
  help: HELP_FLAG,
};

const FLAGS = { ...TARGET_FLAGS, ...COMMAND_FLAGS, ...OTHER_FLAGS };

export type RulesTarget =
  | { kind: 'table'; table: string; endpoint?: string; region?: string }
  | { kind: 'stack'; stack: string; endpoint?: string; region?: string };

export interface RulesOptions {
  help: boolean;
  command?: RulesCommand;
  /** The rule's name (get, delete) or the file (put, import). */
  argument?: string;
  scope: string;
  json: boolean;
  target?: RulesTarget;
  requestTimeoutMs?: number;
}

export function parseRulesArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): RulesOptions {
  const { values, given, positionals } = parseFlags(argv, FLAGS, { allowPositionals: true });
  const opts: RulesOptions = { help: values.help, scope: values.scope ?? 'all', json: values.json };
  if (values.requestTimeout !== undefined) opts.requestTimeoutMs = values.requestTimeout;
  const [word, argument, extra] = positionals;
  if (opts.help && word === undefined) return opts;
  const command = COMMANDS.find((c) => c === word);
  if (!command) {
    throw new UsageError(
      word === undefined
        ? `missing command: one of ${COMMANDS.join(', ')}`
        : `unknown command "${word}": one of ${COMMANDS.join(', ')}`,
    );
  }
  opts.command = command;
  if (opts.help) return opts;
  const wanted = ARGUMENT[command];
  if (wanted && argument === undefined) throw new UsageError(`"${command}" needs ${wanted}`);
  const surplus = wanted ? extra : argument;
  if (surplus !== undefined) throw new UsageError(`unexpected argument "${surplus}" (flags start with --)`);
  if (argument !== undefined) opts.argument = argument;
  if (given.has('scope') && command !== 'get' && command !== 'delete') {
    throw new UsageError(
      `flag --scope does not apply to "${command}" (a rules file names each rule's scope)`,
    );
  }
  if (given.has('json') && command === 'export') {
    throw new UsageError('flag --json does not apply to "export" (it always prints JSON)');
  }
  opts.target = resolveTarget(values, env);
  return opts;
}

function resolveTarget(
  values: { endpoint?: string; table?: string; prefix?: string; stack?: string; region?: string },
  env: NodeJS.ProcessEnv,
): RulesTarget {
  const region = values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const where = {
    ...(values.endpoint !== undefined ? { endpoint: values.endpoint } : {}),
    ...(region !== undefined ? { region } : {}),
  };
  if (values.stack !== undefined) {
    if (values.table !== undefined)
      throw new UsageError('flag --table cannot be combined with --stack (the stack names its table)');
    if (values.prefix !== undefined)
      throw new UsageError('flag --prefix cannot be combined with --stack (the stack names its table)');
    if (region === undefined && values.endpoint === undefined) {
      throw new UsageError('flag --region is needed (or AWS_REGION) to find the stack');
    }
    return { kind: 'stack', stack: values.stack, ...where };
  }
  if (values.prefix !== undefined && values.endpoint === undefined) {
    throw new UsageError("flag --prefix needs --endpoint URL (it names a local cloud's table)");
  }
  const table =
    values.table ??
    (values.endpoint !== undefined ? undefined : env[ENV.rulesTable]) ??
    (values.endpoint !== undefined ? `${values.prefix ?? 'windowpane'}-Rules` : undefined);
  if (table === undefined) {
    throw new UsageError(
      'no rules table: give --endpoint URL (the line `npm start` prints), --stack NAME --region R, ' +
        `or --table NAME (or set ${ENV.rulesTable})`,
    );
  }
  if (values.prefix !== undefined && values.table !== undefined) {
    throw new UsageError('flag --prefix cannot be combined with --table (either names the table)');
  }
  return { kind: 'table', table, ...where };
}

const HELP_COLUMN = 26;

export const RULES_HELP = `Usage: npm run rules -- <command> [flags]

Reads and changes the rules a running windowpane applies (docs/SEMANTICS.md A-R3..A-R6).
Every write is at the next version of the rule's row and bumps the table's revision, so
handlers pick it up within alarms.rulesRefreshMs.

Commands:
  list                   the rules in force: the table's rows over the configured ones
  get NAME [--scope S]   one rule as JSON (with its version and where it comes from)
  put FILE               validate the rule(s) in FILE and write each at its next version
  delete NAME [--scope S]
                         write a tombstone: the rule stops applying (a configured rule of
                         that name and scope applies again)
  import FILE            like put, but rules equal to their row are not written again
  export                 the table's rules as a rules file on stdout (import reads it)

A rules file is JSON: one rule, an array of rules, or {"rules": [...]}. A file with a bad
rule is refused whole, naming the field, and nothing is written.

Target (one of):
${formatFlagHelp(TARGET_FLAGS, { minColumn: HELP_COLUMN })}

Command flags:
${formatFlagHelp(COMMAND_FLAGS, { minColumn: HELP_COLUMN })}

Other flags:
${formatFlagHelp(OTHER_FLAGS, { minColumn: HELP_COLUMN })}
  WINDOWPANE_CONFIG       (environment only) the configuration rules are checked
                          against; default: cdk.json

Exit status: 0 done, 1 refused or failed (a bad file, no such rule, the table
unreachable), 2 bad usage.`;
