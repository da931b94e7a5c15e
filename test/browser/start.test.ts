/**
 * `npm start` as a user runs it: it prints the dashboard's URL before the local cloud has
 * started, and the page there shows the local pipeline's windows as they close. Line mode
 * (stdout is a pipe).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../local/config.js';
import { collectPageErrors, launchChromium, screenshot } from './chromium.js';

let child: ChildProcess | undefined;
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});

describe('npm start serves the dashboard', () => {
  it('prints the URL, and the page shows a window chart from the running pipeline', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of Object.keys(env)) if (name.startsWith('AWS_ENDPOINT_URL')) delete env[name];
    const started = Date.now();
    child = spawn(
      process.execPath,
      ['--import', 'tsx', 'local/cli/start.ts', '--duration', '40s', '--window', '5s'],
      {
        cwd: REPO_ROOT,
        env,
      },
    );
    let output = '';
    child.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const deadline = Date.now() + 60_000;
    let url: string | undefined;
    while (!url) {
      url = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(output)?.[1];
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`no dashboard URL in:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const urlAfterMs = Date.now() - started;
    // Chosen at run time, on the loopback address only, and printed before the local cloud starts.
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(output).not.toContain('emulators: kinesis-local');
    const snapshot = (await (await fetch(`${url}api/snapshot`)).json()) as { label: string };
    expect(snapshot.label).toContain('windowpane local pipeline: 5 sensors');

    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const errors = collectPageErrors(page);
      await page.goto(url);
      try {
        await page.waitForSelector('body[data-first-chart]', { timeout: 60_000 });
        await expect.poll(() => page.textContent('#sensor-count'), { timeout: 30_000 }).toBe('5 sensors');
        expect(errors).toEqual([]);
      } finally {
        await screenshot(page, 'npm-start-dashboard');
      }
    } finally {
      await browser.close();
    }
    console.log(`npm start printed the dashboard URL after ${urlAfterMs} ms`);
  });
});
