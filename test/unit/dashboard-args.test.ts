import { describe, expect, it } from 'vitest';
import { UsageError } from '../../local/cli/flags.js';
import { DASHBOARD_HELP, parseDashboardArgs } from '../../local/dashboard/args.js';

const env = {};

describe('npm run dashboard flags', () => {
  it('takes a stack and a region, or an endpoint with a prefix', () => {
    expect(parseDashboardArgs(['--stack', 'Windowpane', '--region', 'eu-west-1'], env)).toMatchObject({
      stack: 'Windowpane',
      region: 'eu-west-1',
      port: 0,
      open: false,
      horizonMs: 86_400_000,
      openPollMs: 15_000,
    });
    expect(
      parseDashboardArgs(
        [
          '--endpoint',
          'http://localhost:4566',
          '--prefix',
          'wp-test',
          '--port=8080',
          '--open',
          '--horizon',
          '6h',
          '--request-timeout',
          '5s',
          '--open-every',
          '1m',
        ],
        env,
      ),
    ).toMatchObject({
      endpoint: 'http://localhost:4566',
      prefix: 'wp-test',
      port: 8080,
      open: true,
      horizonMs: 6 * 3_600_000,
      requestTimeoutMs: 5_000,
      openPollMs: 60_000,
    });
    expect(parseDashboardArgs(['--endpoint', 'http://x', '--open-every', '0'], env).openPollMs).toBe(0);
    expect(parseDashboardArgs(['--stack', 'S'], { AWS_REGION: 'us-west-2' }).region).toBe('us-west-2');
  });

  it.each([
    [[], /--stack NAME .* or --endpoint URL/],
    [['--stack', 'S'], /flag --region is needed/],
    [['--endpoint', 'localhost:4566'], /flag --endpoint must be an http\(s\) URL/],
    [['--stack', 'S', '--region', 'r', '--prefix', 'p1'], /flag --prefix is for --endpoint/],
    [['--endpoint', 'http://x', '--prefix=-bad'], /flag --prefix must be/],
    [['--endpoint', 'http://x', '--port', '70000'], /flag --port must be between 0 and 65535, got 70000/],
    [
      ['--endpoint', 'http://x', '--horizon', '10s'],
      /flag --horizon must be from 1m to 720h, e.g. 6h, got "10s"/,
    ],
    [['--endpoint', 'http://x', '--horizon', 'soon'], /flag --horizon must be a duration/],
    [['--endpoint', 'http://x', '--max-windows', '0'], /flag --max-windows must be between 1 and 100000000/],
    [
      ['--endpoint', 'http://x', '--request-timeout', '10ms'],
      /flag --request-timeout must be at least 100ms/,
    ],
    [
      ['--endpoint', 'http://x', '--open-every', '500ms'],
      /flag --open-every must be 0 \(off\) or at least 1s, got "500ms"/,
    ],
    [['--endpoint', 'http://x', '--stak', 'S'], /unknown flag --stak \(did you mean --stack\?\)/],
    [['--endpoint'], /flag --endpoint needs a value \(--endpoint URL\)/],
    [['--endpoint', 'http://x', 'extra'], /unexpected argument "extra"/],
  ])('refuses %j naming the flag', (argv, message) => {
    expect(() => parseDashboardArgs(argv, env)).toThrow(UsageError);
    expect(() => parseDashboardArgs(argv, env)).toThrow(message);
  });

  it('prints help without needing the other flags, one line per flag', () => {
    expect(parseDashboardArgs(['-h'], env).help).toBe(true);
    expect(DASHBOARD_HELP).toMatch(/^ {2}--stack NAME {2,}CloudFormation stack/m);
    expect(DASHBOARD_HELP).toMatch(/^ {2}-h, --help {2,}this text/m);
  });
});
