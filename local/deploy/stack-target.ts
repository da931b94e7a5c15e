/**
 * A deployed stack as the target of a local pipeline (`npm run replay -- --endpoint URL
 * --stack NAME`): the resource names come from the stack's outputs, the event source
 * settings, configuration and sweep schedule from its deployed template (GetTemplate), and
 * the handler is the bundle that was deployed, loaded from the cloud assembly that
 * `npm run deploy:moto` keeps in cdk.out/moto/ (the asset named by the function's S3Key).
 * Nothing is created but an alerts-tap queue subscribed to the alert topic, which
 * `release()` removes again; the stack's own resources are never deleted.
 *
 * Queue URLs: moto's CloudFormation gives its queues AWS-style URLs
 * (https://sqs.<region>.amazonaws.com/...), which the SDK, reaching moto through
 * AWS_ENDPOINT_URL, would follow to AWS; each queue is therefore looked up by name with
 * GetQueueUrl on the endpoint, which answers as on AWS where the two agree.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DescribeStacksCommand, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DescribeTimeToLiveCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { UnsubscribeCommand } from '@aws-sdk/client-sns';
import { DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import type { WindowpaneConfig } from '../../functions/domain/config.js';
import { WindowpaneError } from '../../functions/domain/errors.js';
import {
  type AwsClients,
  type ClientOptions,
  createClients,
  destroyClients,
} from '../../functions/lib/clients.js';
import {
  ALERT_LEDGER_TABLE,
  RESULTS_TABLE,
  RULES_TABLE,
  STATE_TABLE,
  type TableDefinition,
} from '../../functions/lib/resources.js';
import { resourcePlanFromTemplate } from '../../infra/resource-plan.js';
import {
  createQueue,
  type ProvisionedQueue,
  type ProvisionedResources,
  type ProvisionedTable,
  subscribeAlertsTap,
  uniquePrefix,
} from '../cloud/index.js';
import { REPO_ROOT } from '../config.js';
import type { ChosenPlan } from '../pipeline/plan.js';
import { defaultSweepIntervalMs } from '../pipeline/plan.js';
import { cloudFormationClient } from './moto-deploy.js';

/** Where `npm run deploy:moto` keeps its cloud assembly (the function bundles). */
export const MOTO_ASSEMBLY_DIR = path.join(REPO_ROOT, 'cdk.out', 'moto');

export class StackTargetError extends WindowpaneError {}

export interface StackTarget {
  stackName: string;
  resources: ProvisionedResources;
  /** Settings and schedule as deployed (nothing is provisioned, so no plan). */
  chosen: Omit<ChosenPlan, 'plan'>;
  config: WindowpaneConfig;
  /** The deployed window handler bundle (index.mjs). */
  handlerBundle: string;
  /** Removes the alerts-tap queue and its subscription. */
  release(): Promise<void>;
}

export interface ResolveStackOptions {
  clients: AwsClients;
  endpoint: string;
  region?: string;
  stackName: string;
  assemblyDir?: string;
}

const REQUIRED_OUTPUTS = [
  'StreamName',
  'AlertTopicArn',
  'StateTableName',
  'ResultsTableName',
  'AlertLedgerTableName',
  'InvalidRecordQueueUrl',
  'LateReadingQueueUrl',
  'HandlerFailureQueueUrl',
] as const;

type Outputs = Record<(typeof REQUIRED_OUTPUTS)[number], string> & {
  ResultsStreamName?: string;
  /** Absent on a stack deployed before the rules table. */
  RulesTableName?: string;
};

async function stackOutputsAndTemplate(
  opts: ResolveStackOptions,
): Promise<{ outputs: Outputs; template: unknown }> {
  const cfn = cloudFormationClient(opts.endpoint, opts.region);
  try {
    let stack: { Outputs?: { OutputKey?: string; OutputValue?: string }[] } | undefined;
    try {
      stack = (await cfn.send(new DescribeStacksCommand({ StackName: opts.stackName }))).Stacks?.[0];
    } catch (err) {
      throw new StackTargetError(
        `stack ${opts.stackName} not found on ${opts.endpoint}: ${(err as Error).message}`,
      );
    }
    const outputs = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    const missing = REQUIRED_OUTPUTS.filter((k) => !outputs[k]);
    if (missing.length > 0) {
      throw new StackTargetError(`stack ${opts.stackName} lacks the output(s) ${missing.join(', ')}`);
    }
    const { TemplateBody } = await cfn.send(new GetTemplateCommand({ StackName: opts.stackName }));
    return { outputs: outputs as Outputs, template: JSON.parse(TemplateBody ?? '{}') };
  } finally {
    cfn.destroy();
  }
}

async function queueByUrl(clients: AwsClients, url: string): Promise<ProvisionedQueue> {
  const name = new URL(url).pathname.split('/').pop() ?? '';
  const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
  const { Attributes } = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  if (!QueueUrl || !Attributes?.QueueArn) throw new StackTargetError(`queue ${name} has no URL or ARN`);
  return { name, url: QueueUrl, arn: Attributes.QueueArn };
}

async function table(clients: AwsClients, name: string, def: TableDefinition): Promise<ProvisionedTable> {
  const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: name }));
  let ttl: ProvisionedTable['ttl'] = 'none';
  if (def.ttlAttribute) {
    const { TimeToLiveDescription } = await clients.dynamodb.send(
      new DescribeTimeToLiveCommand({ TableName: name }),
    );
    ttl = TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED' ? 'enabled' : 'failed';
  }
  return { name, arn: Table?.TableArn ?? '', def, ttl };
}

