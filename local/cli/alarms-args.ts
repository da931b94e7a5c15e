/**
 * Command line of `npm run alarms`: the command, its argument and flags, and which target.
 * Pure, so the rules are unit-tested directly; every problem is a `UsageError` (exit 2)
 * naming the flag or argument.
 */
import { userInfo } from 'node:os';
import { MAX_SNOOZE_MS } from '../../functions/domain/alarms/control.js';
import { parseAlarmId } from '../../functions/domain/alarms/entry.js';
import type { ActionType } from '../../functions/domain/alarms/lifecycle.js';
import { DEFAULT_ACTION_WAIT_MS } from '../alarms/actions.js';
import { REQUEST_TIMEOUT_FLAG } from './args.js';
import { flag, formatFlagHelp, HELP_FLAG, parseFlags, UsageError } from './flags.js';

export type AlarmsCommand = 'list' | 'history' | ActionType;
const ACTIONS: readonly ActionType[] = ['ack', 'snooze', 'disable', 'enable', 'reset'];
const COMMANDS: readonly AlarmsCommand[] = ['list', ...ACTIONS, 'history'];

const COMMAND_FLAG_SPECS = {
  note: flag.string('TEXT', 'what the action is about (ack, snooze, disable, enable, reset)'),
  for: flag.duration('snooze: how long, e.g. 30m, 1h (at most 30 days)', {
    positive: true,
    placeholder: 'DURATION',
  }),
  by: flag.string('NAME', 'who acts (default: the OS user)'),
  wait: flag.duration(`how long to wait for the outcome (default ${DEFAULT_ACTION_WAIT_MS / 1000}s)`, {
    positive: true,
  }),
  'no-wait': flag.boolean('put the action and return without waiting for its outcome'),
};
type CommandFlag = keyof typeof COMMAND_FLAG_SPECS;

const TARGET_FLAG_SPECS = {
  endpoint: flag.url('an AWS-compatible endpoint (the local cloud names of --prefix there)'),
  prefix: flag.string(
    'PREFIX',
    'the resource prefix on the endpoint (default windowpane);\nwith AWS_ENDPOINT_URL(_<SERVICE>) set, no --endpoint needed',
  ),
  stack: flag.string('NAME', 'a deployed stack: its StreamName and AlarmsTableName outputs'),
  region: flag.string('REGION', 'with --stack: its region (default AWS_REGION)'),
};

const COMMON_FLAG_SPECS = {
  json: flag.boolean('JSON on stdout instead of lines'),
  'request-timeout': REQUEST_TIMEOUT_FLAG,
  help: HELP_FLAG,
};

const FLAGS = { ...COMMAND_FLAG_SPECS, ...TARGET_FLAG_SPECS, ...COMMON_FLAG_SPECS };

const ACTION_FLAGS: readonly CommandFlag[] = ['note', 'by', 'wait', 'no-wait'];
const COMMAND_FLAGS: Record<AlarmsCommand, readonly CommandFlag[]> = {
  list: [],
  history: [],
  ack: ACTION_FLAGS,
  snooze: [...ACTION_FLAGS, 'for'],
  disable: ACTION_FLAGS,
  enable: ACTION_FLAGS,
  reset: ACTION_FLAGS,
};

export type AlarmsTargetChoice =
  | { kind: 'local' }
  /** `endpoint` absent: the AWS_ENDPOINT_URL(_<SERVICE>) variables say where. */
  | { kind: 'endpoint'; endpoint?: string; prefix: string }
  | { kind: 'stack'; stack: string; endpoint?: string; region?: string };

export interface AlarmsOptions {
  help: boolean;
  command?: AlarmsCommand;
  /** The alarm id (actions) or the sensor id (history). */
  argument?: string;
  note?: string;
  forMs?: number;
  by: string;
  /** 0: do not wait. */
  waitMs: number;
  json: boolean;
  requestTimeoutMs?: number;
  target: AlarmsTargetChoice;
}

function osUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

