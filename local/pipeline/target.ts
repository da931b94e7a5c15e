/**
 * Where the local commands run when not on the embedded emulators: `--endpoint URL`, else
 * the SDK's own variables. A malformed URL is refused naming the flag or variable it came
 * from, before any client is built (the SDK would only say "Invalid URL").
 */
import { ConfigError } from '../../functions/domain/config.js';
import type { ClientOptions } from '../../functions/lib/clients.js';

export const SERVICES = ['kinesis', 'dynamodb', 'sns', 'sqs'] as const;
export type Service = (typeof SERVICES)[number];

function checkedUrl(source: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${source} must be a URL such as http://localhost:4566, got "${url}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(`${source} must be an http(s) URL such as http://localhost:4566, got "${url}"`);
  }
  return url;
}

/**
 * `--endpoint URL` for every service, else the SDK's variables (`AWS_ENDPOINT_URL_<SERVICE>`,
 * then `AWS_ENDPOINT_URL`). Returns undefined when none is set. Region from `AWS_REGION` /
 * `AWS_DEFAULT_REGION` (default us-east-1); credentials from the standard variables, else
 * LocalStack's `test`/`test`.
 */
export function endpointTarget(
  endpointFlag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ClientOptions | undefined {
  const endpoints: Partial<Record<Service, string>> = {};
  for (const service of SERVICES) {
    const own = `AWS_ENDPOINT_URL_${service.toUpperCase()}`;
    const [source, url] =
      endpointFlag !== undefined
        ? ['--endpoint', endpointFlag]
        : env[own]
          ? [own, env[own]]
          : ['AWS_ENDPOINT_URL', env.AWS_ENDPOINT_URL];
    if (url) endpoints[service] = checkedUrl(source, url);
  }
  const set = Object.keys(endpoints);
  if (set.length === 0) return undefined;
  if (set.length < SERVICES.length) {
    const missing = SERVICES.filter((s) => !endpoints[s]).map((s) => `AWS_ENDPOINT_URL_${s.toUpperCase()}`);
    // Half the pipeline on an emulator and half on real AWS is never what anyone wants.
    throw new ConfigError(
      `an endpoint is set for ${set.join(', ')} but not for ${missing.join(', ')}: ` +
        'set AWS_ENDPOINT_URL (or --endpoint) for all of them',
    );
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  return {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoints,
    credentials:
      accessKeyId && secretAccessKey
        ? {
            accessKeyId,
            secretAccessKey,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          }
        : { accessKeyId: 'test', secretAccessKey: 'test' },
  };
}

/**
 * The endpoints of `options` for a message: one URL when every service shares it, else
 * `kinesis URL, dynamodb URL, ...`; "the AWS endpoints" when none is set.
 */
export function describeEndpoints(options: ClientOptions): string {
  const urls = SERVICES.map((s) => options.endpoints?.[s]);
  const distinct = new Set(urls);
  if (distinct.size === 1) return urls[0] ?? 'the AWS endpoints';
  return SERVICES.map((s, i) => `${s} ${urls[i] ?? '(AWS)'}`).join(', ');
}
