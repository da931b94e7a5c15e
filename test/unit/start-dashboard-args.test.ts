import { describe, expect, it } from 'vitest';
import { parseStartArgs } from '../../local/cli/args.js';
import { UsageError } from '../../local/cli/flags.js';

describe('npm start dashboard flags', () => {
  it('serves the dashboard unless --no-dashboard, and opens a browser with --open', () => {
    expect(parseStartArgs([])).toMatchObject({ dashboard: true, open: false });
    expect(parseStartArgs(['--open'])).toMatchObject({ dashboard: true, open: true });
    expect(parseStartArgs(['--no-dashboard'])).toMatchObject({ dashboard: false, open: false });
  });

  it('refuses --open with --no-dashboard, naming both', () => {
    expect(() => parseStartArgs(['--open', '--no-dashboard'])).toThrow(UsageError);
    expect(() => parseStartArgs(['--open', '--no-dashboard'])).toThrow(
      /--open needs the dashboard: drop --no-dashboard/,
    );
  });
});
