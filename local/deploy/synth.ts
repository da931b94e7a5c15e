/**
 * Synthesizes the CDK app (infra/build-app.ts, cdk-nag included) into a cloud assembly
 * for a deployment to moto, with the one change moto needs to create the stack at all:
 *
 * moto 5's CloudFormation cannot create an `AWS::KMS::Key` that has `Tags`: its
 * `Key.create_from_cloudformation_json` passes CloudFormation's `[{Key, Value}]` to
 * `create_key`, whose tagger reads `TagKey`/`TagValue`, and the KeyError aborts the stack
 * half-way while the stack still reports CREATE_COMPLETE (moto/kms/models.py at tag 5.2.1,
 * lines 321-327, and moto/utilities/tagging_service.py line 59; unchanged on moto's main
 * branch at 0af643a). The key's tags are therefore left out of the template deployed to
 * moto, and `KMS_TAGS_LEFT_OUT` says so wherever the deploy is reported.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Aspects, CfnResource, type IAspect } from 'aws-cdk-lib';
import { CfnKey } from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';
import { buildApp, cdkJsonContext } from '../../infra/build-app.js';

export const KMS_TAGS_LEFT_OUT =
  'AWS::KMS::Key deployed without its Tags: moto 5 cannot create a tagged key from CloudFormation (local/deploy/synth.ts)';

/**
 * `windowpaneDeploy` settings a moto deploy starts from (the caller's override them), and
 * why: moto's CloudFormation has no model for AWS::CloudWatch::Alarm and skips every alarm,
 * then rejects a template whose other resources refer to one with Fn::GetAtt ("instance of
 * Fn::GetAtt references undefined resource").
 */
export const MOTO_DEPLOY_SETTINGS = {
  deploy: { removalPolicy: 'destroy', dashboard: false, shardScaling: { enabled: false } },
  reasons: {
    dashboard: 'false: the dashboard body refers to the alarms moto skips, so moto rejects the stack',
    'shardScaling.enabled':
      "false: the shard scaler's Lambda permission names a scaling alarm moto skips (PROVISIONED streams only)",
    removalPolicy: 'destroy: nothing on moto outlives its process anyway',
  },
} as const;

/** Removes the Tags property of KMS keys, whatever added them, as the template is written. */
class UntaggedKmsKeys implements IAspect {
  visit(node: IConstruct): void {
    if (node instanceof CfnKey && node instanceof CfnResource) node.addPropertyDeletionOverride('Tags');
  }
}

export interface SynthOptions {
  /** Overrides of the `windowpaneDeploy` context (over cdk.json's and MOTO_DEPLOY_SETTINGS). */
  deploy?: Record<string, unknown>;
  /** The `windowpane` context (default: cdk.json's). */
  config?: Record<string, unknown>;
  /** Where the assembly goes (default: a fresh temporary directory). */
  outdir?: string;
}

export interface SynthesizedStack {
  stackName: string;
  /** The cloud assembly directory (`cdk deploy --app DIR` deploys it as it is). */
  assemblyDir: string;
  templateFile: string;
  template: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
}

export function synthForMoto(opts: SynthOptions = {}): SynthesizedStack {
  const base = cdkJsonContext();
  const context: Record<string, unknown> = {
    ...base,
    ...(opts.config ? { windowpane: opts.config } : {}),
    windowpaneDeploy: {
      ...((base.windowpaneDeploy as Record<string, unknown>) ?? {}),
      ...MOTO_DEPLOY_SETTINGS.deploy,
      ...opts.deploy,
    },
  };
  const assemblyDir = opts.outdir ?? mkdtempSync(path.join(tmpdir(), 'windowpane-moto-assembly-'));
  const { app, stack } = buildApp({ context, outdir: assemblyDir });
  Aspects.of(app).add(new UntaggedKmsKeys());
  app.synth();
  const templateFile = path.join(assemblyDir, stack.templateFile);
  return {
    stackName: stack.stackName,
    assemblyDir,
    templateFile,
    template: JSON.parse(readFileSync(templateFile, 'utf8')),
  };
}
