/**
 * cdk-nag is wired so that synth fails on any unacknowledged finding, and the stack as
 * configured by cdk.json has none. Bundling is skipped here (`aws:cdk:bundling-stacks`):
 * nag reads the construct tree, not the bundle.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp, cdkJsonContext } from '../../infra/build-app.js';
import { acknowledge } from '../../infra/nag.js';

const dirs: string[] = [];
function outdir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'windowpane-nag-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const context = (extra: Record<string, unknown> = {}) => ({
  ...cdkJsonContext(),
  'aws:cdk:bundling-stacks': [],
  ...extra,
});

describe('cdk-nag AwsSolutions', () => {
  it('passes on the stack cdk.json configures (every finding acknowledged with a reason)', () => {
    const { app } = buildApp({ context: context(), outdir: outdir() });
    expect(() => app.synth()).not.toThrow();
  });

  it('passes on a provisioned stream with shard scaling and an SQS alert subscription', () => {
    const base = cdkJsonContext();
    const { app, stack } = buildApp({
      context: context({
        windowpane: {
          ...(base.windowpane as object),
          stream: { mode: 'PROVISIONED', shardCount: 4, retentionHours: 48 },
        },
        windowpaneDeploy: { ...(base.windowpaneDeploy as object), alertSubscription: { type: 'sqs' } },
      }),
      outdir: outdir(),
    });
    expect(stack.shardScaling).toBeDefined();
    expect(() => app.synth()).not.toThrow();
  });

  it.each([
    ['the schema registry (its one wildcard grant acknowledged)', { avro: { enabled: true } }],
    ['IoT ingest off', { iot: { enabled: false } }],
    [
      'the lake (access-log bucket, Kinesis-sourced Firehose and folder grants acknowledged)',
      { lake: { enabled: true, transitionToIaDays: 30 } },
    ],
  ])('passes with %s', (_name, deploy) => {
    const base = cdkJsonContext();
    const { app } = buildApp({
      context: context({ windowpaneDeploy: { ...(base.windowpaneDeploy as object), ...deploy } }),
      outdir: outdir(),
    });
    expect(() => app.synth()).not.toThrow();
  });

  it('fails synth on an unacknowledged finding, naming the rule and the resource', () => {
    const { app, stack } = buildApp({ context: context(), outdir: outdir() });
    new sqs.Queue(stack, 'UnencryptedScratch', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(() => app.synth()).toThrow(
      /AwsSolutions-SQS2[\s\S]*UnencryptedScratch|UnencryptedScratch[\s\S]*AwsSolutions-SQS2/,
    );
  });

  it('accepts the same resource once the finding is acknowledged with a reason', () => {
    const { app, stack } = buildApp({ context: context(), outdir: outdir() });
    const queue = new sqs.Queue(stack, 'UnencryptedScratch', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    acknowledge(
      queue,
      {
        id: 'AwsSolutions-SQS2',
        reason: 'Scratch queue of this test: shows an acknowledgement silences exactly its rule.',
      },
      {
        id: 'AwsSolutions-SQS3',
        reason: 'Scratch queue of this test: no consumer, so no dead-letter queue either.',
      },
      {
        id: 'AwsSolutions-SQS4',
        reason: 'Scratch queue of this test: no policy, it never receives a message.',
      },
    );
    expect(() => app.synth()).not.toThrow();
  });

  it('refuses an acknowledgement without a real reason', () => {
    const { stack } = buildApp({ context: context(), outdir: outdir(), nag: false });
    expect(() => acknowledge(stack, { id: 'AwsSolutions-SQS2', reason: 'ok' })).toThrow(
      /needs a real reason/,
    );
  });
});
