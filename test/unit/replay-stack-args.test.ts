/**
 * `npm run replay -- --stack NAME`: the flag's rules, named in the message (exit 2 through
 * UsageError): it needs an endpoint, and runs the deployed resources and handler as they
 * are, so chaos mode and a resource prefix do not apply.
 */
import { describe, expect, it } from 'vitest';
import { parseReplayArgs } from '../../local/cli/args.js';
import { UsageError } from '../../local/cli/flags.js';

const base = ['--input', 'events/readings-small.jsonl', '--out', 'out'];

describe('replay --stack', () => {
  it('takes the stack name with --endpoint or AWS_ENDPOINT_URL', () => {
    expect(
      parseReplayArgs([...base, '--endpoint', 'http://127.0.0.1:5000', '--stack', 'WindowpaneMoto'], {}),
    ).toMatchObject({ stack: 'WindowpaneMoto', endpoint: 'http://127.0.0.1:5000' });
    expect(
      parseReplayArgs([...base, '--stack', 'WindowpaneMoto'], { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }),
    ).toMatchObject({ stack: 'WindowpaneMoto' });
  });

  it.each([
    [['--stack', 'S'], 'flag --stack needs --endpoint URL'],
    [
      ['--endpoint', 'http://127.0.0.1:5000', '--stack', 'S', '--chaos', '3'],
      'cannot be combined with --chaos',
    ],
    [
      ['--endpoint', 'http://127.0.0.1:5000', '--stack', 'S', '--prefix', 'p1'],
      'cannot be combined with --prefix',
    ],
  ])('%j is a usage error naming the flag', (flags, message) => {
    expect(() => parseReplayArgs([...base, ...flags], {})).toThrow(UsageError);
    expect(() => parseReplayArgs([...base, ...flags], {})).toThrow(message);
  });
});
