/**
 * Whether moto_server is installed, without loading anything heavy: vitest.config.ts asks
 * it to decide whether the integration-moto project runs.
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import path from 'node:path';

export const MOTO_INSTALL_HINT = 'pip install "moto[server]"';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The moto_server executable on PATH, or undefined when it is not installed. */
export function findMotoServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'moto_server');
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}