export function parseAlarmsArgs(argv: readonly string[], whoAmI: () => string = osUser): AlarmsOptions {
  const { values, given, positionals } = parseFlags(argv, FLAGS, { allowPositionals: true });
  const [name, argument, extra] = positionals;
  const opts: AlarmsOptions = {
    help: values.help,
    by: values.by ?? '',
    waitMs: DEFAULT_ACTION_WAIT_MS,
    json: values.json,
    target: { kind: 'local' },
  };
  if (opts.help) return opts;
  const command = COMMANDS.find((c) => c === name);
  if (!command) {
    throw new UsageError(
      name === undefined
        ? `missing command: one of ${COMMANDS.join(', ')}`
        : `unknown command "${name}": one of ${COMMANDS.join(', ')}`,
    );
  }
  opts.command = command;
  for (const f of given) {
    if (Object.hasOwn(COMMAND_FLAG_SPECS, f) && !COMMAND_FLAGS[command].includes(f as CommandFlag))
      throw new UsageError(`flag --${f} does not apply to "${command}"`);
  }
  if (command === 'list') {
    if (argument !== undefined) throw new UsageError(`unexpected argument "${argument}": list takes none`);
  } else {
    const what = command === 'history' ? 'SENSOR' : 'ALARM_ID';
    if (argument === undefined) throw new UsageError(`"${command}" needs ${what}`);
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}" (flags start with --)`);
    if (command !== 'history' && !parseAlarmId(argument))
      throw new UsageError(`ALARM_ID "${argument}" is not <rule>@<sensorId> (as \`list\` shows it)`);
    opts.argument = argument;
  }
  if (command === 'snooze') {
    if (values.for === undefined) throw new UsageError('"snooze" needs --for DURATION (e.g. --for 1h)');
    if (values.for > MAX_SNOOZE_MS) throw new UsageError('flag --for must be at most 30 days (720h)');
    opts.forMs = values.for;
  }
  if (values.note !== undefined) opts.note = values.note;
  if (values.noWait && values.wait !== undefined)
    throw new UsageError('flag --no-wait cannot be combined with --wait');
  opts.waitMs = values.noWait ? 0 : (values.wait ?? DEFAULT_ACTION_WAIT_MS);
  if (ACTIONS.includes(command as ActionType)) opts.by = values.by ?? whoAmI();
  if (values.requestTimeout !== undefined) opts.requestTimeoutMs = values.requestTimeout;

  if (values.stack !== undefined) {
    if (values.prefix !== undefined) throw new UsageError('flag --prefix cannot be combined with --stack');
    opts.target = {
      kind: 'stack',
      stack: values.stack,
      ...(values.endpoint !== undefined ? { endpoint: values.endpoint } : {}),
      ...(values.region !== undefined ? { region: values.region } : {}),
    };
  } else if (values.endpoint !== undefined || values.prefix !== undefined) {
    if (values.region !== undefined) throw new UsageError('flag --region needs --stack');
    opts.target = {
      kind: 'endpoint',
      ...(values.endpoint !== undefined ? { endpoint: values.endpoint } : {}),
      prefix: values.prefix ?? 'windowpane',
    };
  } else if (values.region !== undefined) {
    throw new UsageError('flag --region needs --stack');
  }
  return opts;
}

const HELP_COLUMN = 26;

export const ALARMS_HELP = `Usage: npm run alarms -- <command> [flags]

List alarms, act on one, or show a sensor's alarm history. An action is checked against
the alarm's state (refused with the state named), put on the readings stream in the
sensor's order, and waited for until the pipeline has applied it.

Commands:
  list                     every alarm with its state
  ack ALARM_ID [--note T]  acknowledge an ACTIVE (or LATCHED) alarm
  snooze ALARM_ID --for D  SNOOZE_DISABLED for D (e.g. 1h); it ends by itself
  disable ALARM_ID         DISABLED until enabled
  enable ALARM_ID          back to NORMAL from DISABLED or SNOOZE_DISABLED
  reset ALARM_ID           back to NORMAL from ACTIVE, ACKNOWLEDGED or LATCHED
  history SENSOR           the sensor's transitions, oldest first, with who and when

ALARM_ID is <rule>@<sensorId>, as list shows it.

Action flags:
${formatFlagHelp(COMMAND_FLAG_SPECS, { minColumn: HELP_COLUMN })}

Target (default: the local cloud of a running \`npm start\`):
${formatFlagHelp(TARGET_FLAG_SPECS, { minColumn: HELP_COLUMN })}

Other flags:
${formatFlagHelp(COMMON_FLAG_SPECS, { minColumn: HELP_COLUMN })}

Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 bad usage.`;
