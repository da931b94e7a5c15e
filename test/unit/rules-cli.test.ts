/**
 * `npm run rules`: its command line (usage errors name the flag, exit 2) and A-R5, a rules
 * file validated as the configuration's rules are, refused whole with the file and the
 * field's path named.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { type RulesTable, RuleVersionConflictError } from '../../functions/lib/rules-table.js';
import { parseReplayArgs } from '../../local/cli/args.js';
import { UsageError } from '../../local/cli/flags.js';
import { parseRulesArgs, parseScope } from '../../local/cli/rules-args.js';
import { MAX_WRITE_ATTEMPTS, putRule } from '../../local/rules/commands.js';
import { RulesFileError, rulesFromJson } from '../../local/rules/rules-file.js';

const NO_ENV = {};
const args = (argv: string[], env: NodeJS.ProcessEnv = NO_ENV) => parseRulesArgs(argv, env);

describe('parseRulesArgs', () => {
  it('reads each command with its argument and target', () => {
    expect(args(['list', '--endpoint', 'http://127.0.0.1:4567'])).toMatchObject({
      command: 'list',
      target: { kind: 'table', table: 'windowpane-Rules', endpoint: 'http://127.0.0.1:4567' },
    });
    expect(args(['get', 'too-hot', '--scope', 'prefix:lab-', '--table', 't1'])).toMatchObject({
      command: 'get',
      argument: 'too-hot',
      scope: 'prefix#lab-',
      target: { kind: 'table', table: 't1' },
    });
    expect(args(['put', 'rules.json', '--endpoint', 'http://127.0.0.1:1', '--prefix', 'wp-x'])).toMatchObject(
      {
        command: 'put',
        argument: 'rules.json',
        target: { table: 'wp-x-Rules' },
      },
    );
    expect(args(['delete', 'jump'], { RULES_TABLE_NAME: 'from-env' })).toMatchObject({
      scope: 'all',
      target: { kind: 'table', table: 'from-env' },
    });
    expect(args(['export', '--stack', 'Windowpane', '--region', 'eu-west-1'])).toMatchObject({
      command: 'export',
      target: { kind: 'stack', stack: 'Windowpane', region: 'eu-west-1' },
    });
  });

  it('takes the region of --stack from AWS_REGION', () => {
    expect(args(['list', '--stack', 'S'], { AWS_REGION: 'us-west-2' }).target).toEqual({
      kind: 'stack',
      stack: 'S',
      region: 'us-west-2',
    });
  });

  it.each([
    [['list', '--tabel', 'x'], /unknown flag --tabel \(did you mean --table\?\)/],
    [['list', '--endpoint', 'ftp://x'], /flag --endpoint must be an http\(s\) URL/],
    [
      ['get', 'x', '--scope', 'lab-', '--table', 't'],
      /flag --scope must be all, prefix:P, tag:T or sensor:ID/,
    ],
    [['put', 'f.json', '--scope', 'all', '--table', 't'], /flag --scope does not apply to "put"/],
    [['export', '--json', '--table', 't'], /flag --json does not apply to "export"/],
    [['list', '--table', 't', '--table', 'u'], /flag --table is given more than once/],
    [['list', '--stack', 'S'], /flag --region is needed/],
    [
      ['list', '--stack', 'S', '--table', 't', '--region', 'r'],
      /flag --table cannot be combined with --stack/,
    ],
    [['list', '--prefix', 'wp'], /flag --prefix needs --endpoint/],
    [
      ['list', '--endpoint', 'http://h:1', '--prefix', 'wp', '--table', 't'],
      /flag --prefix cannot be combined/,
    ],
    [['list', '--request-timeout', '50ms'], /flag --request-timeout must be at least/],
    [['get', '--table', 't'], /"get" needs NAME/],
    [['put', '--table', 't'], /"put" needs FILE/],
    [['list', 'extra', '--table', 't'], /unexpected argument "extra"/],
    [['lst'], /unknown command "lst": one of list, get, put, delete, import, export/],
    [[], /missing command/],
    [['list'], /no rules table: give --endpoint URL/],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => args(argv)).toThrowError(UsageError);
    expect(() => args(argv)).toThrowError(message);
  });

  it('accepts --help alone or after a command', () => {
    expect(args(['--help']).help).toBe(true);
    expect(args(['put', '-h']).help).toBe(true);
  });

  it('reads scopes in both spellings', () => {
    expect(parseScope('all', 'scope')).toBe('all');
    expect(parseScope('tag:floor-2', 'scope')).toBe('tag#floor-2');
    expect(parseScope('sensor#s1', 'scope')).toBe('sensor#s1');
  });
});

describe('A-R5 a rules file is validated like the configuration, naming the file and the field', () => {
  const config = parseConfig({ metrics: ['temperature', 'humidity'], percentiles: [0.99] });
  const hot = { name: 'hot', type: 'threshold', metric: 'temperature', above: 30 };

  it('reads one rule, an array, or {"rules": [...]} (export) with the defaults filled in', () => {
    for (const json of [hot, [hot], { rules: [hot] }]) {
      expect(rulesFromJson(json, 'f.json', config)).toEqual([
        { ...hot, severity: 'warning', cooldownMs: 60_000 },
      ]);
    }
  });

  it.each([
    [{ rules: [hot, { ...hot, name: 'cold', above: 'x' }] }, /^f\.json: rules\[1\]\.above: /],
    [[{ ...hot, type: 'zscor' }], /^f\.json: \[0\]\.type: unknown rule type "zscor"/],
    [
      { ...hot, metric: 'pressure' },
      /^f\.json: metric: "pressure" is not in the configured metrics \[temperature, humidity\]/,
    ],
    [{ ...hot, scope: { prefix: '' } }, /^f\.json: scope/],
    [[hot, { ...hot, above: 31 }], /^f\.json: \[1\]\.name: rule hot@all is also \[0\]/],
    [
      [{ ...hot, statistic: 'p50' }],
      /^f\.json: \[0\]\.statistic: "p50" is not a statistic of temperature's windows/,
    ],
    [{ rules: [hot], extra: 1 }, /^f\.json: unknown key "extra" beside "rules"/],
    [{ rules: hot }, /^f\.json: rules: expected an array/],
  ])('%j is refused: %s', (json, message) => {
    expect(() => rulesFromJson(json, 'f.json', config)).toThrowError(RulesFileError);
    expect(() => rulesFromJson(json, 'f.json', config)).toThrowError(message);
  });

  it('lists every problem of a file in one error', () => {
    const json = [
      { ...hot, above: 'x' },
      { ...hot, name: 'Bad' },
    ];
    expect(() => rulesFromJson(json, 'f.json', config)).toThrowError(
      /f\.json: \n {2}\[0\]\.above: .*\n {2}\[1\]\.name: rule names are lower-case/,
    );
  });

  it('accepts a window statistic the configuration has', () => {
    const p99 = { ...hot, name: 'slow', statistic: 'p99' };
    expect(rulesFromJson([p99], 'f.json', config)[0]).toMatchObject({ statistic: 'p99' });
  });
});

describe('A-R6 replay --rules FILE', () => {
  const base = ['--input', 'in.jsonl', '--out', 'out'];
  it('is read as a file name, and refused with --stack (the deployed handler runs as deployed)', () => {
    expect(parseReplayArgs([...base, '--rules', 'r.json'], {}).rules).toBe('r.json');
    expect(parseReplayArgs(base, {}).rules).toBeUndefined();
    expect(() =>
      parseReplayArgs([...base, '--rules', 'r.json', '--stack', 'S', '--endpoint', 'http://h:1'], {}),
    ).toThrowError(/flag --stack .* cannot be combined with --rules/);
    expect(() => parseReplayArgs([...base, '--rules'], {})).toThrowError(/flag --rules needs a value/);
  });
});

describe('A-R5 a writer that loses the race reads the row again', () => {
  const rule = {
    name: 'hot',
    type: 'threshold',
    metric: 'temperature',
    above: 30,
    severity: 'warning',
    cooldownMs: 60_000,
  } as const;

  /** A table whose row another writer moves on `conflicts` times, between our read and our write. */
  function racedTable(conflicts: number) {
    let version = 4;
    const expected: number[] = [];
    const table = {
      tableName: 'raced',
      async row() {
        return { pk: 'rule#hot', sk: 'all', version, deleted: false };
      },
      async put(r: typeof rule, o: { expectedVersion: number }) {
        expected.push(o.expectedVersion);
        if (expected.length <= conflicts) {
          version++; // the other writer's write
          throw new RuleVersionConflictError('rule hot@all changed since version was read');
        }
        version = o.expectedVersion + 1;
        return { ...r, version };
      },
    };
    return { table: table as unknown as RulesTable, expected };
  }

  it('writes at the version after the winner', async () => {
    const { table, expected } = racedTable(2);
    const written = await putRule({ table, seed: [], metrics: ['temperature'], by: 't' }, rule);
    expect(expected).toEqual([4, 5, 6]);
    expect(written.version).toBe(7);
  });

  it(`gives up after ${MAX_WRITE_ATTEMPTS} lost races, naming the rule`, async () => {
    const { table, expected } = racedTable(Number.POSITIVE_INFINITY);
    await expect(putRule({ table, seed: [], metrics: ['temperature'], by: 't' }, rule)).rejects.toThrowError(
      /rule hot@all changed/,
    );
    expect(expected).toHaveLength(MAX_WRITE_ATTEMPTS);
  });
});
