/**
 * `--open`: the platform's own "open this URL" command, detached. Failing to open a
 * browser (none installed, a headless CI) is a notice: the URL is printed anyway.
 */
import { spawn } from 'node:child_process';

export function openBrowser(url: string, log: (line: string) => void): void {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '""', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(command, args, { detached: true, stdio: 'ignore' });
    child.on('error', (err) =>
      log(`notice: could not open a browser (${command}: ${err.message}); open ${url}`),
    );
    child.unref();
  } catch (err) {
    log(`notice: could not open a browser (${(err as Error).message}); open ${url}`);
  }
}
