/**
 * The CDK template deployed to a CloudFormation implementation nobody here wrote: moto's,
 * by endpoint (local/deploy). Bootstrap, both function assets and the template to moto's
 * S3, the stack created; then what moto made is checked against the template, resource by
 * resource: the outputs name real resources, and the types moto creates and skips are the
 * ones infra/README.md lists. Last, the pipeline runs on what the stack created (the
 * `--stack` replay: the local event source mapping and the deployed handler bundle) and
 * writes the golden files of test/golden/small byte for byte.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { GetTopicAttributesCommand } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClients, localClientOptions } from '../../functions/lib/clients.js';
import { RulesTable } from '../../functions/lib/rules-table.js';
import { REPO_ROOT } from '../../local/config.js';
import { deployToMoto, type MotoDeployReport } from '../../local/deploy/moto-deploy.js';
import { resolveReplayStack } from '../../local/deploy/stack-target.js';
import { OUTPUT_FILES, runReplay } from '../../local/replay.js';
import { deleteRule, putRule, type RulesContext } from '../../local/rules/commands.js';
import { rulesTableFromStack } from '../../local/rules/locate.js';

const GOLDEN = path.join(REPO_ROOT, 'test', 'golden', 'small');

const endpoints = inject('endpoints');
const clients = createClients(localClientOptions(endpoints));
let report: MotoDeployReport;

beforeAll(async () => {
  report = await deployToMoto({ endpoint: endpoints.kinesis, deploy: { stackName: 'WindowpaneMotoTest' } });
});

afterAll(() => {
  for (const c of [clients.kinesis, clients.dynamodb, clients.sns, clients.sqs]) c.destroy();
});

describe('the synthesized template on moto CloudFormation', () => {
  it('bootstraps, deploys and reaches CREATE_COMPLETE with every output', () => {
    expect(report.bootstrapped).toBe(true);
    expect(report.stackStatus).toBe('CREATE_COMPLETE');
    expect(Object.keys(report.outputs).sort()).toEqual(
      [
        'AlarmTopicArn',
        'AlarmsTableName',
        'AlertLedgerTableName',
        'AlertTopicArn',
        'HandlerFailureQueueUrl',
        'InvalidRecordQueueUrl',
        'IotDevicePolicyName',
        'IotRuleErrorQueueUrl',
        'LateReadingQueueUrl',
        'ResultsTableName',
        'RulesTableName',
        'StateTableName',
        'StreamArn',
        'StreamName',
      ].sort(),
    );
  });

  it('creates, skips or (for the documented settings) rejects exactly the resource types infra/README.md lists', () => {
    expect(report.acceptedTypes).toEqual([
      'AWS::DynamoDB::Table',
      'AWS::Events::Rule',
      'AWS::IAM::Policy',
      'AWS::IAM::Role',
      'AWS::IoT::Policy',
      'AWS::KMS::Key',
      'AWS::Kinesis::Stream',
      'AWS::Lambda::EventSourceMapping',
      'AWS::Lambda::Function',
      'AWS::Lambda::Permission',
      'AWS::Logs::LogGroup',
      'AWS::SNS::Topic',
      'AWS::SQS::Queue',
    ]);
    expect(report.skippedTypes).toEqual([
      'AWS::CloudWatch::Alarm',
      'AWS::IoT::TopicRule',
      'AWS::Lambda::EventInvokeConfig',
      'AWS::SNS::TopicPolicy',
      'AWS::SQS::QueuePolicy',
    ]);
    expect(report.workarounds).toHaveLength(1);
  });

  it('npm run rules -- --stack finds the rules table by its output, and writes it at versions 1 and 2', async () => {
    const options = {
      ...localClientOptions(endpoints),
      endpoints: { ...endpoints, cloudformation: endpoints.kinesis },
    };
    const name = await rulesTableFromStack(options, 'WindowpaneMotoTest');
    expect(name).toBe(report.outputs.RulesTableName);
    const ctx: RulesContext = {
      table: new RulesTable({ doc: clients.doc, tableName: name }),
      seed: [],
      metrics: ['temperature'],
      by: 'test',
    };
    const rule = { name: 'moto-probe', type: 'threshold', metric: 'temperature', above: 1_000 } as const;
    expect((await putRule(ctx, { ...rule, severity: 'info', cooldownMs: 60_000 })).version).toBe(1);
    // A tombstone: the replay below runs the configured rules only, as its golden files need.
    expect(await deleteRule(ctx, 'moto-probe', 'all')).toEqual({ version: 2, seedApplies: false });
    expect(await ctx.table.revision()).toBe(2);
  });

  it('the outputs name resources that exist and answer on the endpoint', async () => {
    const o = report.outputs;
    const stream = await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: o.StreamName }));
    expect(stream.StreamDescriptionSummary?.StreamARN).toBe(o.StreamArn);
    for (const table of [o.StateTableName, o.ResultsTableName, o.AlertLedgerTableName, o.RulesTableName]) {
      const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: table }));
      expect(Table?.TableStatus).toBe('ACTIVE');
    }
    await clients.sns.send(new GetTopicAttributesCommand({ TopicArn: o.AlertTopicArn }));
    for (const url of [o.InvalidRecordQueueUrl, o.LateReadingQueueUrl, o.HandlerFailureQueueUrl]) {
      const name = new URL(url!).pathname.split('/').pop();
      const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      expect(QueueUrl).toContain(name);
    }
  });
});

describe('the pipeline on the deployed stack (replay --stack)', () => {
  it("runs the bundled handler on the stack's resources: the golden files of the sample, byte for byte", async () => {
    const target = localClientOptions(endpoints);
    const stack = await resolveReplayStack(target, report.stackName, report.assemblyDir);
    expect(stack.handlerBundle.startsWith(report.assemblyDir)).toBe(true);
    expect(stack.resources.stream.name).toBe(report.outputs.StreamName);
    const outDir = await mkdtemp(path.join(tmpdir(), 'windowpane-stack-replay-'));
    try {
      const summary = await runReplay({
        input: path.join(GOLDEN, 'input.jsonl'),
        outDir,
        config: stack.config,
        target,
        stack,
      });
      expect(summary.planSource).toContain(`stack ${report.stackName}`);
      expect(summary.discarded).toBe(0);
      for (const file of Object.values(OUTPUT_FILES)) {
        // The sample's rules are alert rules only: no alarm transitions, and none recorded.
        const want = file === OUTPUT_FILES.alarms ? '' : await readFile(path.join(GOLDEN, file), 'utf8');
        expect(await readFile(path.join(outDir, file), 'utf8'), file).toBe(want);
      }
      // The stack now holds state: a second replay into it is refused, naming it.
      await expect(resolveReplayStack(target, report.stackName, report.assemblyDir)).rejects.toThrow(
        `stack ${report.stackName} already holds window state`,
      );
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  });
});
