/**
 * The command line of `npm run bench`: flags, defaults, and errors that name the bad flag.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_OUT, parseBenchArgs, SUITES } from '../../bench/args.js';
import { BEGIN_MARKER, END_MARKER, mergeMarkdown } from '../../bench/markdown.js';
import { UsageError } from '../../local/cli/flags.js';

describe('parseBenchArgs', () => {
  it('runs every suite in full mode by default', () => {
    expect(parseBenchArgs([])).toEqual({
      help: false,
      quick: false,
      suites: [...SUITES],
      addedDependencies: [],
      out: DEFAULT_OUT,
    });
  });

  it('reads --quick, --out and --help in both spellings', () => {
    const opts = parseBenchArgs(['--quick', '--out', 'x/y.json']);
    expect(opts.quick).toBe(true);
    expect(opts.out).toBe('x/y.json');
    expect(parseBenchArgs(['--out=z.json']).out).toBe('z.json');
    expect(parseBenchArgs(['-h']).help).toBe(true);
    expect(parseBenchArgs(['--help']).help).toBe(true);
  });

  it('keeps --only suites in run order and adds what cost is computed from', () => {
    expect(parseBenchArgs(['--only', 'memory,pure']).suites).toEqual(['pure', 'memory']);
    const cost = parseBenchArgs(['--only=cost']);
    expect(cost.suites).toEqual(['pure', 'writes', 'peer', 'cost']);
    expect(cost.addedDependencies).toEqual(['pure', 'writes', 'peer']);
    expect(parseBenchArgs(['--only', 'writes,cost,peer,pure']).addedDependencies).toEqual([]);
    expect(parseBenchArgs(['--only', 'dashboard'])).toMatchObject({
      suites: ['dashboard'],
      addedDependencies: [],
    });
  });

  it.each([
    [['--fast'], /unknown flag --fast/],
    [['quick'], /unexpected argument "quick"/],
    [['--only', 'pure,speed'], /--only: unknown suite "speed"/],
    [['--only'], /flag --only needs a value/],
    [['--only', '--quick'], /flag --only needs a value/],
    [['--only='], /flag --only needs a value/],
    [['--only', ' , '], /--only needs at least one suite/],
    [['--out'], /flag --out needs a value/],
    [['--out', 'report.txt'], /--out must name a \.json file/],
    [['--quick=yes'], /flag --quick takes no value/],
  ])('rejects %j naming the problem', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(UsageError);
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });
});

describe('--markdown', () => {
  it('takes a .md file', () => {
    expect(parseBenchArgs(['--markdown', 'bench/RESULTS.md']).markdown).toBe('bench/RESULTS.md');
    expect(parseBenchArgs([]).markdown).toBeUndefined();
    expect(() => parseBenchArgs(['--markdown', 'r.txt'])).toThrow(/--markdown must name a \.md file/);
  });

  it('replaces only the generated block and keeps the text around it', () => {
    const first = mergeMarkdown('', 'numbers v1');
    expect(first).toContain('# Benchmark results');
    expect(first).toContain(`${BEGIN_MARKER}\n\nnumbers v1\n\n${END_MARKER}`);
    const edited = first
      .replace('# Benchmark results', '# Results\n\nHand-written notes.')
      .concat('\nFooter.\n');
    const second = mergeMarkdown(edited, 'numbers v2');
    expect(second).toContain('Hand-written notes.');
    expect(second).toContain('Footer.');
    expect(second).toContain('numbers v2');
    expect(second).not.toContain('numbers v1');
    expect(mergeMarkdown('# Mine\n', 'n')).toBe(`# Mine\n\n${BEGIN_MARKER}\n\nn\n\n${END_MARKER}\n`);
  });
});
