/**
 * Deploys the synthesized template to moto's CloudFormation by endpoint, as a user would:
 * `cdk bootstrap` (when the endpoint has no CDKToolkit stack yet), then `cdk deploy` of the
 * assembly, which publishes both function assets and the template to moto's S3 and creates
 * the stack through a change set. Then it checks what moto really made: the CDK CLI reports
 * success even when moto aborted the stack half-way (it still says CREATE_COMPLETE), so the
 * stack must have its outputs and every resource must be accounted for, created or skipped.
 *
 *   const report = await deployToMoto({ endpoint, deploy: { stackName: 'WindowpaneMoto' } });
 *   report.outputs.StreamName   // the names the pipeline runs against
 */
import {
  CloudFormationClient,
  DescribeStacksCommand,
  paginateListStackResources,
  type Stack,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { WindowpaneError } from '../../functions/domain/errors.js';
import { runCdk } from './cdk-cli.js';
import { KMS_TAGS_LEFT_OUT, type SynthOptions, synthForMoto } from './synth.js';

/** The account moto answers as (MOTO_ACCOUNT_ID), where `cdk bootstrap` must go. */
const MOTO_ACCOUNT = '123456789012';
const BOOTSTRAP_STACK = 'CDKToolkit';

export class StackDeployError extends WindowpaneError {}

export interface DeployToMotoOptions extends SynthOptions {
  endpoint: string;
  region?: string;
  log?: (line: string) => void;
}

export interface ResourceOutcome {
  logicalId: string;
  type: string;
  /** `created`: moto made it; `skipped`: moto's CloudFormation has no model for the type. */
  outcome: 'created' | 'skipped';
  physicalId?: string;
}

export interface MotoDeployReport {
  stackName: string;
  stackStatus: string;
  outputs: Record<string, string>;
  resources: ResourceOutcome[];
  /** Resource types by outcome, sorted. */
  acceptedTypes: string[];
  skippedTypes: string[];
  /** Changes made to the template for moto, each with its reason. */
  workarounds: string[];
  assemblyDir: string;
  bootstrapped: boolean;
}

export function cloudFormationClient(endpoint: string, region = 'us-east-1'): CloudFormationClient {
  return new CloudFormationClient({
    endpoint,
    region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

async function describeStack(cfn: CloudFormationClient, stackName: string): Promise<Stack | undefined> {
  try {
    const { Stacks = [] } = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    return Stacks[0];
  } catch (err) {
    if (/does not exist/i.test((err as Error).message)) return undefined;
    throw err;
  }
}

async function listResources(cfn: CloudFormationClient, stackName: string): Promise<StackResourceSummary[]> {
  const out: StackResourceSummary[] = [];
  try {
    for await (const page of paginateListStackResources({ client: cfn }, { StackName: stackName })) {
      out.push(...(page.StackResourceSummaries ?? []));
    }
  } catch (err) {
    // moto creates a stack's resources lazily and answers 500 when one of them fails.
    throw new StackDeployError(
      `moto could not list the resources of ${stackName} (a resource failed to create): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return out;
}

export async function deployToMoto(opts: DeployToMotoOptions): Promise<MotoDeployReport> {
  const log = opts.log ?? (() => {});
  const env = { endpoint: opts.endpoint, ...(opts.region ? { region: opts.region } : {}), log };
  const synth = synthForMoto(opts);
  log(`synthesized ${synth.stackName} into ${synth.assemblyDir}`);
  const cfn = cloudFormationClient(opts.endpoint, opts.region);
  try {
    const bootstrapped = (await describeStack(cfn, BOOTSTRAP_STACK)) === undefined;
    if (bootstrapped) {
      await runCdk(['bootstrap', `aws://${MOTO_ACCOUNT}/${opts.region ?? 'us-east-1'}`], env);
    }
    await runCdk(
      [
        'deploy',
        synth.stackName,
        '--app',
        synth.assemblyDir,
        '--require-approval',
        'never',
        '--method',
        'direct',
      ],
      env,
    );

    const stack = await describeStack(cfn, synth.stackName);
    if (!stack) throw new StackDeployError(`cdk deploy succeeded but moto has no stack ${synth.stackName}`);
    const outputs = Object.fromEntries(
      (stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
    ) as Record<string, string>;
    const created = new Map((await listResources(cfn, synth.stackName)).map((r) => [r.LogicalResourceId, r]));
    const resources: ResourceOutcome[] = Object.entries(synth.template.Resources).map(([logicalId, r]) => {
      const summary = created.get(logicalId);
      return summary
        ? {
            logicalId,
            type: r.Type,
            outcome: 'created',
            ...(summary.PhysicalResourceId ? { physicalId: summary.PhysicalResourceId } : {}),
          }
        : { logicalId, type: r.Type, outcome: 'skipped' };
    });
    if (stack.StackStatus !== 'CREATE_COMPLETE' && stack.StackStatus !== 'UPDATE_COMPLETE') {
      throw new StackDeployError(
        `stack ${synth.stackName} is ${stack.StackStatus}: ${stack.StackStatusReason ?? ''}`,
      );
    }
    if (Object.keys(outputs).length === 0) {
      throw new StackDeployError(
        `stack ${synth.stackName} has no outputs: moto aborted it while creating resources`,
      );
    }
    const types = (outcome: ResourceOutcome['outcome']) =>
      [...new Set(resources.filter((r) => r.outcome === outcome).map((r) => r.type))].sort();
    return {
      stackName: synth.stackName,
      stackStatus: stack.StackStatus,
      outputs,
      resources,
      acceptedTypes: types('created'),
      skippedTypes: types('skipped'),
      workarounds: [KMS_TAGS_LEFT_OUT],
      assemblyDir: synth.assemblyDir,
      bootstrapped,
    };
  } finally {
    cfn.destroy();
  }
}
