/**
 * `npm run deploy:moto -- --endpoint URL [--stack-name NAME]`: the synthesized template
 * deployed to a running moto_server through its CloudFormation (moto-deploy.ts), then a
 * report of what moto created, skipped and needed changed. Exit 0 when the stack is up
 * with its outputs, 1 when the deploy failed, 2 for bad flags.
 */
import { parseArgs } from 'node:util';
import { WindowpaneError } from '../../functions/domain/errors.js';
import { deployToMoto, type MotoDeployReport } from './moto-deploy.js';
import { MOTO_ASSEMBLY_DIR } from './stack-target.js';
import { MOTO_DEPLOY_SETTINGS } from './synth.js';

const HELP = `usage: npm run deploy:moto -- --endpoint URL [--stack-name NAME]

Deploys the CDK app's template to moto_server (moto 5, started with
\`moto_server -H 127.0.0.1 -p PORT\`) through its CloudFormation: cdk bootstrap when the
endpoint has none, the function assets and the template to its S3, the stack created.

  --endpoint URL      moto_server's address, e.g. http://127.0.0.1:5000 (required)
  --stack-name NAME   stack name (default WindowpaneMoto)
  --help              this text

Then: npm run replay -- --endpoint URL --stack NAME --input FILE --out DIR`;

class UsageError extends WindowpaneError {}

interface DeployArgs {
  endpoint: string;
  stackName: string;
}

function parseDeployArgs(argv: readonly string[]): DeployArgs | 'help' {
  let values: { endpoint?: string; 'stack-name'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        endpoint: { type: 'string' },
        'stack-name': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  if (!values.endpoint) throw new UsageError('flag --endpoint is required (moto_server URL)');
  let url: URL;
  try {
    url = new URL(values.endpoint);
  } catch {
    throw new UsageError(
      `flag --endpoint must be a URL such as http://127.0.0.1:5000, got "${values.endpoint}"`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`flag --endpoint must be an http(s) URL, got "${values.endpoint}"`);
  }
  const stackName = values['stack-name'] ?? 'WindowpaneMoto';
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
    throw new UsageError(`flag --stack-name: "${stackName}" is not a CloudFormation stack name`);
  }
  return { endpoint: url.origin, stackName };
}

function formatDeployReport(r: MotoDeployReport): string[] {
  const created = r.resources.filter((x) => x.outcome === 'created').length;
  return [
    `stack ${r.stackName}: ${r.stackStatus}, ${created} of ${r.resources.length} resources created`,
    `  created by moto: ${r.acceptedTypes.join(', ')}`,
    `  skipped by moto (no CloudFormation model): ${r.skippedTypes.join(', ') || 'none'}`,
    ...r.workarounds.map((w) => `  changed for moto: ${w}`),
    ...Object.entries(r.outputs).map(([k, v]) => `  output ${k} = ${v}`),
  ];
}

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const args = parseDeployArgs(process.argv.slice(2));
  if (args === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const err = (line: string) => process.stderr.write(`${line}\n`);
  for (const [key, why] of Object.entries(MOTO_DEPLOY_SETTINGS.reasons)) err(`setting ${key}: ${why}`);
  const report = await deployToMoto({
    endpoint: args.endpoint,
    deploy: { stackName: args.stackName },
    // Kept where `npm run replay -- --stack` finds the deployed handler bundle.
    outdir: MOTO_ASSEMBLY_DIR,
    log: (line) => {
      if (!line.startsWith('[cdk]') || /❌|error/i.test(line)) err(line);
    },
  });
  for (const line of formatDeployReport(report)) err(line);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof UsageError;
    process.stderr.write(
      `deploy:moto: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`,
    );
    if (usage) process.stderr.write('run `npm run deploy:moto -- --help` for usage\n');
    process.exit(usage ? 2 : 1);
  },
);
