/**
 * The configuration the local commands run with: the same `windowpane` object the CDK app
 * reads from `cdk.json` (so `npm start`, `npm run replay` and a deployment cannot drift),
 * validated by `parseConfig`, with the few settings a command-line flag may override.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseConfig, type WindowpaneConfig } from '../functions/domain/config.js';
import { CONFIG_CONTEXT_KEY } from '../infra/settings.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_CDK_JSON = path.join(REPO_ROOT, 'cdk.json');

export interface ConfigOverrides {
  /** Replaces the configured windows with one tumbling window of this size. */
  windowSizeMs?: number;
}

export interface LoadedConfig {
  config: WindowpaneConfig;
  /** Where the configuration came from, for the one line the commands print. */
  source: string;
}

/**
 * Reads `context.windowpane` of `cdk.json` (defaults when the file or the key is absent),
 * applies `overrides` and validates the result. A malformed file or an invalid value
 * throws `ConfigError` naming the file and every offending path.
 */
export function loadProjectConfig(
  overrides: ConfigOverrides = {},
  cdkJsonPath: string = DEFAULT_CDK_JSON,
): LoadedConfig {
  let text: string | undefined;
  try {
    text = readFileSync(cdkJsonPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`cannot read ${cdkJsonPath}: ${(err as Error).message}`);
    }
  }
  let raw: Record<string, unknown> = {};
  let source = 'defaults (no cdk.json)';
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`${cdkJsonPath} is not JSON: ${(err as Error).message}`);
    }
    const context = (parsed as { context?: Record<string, unknown> } | null)?.context;
    let value = context?.[CONFIG_CONTEXT_KEY];
    // `cdk -c windowpane='{...}'` style: the context value may be JSON text.
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch (err) {
        throw new ConfigError(
          `${cdkJsonPath}: context "${CONFIG_CONTEXT_KEY}" is not a JSON object (${(err as Error).message})`,
        );
      }
    }
    if (value === undefined) {
      source = `defaults (${path.basename(cdkJsonPath)} has no context "${CONFIG_CONTEXT_KEY}")`;
    } else if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError(`${cdkJsonPath}: context "${CONFIG_CONTEXT_KEY}" must be an object`);
    } else {
      raw = value as Record<string, unknown>;
      source = `${path.relative(process.cwd(), cdkJsonPath) || cdkJsonPath} context "${CONFIG_CONTEXT_KEY}"`;
    }
  }
  const input: Record<string, unknown> = { ...raw };
  if (overrides.windowSizeMs !== undefined) {
    input.windows = [{ type: 'tumbling', sizeMs: overrides.windowSizeMs }];
    source += ', window from the command line';
  }
  return { config: parseConfig(input, source), source };
}