async function stream(clients: AwsClients, name: string): Promise<ProvisionedResources['stream']> {
  const { StreamDescriptionSummary: s } = await clients.kinesis.send(
    new DescribeStreamSummaryCommand({ StreamName: name }),
  );
  return { name, arn: s?.StreamARN ?? '', shardCount: s?.OpenShardCount ?? 0 };
}

/** The asset directory of the template's window handler: `asset.<S3Key without .zip>`. */
function handlerBundlePath(
  template: unknown,
  handlerLogicalId: string,
  assemblyDir: string,
  stackName: string,
): string {
  const resources = (
    template as { Resources?: Record<string, { Properties?: { Code?: { S3Key?: unknown } } }> }
  ).Resources;
  const key = resources?.[handlerLogicalId]?.Properties?.Code?.S3Key;
  const hash = typeof key === 'string' ? key.replace(/\.zip$/, '') : undefined;
  const bundle = hash ? path.join(assemblyDir, `asset.${hash}`, 'index.mjs') : '';
  if (!hash || !existsSync(bundle)) {
    throw new StackTargetError(
      `the window handler bundle of stack ${stackName} (asset ${hash ?? 'unknown'}) is not in ${assemblyDir}: ` +
        'deploy it with `npm run deploy:moto`, which keeps the assembly there',
    );
  }
  return bundle;
}

export async function resolveStack(opts: ResolveStackOptions): Promise<StackTarget> {
  const { clients } = opts;
  const { outputs, template } = await stackOutputsAndTemplate(opts);
  const plan = resourcePlanFromTemplate(template);
  const handlerBundle = handlerBundlePath(
    template,
    plan.handler.logicalId,
    opts.assemblyDir ?? MOTO_ASSEMBLY_DIR,
    opts.stackName,
  );
  const [readings, state, results, ledger, invalid, late, dlq] = await Promise.all([
    stream(clients, outputs.StreamName),
    table(clients, outputs.StateTableName, STATE_TABLE),
    table(clients, outputs.ResultsTableName, RESULTS_TABLE),
    table(clients, outputs.AlertLedgerTableName, ALERT_LEDGER_TABLE),
    queueByUrl(clients, outputs.InvalidRecordQueueUrl),
    queueByUrl(clients, outputs.LateReadingQueueUrl),
    queueByUrl(clients, outputs.HandlerFailureQueueUrl),
  ]);
  const resultsStream = outputs.ResultsStreamName
    ? await stream(clients, outputs.ResultsStreamName)
    : undefined;
  const rules = outputs.RulesTableName
    ? await table(clients, outputs.RulesTableName, RULES_TABLE)
    : undefined;
  const topicArn = outputs.AlertTopicArn;
  const alertsTap = await createQueue(clients, `${uniquePrefix(opts.stackName.slice(0, 40))}-alerts-tap`);
  const subscriptionArn = await subscribeAlertsTap(clients, topicArn, alertsTap);
  const config = plan.handler.config;
  return {
    stackName: opts.stackName,
    resources: {
      stream: readings,
      ...(resultsStream ? { resultsStream } : {}),
      tables: [state, results, ledger, ...(rules ? [rules] : [])],
      topic: { name: topicArn.split(':').pop() ?? '', arn: topicArn },
      queues: { invalid, late, dlq, alertsTap },
      alertsTapSubscriptionArn: subscriptionArn,
    },
    chosen: {
      settings: plan.eventSourceMapping.settings,
      sweepIntervalMs: plan.idleSweeper?.intervalMs ?? defaultSweepIntervalMs(config),
      source: `resources and event source settings: stack ${opts.stackName} (outputs and deployed template)`,
    },
    config,
    handlerBundle,
    async release() {
      await clients.sns
        .send(new UnsubscribeCommand({ SubscriptionArn: subscriptionArn }))
        .catch(() => undefined);
      await clients.sqs.send(new DeleteQueueCommand({ QueueUrl: alertsTap.url })).catch(() => undefined);
    },
  };
}

/**
 * `--stack NAME` of the replay: the stack resolved on `target` (CloudFormation at
 * AWS_ENDPOINT_URL_CLOUDFORMATION, else at the Kinesis endpoint, which `--endpoint` sets
 * for every service). A replay's outputs depend on its input alone, so the stack must hold
 * no window state yet: a stack that already ran a replay is refused, naming it.
 */
export async function resolveReplayStack(
  target: ClientOptions,
  stackName: string,
  assemblyDir?: string,
): Promise<StackTarget> {
  const endpoint = process.env.AWS_ENDPOINT_URL_CLOUDFORMATION ?? target.endpoints?.kinesis;
  if (!endpoint) throw new StackTargetError(`no endpoint to find stack ${stackName} on`);
  const clients = createClients(target);
  let stack: StackTarget;
  try {
    stack = await resolveStack({
      clients,
      endpoint,
      stackName,
      ...(target.region ? { region: target.region } : {}),
      ...(assemblyDir ? { assemblyDir } : {}),
    });
  } catch (err) {
    destroyClients(clients);
    throw err;
  }
  const release = async () => {
    try {
      await stack.release();
    } finally {
      destroyClients(clients);
    }
  };
  const state = stack.resources.tables.find((t) => t.def.id === STATE_TABLE.id)!;
  const { Count = 0 } = await clients.dynamodb.send(new ScanCommand({ TableName: state.name, Limit: 1 }));
  if (Count > 0) {
    await release();
    throw new StackTargetError(
      `stack ${stackName} already holds window state (table ${state.name}): replay into a freshly deployed ` +
        'stack (npm run deploy:moto -- --stack-name NEW_NAME)',
    );
  }
  return { ...stack, release };
}
