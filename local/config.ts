/**
 * The configuration the local commands run with: the same `windowpane` object the CDK app
 * reads from `cdk.json` (so `npm start`, `npm run replay` and a deployment cannot drift),
 * read by the same `readCdkJson` and validated by `parseConfig`, with the few settings a
 * command-line flag may override.
 */
import path from 'node:path';
import { parseConfig, type WindowpaneConfig } from '../functions/domain/config.js';
import { CONFIG_CONTEXT_KEY, contextValue, DEFAULT_CDK_JSON, readCdkJson } from '../infra/settings.js';

export { REPO_ROOT } from '../infra/paths.js';
export { DEFAULT_CDK_JSON };

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
  const cdk = readCdkJson(cdkJsonPath);
  const value = cdk.context[CONFIG_CONTEXT_KEY];
  let source: string;
  if (!cdk.found) source = 'defaults (no cdk.json)';
  else if (value === undefined) {
    source = `defaults (${path.basename(cdkJsonPath)} has no context "${CONFIG_CONTEXT_KEY}")`;
  } else {
    source = `${path.relative(process.cwd(), cdkJsonPath) || cdkJsonPath} context "${CONFIG_CONTEXT_KEY}"`;
  }
  const raw = contextValue(CONFIG_CONTEXT_KEY, value);
  const input =
    overrides.windowSizeMs !== undefined && typeof raw === 'object' && raw !== null
      ? { ...raw, windows: [{ type: 'tumbling', sizeMs: overrides.windowSizeMs }] }
      : raw;
  if (overrides.windowSizeMs !== undefined) source += ', window from the command line';
  return { config: parseConfig(input, source, [CONFIG_CONTEXT_KEY]), source };
}
