/**
 * The shared flag rules of local/cli/flags.ts: what every command (start, replay, recover,
 * bench) accepts and how each mistake is named. The commands' own tests cover their flags.
 */
import { describe, expect, it } from 'vitest';
import { parseReplayArgs } from '../../local/cli/args.js';
import {
  closestName,
  type FlagSet,
  flag,
  formatDuration,
  formatFlagHelp,
  HELP_FLAG,
  parseFlags,
  propertyName,
  UsageError,
} from '../../local/cli/flags.js';

const SPECS = {
  rules: flag.string('FILE', 'rule file'),
  format: flag.oneOf(['jsonl', 'avro'], 'output format', { default: 'jsonl' }),
  lake: flag.string('DIR', 'write Parquet here'),
  'no-dashboard': flag.boolean('do not serve the dashboard'),
  timeout: flag.duration('request timeout', { min: 100, default: 5_000 }),
  count: flag.integer('N', 'how many', { min: 1, max: 9 }),
  help: HELP_FLAG,
} satisfies FlagSet;

function usageMessage(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).name).toBe('UsageError');
    return (err as UsageError).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseFlags', () => {
  it('gives every flag its fallback when nothing is given', () => {
    const { values, given, positionals } = parseFlags([], SPECS);
    expect(values).toEqual({
      rules: undefined,
      format: 'jsonl',
      lake: undefined,
      noDashboard: false,
      timeout: 5_000,
      count: undefined,
      help: false,
    });
    expect(given.size).toBe(0);
    expect(positionals).toEqual([]);
  });

  it('reads values in both spellings, short forms and values starting with one dash', () => {
    const { values, given } = parseFlags(
      ['--rules', 'r.json', '--format=avro', '--no-dashboard', '--timeout', '2s', '-h', '--lake', '-'],
      SPECS,
    );
    expect(values).toMatchObject({
      rules: 'r.json',
      format: 'avro',
      noDashboard: true,
      timeout: 2_000,
      help: true,
      lake: '-',
    });
    expect([...given].sort()).toEqual(['format', 'help', 'lake', 'no-dashboard', 'rules', 'timeout']);
  });

  it.each([
    [['--rule', 'x'], 'unknown flag --rule (did you mean --rules?)'],
    [['--zzzzzz'], 'unknown flag --zzzzzz'],
    [['-x'], 'unknown flag -x'],
    [['stray'], 'unexpected argument "stray" (flags start with --)'],
    [['--', '--rules'], 'unexpected argument "--rules"'],
    [['--rules'], 'flag --rules needs a value (--rules FILE)'],
    [['--rules', '--lake', 'd'], 'flag --rules needs a value (--rules FILE)'],
    [['--rules='], 'flag --rules needs a value (--rules FILE), got ""'],
    [['--rules', 'a', '--rules', 'b'], 'flag --rules is given more than once'],
    [['--no-dashboard=yes'], 'flag --no-dashboard takes no value'],
    [['--format', 'csv'], 'flag --format must be one of jsonl, avro, got "csv"'],
    [['--timeout', '50ms'], 'flag --timeout must be at least 100ms, got "50ms"'],
    [['--timeout', 'soon'], 'flag --timeout must be a duration such as 90s'],
    [['--count', '10'], 'flag --count must be between 1 and 9, got 10'],
  ])('%j: "%s"', (argv, message) => {
    expect(usageMessage(() => parseFlags(argv, SPECS))).toContain(message);
  });

  it('suggests no name when none is near', () => {
    expect(closestName('sensors', ['rate', 'window'])).toBeUndefined();
    expect(closestName('drain-timout', ['drain-timeout', 'prefix'])).toBe('drain-timeout');
  });

  it('collects words where the command allows them', () => {
    expect(parseFlags(['dlq', '--count', '2', 'list'], SPECS, { allowPositionals: true })).toMatchObject({
      values: { count: 2 },
      positionals: ['dlq', 'list'],
    });
  });
});

describe('propertyName', () => {
  it.each([
    ['rules', 'rules'],
    ['no-dashboard', 'noDashboard'],
    ['drain-timeout', 'drainTimeout'],
    ['alert-ledger-table', 'alertLedgerTable'],
  ])('--%s is values.%s', (name, property) => {
    expect(propertyName(name)).toBe(property);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0'],
    [500, '500ms'],
    [1_500, '1500ms'],
    [90_000, '90s'],
    [300_000, '5m'],
    [7_200_000, '2h'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatFlagHelp', () => {
  it('aligns help texts in one column, continuation lines under it', () => {
    const help = formatFlagHelp({
      out: flag.string('DIR', 'output directory'),
      'drain-timeout': flag.duration('how long\nafter the last record', { placeholder: 'DUR' }),
      help: HELP_FLAG,
    });
    expect(help.split('\n')).toEqual([
      '  --out DIR            output directory',
      '  --drain-timeout DUR  how long',
      '                       after the last record',
      '  -h, --help           this text',
    ]);
  });
});

describe('replay: --keep-resources', () => {
  it('is refused without a target to keep them on', () => {
    expect(usageMessage(() => parseReplayArgs(['--stdin', '--out', 'o', '--keep-resources'], {}))).toContain(
      'flag --keep-resources needs --endpoint URL',
    );
  });

  it('is accepted with --endpoint or the SDK endpoint variable', () => {
    const base = ['--stdin', '--out', 'o', '--keep-resources'];
    expect(parseReplayArgs([...base, '--endpoint', 'http://localhost:4566'], {}).keepResources).toBe(true);
    expect(parseReplayArgs(base, { AWS_ENDPOINT_URL: 'http://localhost:4566' }).keepResources).toBe(true);
  });
});
