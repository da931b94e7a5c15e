/**
 * The deployed window handler, run in this process: the bundle `cdk synth` built (and
 * `cdk deploy` uploaded), imported with the environment the deployed function has, pointed
 * at the pipeline's resources. Its module scope reads process.env once, as on Lambda.
 */
import { pathToFileURL } from 'node:url';
import type { WindowpaneConfig } from '../../functions/domain/config.js';
import { WindowpaneError } from '../../functions/domain/errors.js';
import type { ClientOptions } from '../../functions/lib/clients.js';
import { handlerEnv, type ProvisionedResources } from '../cloud/index.js';
import type { MappingHandler } from '../esm/index.js';

export class BundleLoadError extends WindowpaneError {}

/** The SDK's standard variables for `options` (what a function's clients resolve from). */
export function clientEnv(options: ClientOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [service, url] of Object.entries(options.endpoints ?? {})) {
    if (url) env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] = url;
  }
  if (options.region) env.AWS_REGION = options.region;
  if (options.credentials) {
    env.AWS_ACCESS_KEY_ID = options.credentials.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = options.credentials.secretAccessKey;
    if (options.credentials.sessionToken) env.AWS_SESSION_TOKEN = options.credentials.sessionToken;
  }
  return env;
}

let containers = 0;

/** Imports `bundle` afresh (a new "container" each call) and returns its `handler`. */
export async function loadBundledHandler(
  bundle: string,
  resources: ProvisionedResources,
  config: WindowpaneConfig,
  sdkEnv: Record<string, string>,
): Promise<MappingHandler> {
  Object.assign(process.env, sdkEnv, handlerEnv(resources, config));
  const mod = (await import(`${pathToFileURL(bundle).href}?container=${++containers}`)) as {
    handler?: MappingHandler;
  };
  if (typeof mod.handler !== 'function') throw new BundleLoadError(`${bundle} exports no handler function`);
  return mod.handler;
}
