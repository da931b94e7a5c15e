/**
 * One source of truth: the local cloud, given a synthesized CDK template, provisions the
 * same stream, tables, topic and queues, and runs the mapping with the same settings, as
 * the template declares. Expected values are read from the template JSON here, not from
 * the extractor under test.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { GetTopicAttributesCommand } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClientOptions } from '../../functions/lib/clients.js';
import { buildApp, cdkJsonContext } from '../../infra/build-app.js';
import { uniquePrefix } from '../../local/cloud/index.js';
import { loadProjectConfig } from '../../local/config.js';
import { choosePlan, type LocalPipeline, startLocalPipeline } from '../../local/pipeline/index.js';

const endpoints = inject('endpoints');

type Resource = { Type: string; Properties: Record<string, unknown> };
let cdkOut: string;
let resources: Record<string, Resource>;
let pipeline: LocalPipeline;
const prefix = uniquePrefix('tplprov');

function ofType(type: string): Resource[] {
  return Object.values(resources).filter((r) => r.Type === type);
}

beforeAll(async () => {
  cdkOut = await mkdtemp(path.join(tmpdir(), 'windowpane-tpl-'));
  const context = cdkJsonContext() as Record<string, Record<string, unknown>>;
  // A provisioned stream and non-default mapping settings, so "the same" cannot be luck.
  const windowpane = {
    ...context.windowpane,
    stream: { mode: 'PROVISIONED', shardCount: 3, retentionHours: 48 },
    eventSource: {
      batchSize: 250,
      maxBatchingWindowSeconds: 2,
      parallelizationFactor: 3,
      tumblingWindowSeconds: 0,
      startingPosition: 'TRIM_HORIZON',
      bisectBatchOnFunctionError: true,
      retryAttempts: 7,
      maxRecordAgeSeconds: 1_800,
    },
  };
  buildApp({
    context: { ...context, windowpane, 'aws:cdk:bundling-stacks': [] },
    outdir: cdkOut,
    nag: false,
  }).app.synth();
  const file = (await readdir(cdkOut)).find((f) => f.endsWith('.template.json'))!;
  resources = JSON.parse(await readFile(path.join(cdkOut, file), 'utf8')).Resources;
  pipeline = await startLocalPipeline({
    config: loadProjectConfig().config,
    target: localClientOptions(endpoints),
    prefix,
    resourceSource: 'auto',
    cdkOut,
    deleteResourcesOnStop: true,
  });
}, 120_000);

afterAll(async () => {
  await pipeline?.stop();
  if (cdkOut) await rm(cdkOut, { recursive: true, force: true });
});

describe('Local cloud from the synthesized template: the same resources and mapping settings', () => {
  it('says it used the template', () => {
    expect(pipeline.planSource).toMatch(/synthesized CDK template/);
  });

  it('stream: the template shard count', async () => {
    const stream = ofType('AWS::Kinesis::Stream').find((s) => s.Properties.ShardCount !== undefined)!;
    const { StreamDescriptionSummary: s } = await pipeline.clients.kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: pipeline.resources.stream.name }),
    );
    expect(s?.OpenShardCount).toBe(stream.Properties.ShardCount);
    expect(s?.OpenShardCount).toBe(3);
  });

  it('tables: every template table, with its key schema', async () => {
    const declared = ofType('AWS::DynamoDB::Table')
      .concat(ofType('AWS::DynamoDB::GlobalTable'))
      .map((t) => JSON.stringify(t.Properties.KeySchema))
      .sort();
    const provisioned: string[] = [];
    for (const t of pipeline.resources.tables) {
      const { Table } = await pipeline.clients.dynamodb.send(new DescribeTableCommand({ TableName: t.name }));
      provisioned.push(JSON.stringify(Table?.KeySchema));
    }
    expect(provisioned.sort()).toEqual(declared);
  });

  it('topic and queues: the alert topic, the invalid and late queues and the failure destination exist', async () => {
    await pipeline.clients.sns.send(
      new GetTopicAttributesCommand({ TopicArn: pipeline.resources.topic.arn }),
    );
    for (const role of ['invalid', 'late', 'dlq'] as const) {
      const { QueueUrl } = await pipeline.clients.sqs.send(
        new GetQueueUrlCommand({ QueueName: pipeline.resources.queues[role].name }),
      );
      expect(QueueUrl, role).toBeTruthy();
    }
    expect(ofType('AWS::SNS::Topic').length).toBeGreaterThanOrEqual(1);
    expect(ofType('AWS::SQS::Queue').length).toBeGreaterThanOrEqual(3);
  });

  it('mapping: exactly the template event source mapping settings', () => {
    const [esm] = ofType('AWS::Lambda::EventSourceMapping').filter((m) => m.Properties.StartingPosition);
    const p = esm!.Properties;
    const { settings } = choosePlan(loadProjectConfig().config, prefix, 'auto', cdkOut);
    expect(settings).toEqual({
      batchSize: p.BatchSize,
      maxBatchingWindowSeconds: p.MaximumBatchingWindowInSeconds,
      parallelizationFactor: p.ParallelizationFactor,
      startingPosition: p.StartingPosition,
      // Absent from the template when 0 (no tumbling window, state not carried).
      tumblingWindowSeconds: p.TumblingWindowInSeconds ?? 0,
      bisectBatchOnFunctionError: p.BisectBatchOnFunctionError,
      retryAttempts: p.MaximumRetryAttempts,
      maxRecordAgeSeconds: p.MaximumRecordAgeInSeconds,
    });
    expect(settings).toMatchObject({ batchSize: 250, parallelizationFactor: 3, retryAttempts: 7 });
  });
});
