/**
 * Runs the project's own CDK CLI (the `aws-cdk` devDependency) against an AWS-compatible
 * endpoint: the standard `AWS_ENDPOINT_URL`, static credentials, one region, and
 * `AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION`, the CLI's own variable for the template URL it
 * hands to CloudFormation.
 *
 * Why that variable: the CLI builds the TemplateURL from the S3 endpoint, here
 * `http://127.0.0.1:PORT/<bucket>/<key>`, and moto 5 reads a bucket from a URL's path only
 * when the host is `localhost` or `s3*.amazonaws.com`; otherwise it takes the host's first
 * label as the bucket ("127") and the change set fails with "The specified bucket does not
 * exist" (moto/cloudformation/utils.py at tag 5.2.1, `get_stack_from_s3_url`, lines
 * 118-138). The same endpoint spelled with `localhost` is read path-style.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { WindowpaneError } from '../../functions/domain/errors.js';
import { REPO_ROOT } from '../config.js';

export class CdkCliError extends WindowpaneError {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly outputTail: string,
  ) {
    super(`cdk ${command} failed (exit ${exitCode}):\n${outputTail}`);
  }
}

const CDK_BIN = path.join(
  path.dirname(createRequire(import.meta.url).resolve('aws-cdk/package.json')),
  'bin',
  'cdk',
);
const TAIL_CHARS = 4_000;

export interface EndpointEnvOptions {
  endpoint: string;
  region?: string;
}

/** The endpoint as moto's CloudFormation can read a template URL on it (see the header). */
export function templateUrlEndpoint(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.hostname === '127.0.0.1' || url.hostname === '[::1]') url.hostname = 'localhost';
  return url.origin;
}

export function endpointEnv(opts: EndpointEnvOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    // No leftover per-service endpoint or profile may send part of the deploy elsewhere.
    if (name.startsWith('AWS_') || name === 'NODE_OPTIONS' || name.startsWith('CDK_')) continue;
    env[name] = value;
  }
  return {
    ...env,
    AWS_ENDPOINT_URL: opts.endpoint,
    AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION: templateUrlEndpoint(opts.endpoint),
    AWS_REGION: opts.region ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    // Offline: no version check, no notices fetched from the internet.
    CDK_DISABLE_VERSION_CHECK: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** `cdk <args>` with the endpoint environment; resolves with its output, fails with its tail. */
export function runCdk(
  args: readonly string[],
  opts: EndpointEnvOptions & { log?: (line: string) => void },
): Promise<string> {
  const child = spawn(process.execPath, [CDK_BIN, ...args, '--no-notices', '--ci'], {
    cwd: REPO_ROOT,
    env: endpointEnv(opts),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    for (const line of text.split('\n')) if (line.trim()) opts.log?.(`[cdk] ${line}`);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new CdkCliError(args[0] ?? '', null, err.message)));
    child.once('exit', (code) => {
      if (code === 0) resolve(output);
      else reject(new CdkCliError(args.join(' '), code, output.slice(-TAIL_CHARS)));
    });
  });
}
