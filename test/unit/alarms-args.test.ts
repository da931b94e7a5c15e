/**
 * `npm run alarms` command line: commands and their argument, flags that apply only to
 * some commands, --by defaulting to the OS user, the wait, and the target choice; every
 * mistake a UsageError (exit 2) naming the flag or argument.
 */
import { describe, expect, it } from 'vitest';
import { parseAlarmsArgs } from '../../local/cli/alarms-args.js';
import { UsageError } from '../../local/cli/flags.js';

const parse = (...argv: string[]) => parseAlarmsArgs(argv, () => 'osuser');

describe('npm run alarms: arguments', () => {
  it('ack ID --note: by defaults to the OS user, waits 30 s, on the local cloud', () => {
    expect(parse('ack', 'too-hot@s1', '--note', 'on it')).toMatchObject({
      command: 'ack',
      argument: 'too-hot@s1',
      note: 'on it',
      by: 'osuser',
      waitMs: 30_000,
      target: { kind: 'local' },
    });
  });

  it('snooze --for 1h, --by, --no-wait', () => {
    expect(parse('snooze', 'too-hot@s1', '--for', '1h', '--by', 'alice', '--no-wait')).toMatchObject({
      forMs: 3_600_000,
      by: 'alice',
      waitMs: 0,
    });
  });

  it('list, history SENSOR; targets --endpoint [--prefix] and --stack [--region]', () => {
    expect(parse('list', '--endpoint', 'http://127.0.0.1:4566', '--prefix', 'p1')).toMatchObject({
      command: 'list',
      target: { kind: 'endpoint', endpoint: 'http://127.0.0.1:4566', prefix: 'p1' },
    });
    expect(parse('history', 's1', '--stack', 'Windowpane', '--region', 'eu-west-1')).toMatchObject({
      command: 'history',
      argument: 's1',
      target: { kind: 'stack', stack: 'Windowpane', region: 'eu-west-1' },
    });
  });

  it('--prefix alone: the endpoint comes from AWS_ENDPOINT_URL(_<SERVICE>)', () => {
    expect(parse('list', '--prefix', 'p2').target).toEqual({ kind: 'endpoint', prefix: 'p2' });
  });

  it.each([
    [['mute', 'a@b'], /unknown command "mute"/],
    [[], /missing command/],
    [['ack'], /"ack" needs ALARM_ID/],
    [['ack', 's1'], /ALARM_ID "s1" is not <rule>@<sensorId>/],
    [['snooze', 'a@b'], /"snooze" needs --for DURATION/],
    [['snooze', 'a@b', '--for', 'soon'], /flag --for must be a duration/],
    [['snooze', 'a@b', '--for', '800h'], /flag --for must be at most 30 days/],
    [['ack', 'a@b', '--for', '1h'], /flag --for does not apply to "ack"/],
    [['list', '--note', 'x'], /flag --note does not apply to "list"/],
    [['ack', 'a@b', '--wait', '5s', '--no-wait'], /--no-wait cannot be combined with --wait/],
    [['list', '--region', 'eu-west-1'], /flag --region needs --stack/],
    [['list', '--endpoint', 'ftp://x'], /--endpoint/],
    [['list', '--nope'], /unknown flag --nope/],
  ])('%j is refused', (argv, message) => {
    expect(() => parse(...argv)).toThrowError(UsageError);
    expect(() => parse(...argv)).toThrowError(message);
  });
});
