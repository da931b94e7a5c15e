/**
 * What each function's role may do, and why: the access plan the stack grants from, and
 * nothing else (no CDK convenience grant adds to it).
 *
 * - `code`: the AWS requests the function's own code sends, each with the function or
 *   method that sends it (`sentBy`, as `Class.method` or `function`). test/infra/grants.test.ts
 *   follows the code from the function's entry point and fails on a request that reaches
 *   AWS through no `sentBy` of its action (a missing grant), and on an entry whose sender
 *   is unreachable or no longer sends it (an unused grant).
 * - `service`: what AWS does with the function's role on the function's behalf, which no
 *   code of ours sends, each with the documentation that says so.
 *
 * Adding a resource a function uses is one entry here (and one target in the construct
 * that calls `grantAccess`).
 */
import type * as iam from 'aws-cdk-lib/aws-iam';
import { WindowpaneError } from '../functions/domain/errors.js';

/** The stack asked for a grant on a resource it did not pass. */
export class AccessPlanError extends WindowpaneError {}

/** The resources grants name. A construct passes the ones its deployment has to `grantAccess`. */
export type Target =
  | 'readingsStream'
  | 'stateTable'
  | 'resultsTable'
  | 'alertLedgerTable'
  | 'alertTopic'
  | 'messagingKey'
  | 'invalidQueue'
  | 'lateQueue'
  | 'handlerFailureQueue'
  | 'resultsStream'
  | 'schemaRegistry'
  | 'rulesTable'
  | 'alarmsTable';

export interface CodeAccess {
  target: Target;
  actions: readonly string[];
  /** The function or method that sends these requests. */
  sentBy: string;
  /** Granted only when the deployment has this optional resource. */
  onlyWith?: Target;
  /**
   * The sender exists (in `module`) but the function's code does not call it yet; `until`
   * says what will. The grant is made, and the grants test checks that the sender sends
   * it and is not yet reachable from the entry: the day it is, the test says to drop this.
   */
  pending?: { module: string; until: string };
}

export interface ServiceAccess {
  target: Target;
  actions: readonly string[];
  /** Who uses the role, for what. */
  why: string;
  /** Where AWS documents it. */
  source: string;
  /** Needed because the code sends this action to this target (granted only with it). */
  because?: { target: Target; action: string };
}

export interface FunctionAccess {
  /** The Lambda entry point, relative to the repository root. */
  entry: string;
  code: readonly CodeAccess[];
  service: readonly ServiceAccess[];
}

/** What Lambda needs to write a function's logs; granted on its own log group only (functions.ts). */
export const LOG_WRITE_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'] as const;
export const LOG_WRITE_SOURCE =
  'https://docs.aws.amazon.com/lambda/latest/dg/permissions-executionrole.html (AWSLambdaBasicExecutionRole; ' +
  'the log group is created by the stack, so logs:CreateLogGroup is not needed)';

/**
 * The event source mapping polls the stream with the function's execution role. It maps
 * the stream itself (a standard iterator), not an enhanced fan-out consumer, so it never
 * calls SubscribeToShard (which takes a registered consumer's ARN) nor DescribeStreamConsumer;
 * ListStreams is an account-level call the mapping does not make on this stream.
 */
export const EVENT_SOURCE_MAPPING_ACCESS: ServiceAccess = {
  target: 'readingsStream',
  actions: [
    'kinesis:DescribeStream',
    'kinesis:DescribeStreamSummary',
    'kinesis:GetRecords',
    'kinesis:GetShardIterator',
    'kinesis:ListShards',
  ],
  why: 'the Lambda event source mapping reads the stream with the function role (standard iterator)',
  source:
    'https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-create.html (execution role permissions); ' +
    'SubscribeToShard needs a consumer ARN: https://docs.aws.amazon.com/kinesis/latest/APIReference/API_SubscribeToShard.html',
};

/** A discarded batch's record goes to the on-failure queue, sent with the function's role. */
export const ON_FAILURE_DESTINATION_ACCESS: ServiceAccess = {
  target: 'handlerFailureQueue',
  actions: ['sqs:SendMessage'],
  why: 'the event source mapping sends the record of a discarded batch to its on-failure destination',
  source:
    'https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html (SQS: sqs:SendMessage)',
};

/** SNS encrypts a message published to an encrypted topic with the publisher's permissions. */
export const PUBLISH_KEY_ACCESS: ServiceAccess = {
  target: 'messagingKey',
  actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
  why: 'SNS encrypts what the function publishes to the alert topic with this key, as the publisher',
  source: 'https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html (publishers need both)',
  because: { target: 'alertTopic', action: 'sns:Publish' },
};

/** Commit a sensor's state and deliver what it produced: window handler and idle sweeper alike. */
const COMMIT_AND_DELIVER: readonly CodeAccess[] = [
  // Rules changed at runtime (functions/lib/rules-table.ts), before a batch or a flush: the
  // revision counter, then the rows. Read only: `npm run rules` writes them, no function.
  { target: 'rulesTable', actions: ['dynamodb:GetItem'], sentBy: 'RulesTable.revision' },
  { target: 'rulesTable', actions: ['dynamodb:Scan'], sentBy: 'RulesTable.scan' },
  { target: 'stateTable', actions: ['dynamodb:GetItem'], sentBy: 'WindowStateStore.load' },
  { target: 'stateTable', actions: ['dynamodb:BatchGetItem'], sentBy: 'WindowStateStore.loadMany' },
  { target: 'stateTable', actions: ['dynamodb:PutItem'], sentBy: 'WindowStateStore.commit' },
  { target: 'resultsTable', actions: ['dynamodb:PutItem'], sentBy: 'EffectDelivery.putResults' },
  // Which windows are already emitted, so none is streamed twice: only with an output stream.
  {
    target: 'resultsTable',
    actions: ['dynamodb:BatchGetItem'],
    sentBy: 'EffectDelivery.existingResults',
    onlyWith: 'resultsStream',
  },
  {
    target: 'resultsStream',
    actions: ['kinesis:PutRecords'],
    sentBy: 'EffectDelivery.streamResults',
    onlyWith: 'resultsStream',
  },
  {
    target: 'alertLedgerTable',
    actions: ['dynamodb:BatchGetItem'],
    sentBy: 'publishedIds',
  },
  {
    target: 'alertLedgerTable',
    actions: ['dynamodb:BatchWriteItem'],
    sentBy: 'recordPublished',
  },
  { target: 'alertTopic', actions: ['sns:Publish'], sentBy: 'EffectDelivery.deliverAlerts' },
  // The alarms projection (functions/lib/alarm-projection.ts): history and action outcomes
  // in batches, the current row by a conditional put. No reads: the CLI reads it.
  {
    target: 'alarmsTable',
    actions: ['dynamodb:BatchWriteItem'],
    sentBy: 'AlarmProjection.write',
    onlyWith: 'alarmsTable',
  },
  {
    target: 'alarmsTable',
    actions: ['dynamodb:PutItem'],
    sentBy: 'AlarmProjection.putCurrent',
    onlyWith: 'alarmsTable',
  },
  // SendMessageBatch is authorised as sqs:SendMessage.
  { target: 'lateQueue', actions: ['sqs:SendMessage'], sentBy: 'EffectDelivery.sendLate' },
];

export const ACCESS = {
  windowHandler: {
    entry: 'functions/window-handler/handler.ts',
    code: [
      ...COMMIT_AND_DELIVER,
      { target: 'invalidQueue', actions: ['sqs:SendMessage'], sentBy: 'EffectDelivery.sendInvalid' },
      // A carried state's catch-up reads its shard back (SEMANTICS.md CS5); the event source
      // mapping's grant on the same stream already holds both actions.
      {
        target: 'readingsStream',
        actions: ['kinesis:GetShardIterator', 'kinesis:GetRecords'],
        sentBy: 'readShardStretch',
      },
      // Writer schemas of Glue-framed Avro readings, by version id (schema-registry.ts: on `*`).
      {
        target: 'schemaRegistry',
        actions: ['glue:GetSchemaVersion'],
        sentBy: 'GlueSchemaSource.lookup',
        onlyWith: 'schemaRegistry',
      },
    ],
    service: [EVENT_SOURCE_MAPPING_ACCESS, ON_FAILURE_DESTINATION_ACCESS, PUBLISH_KEY_ACCESS],
  },
  idleSweeper: {
    entry: 'functions/idle-sweeper/handler.ts',
    code: [
      { target: 'stateTable', actions: ['dynamodb:Scan'], sentBy: 'WindowStateStore.listIdleSensors' },
      ...COMMIT_AND_DELIVER,
      // The rules at runtime, as the handler reads them: absence alarms are raised here (A-K8).
      {
        target: 'rulesTable',
        actions: ['dynamodb:GetItem'],
        sentBy: 'RulesTable.revision',
        onlyWith: 'rulesTable',
      },
      { target: 'rulesTable', actions: ['dynamodb:Scan'], sentBy: 'RulesTable.scan', onlyWith: 'rulesTable' },
      // A carried state's expired claim is taken over by reading its shard back (SEMANTICS.md
      // CS6), and what it reads is decoded as the handler decodes it.
      {
        target: 'readingsStream',
        actions: ['kinesis:GetShardIterator', 'kinesis:GetRecords'],
        sentBy: 'readShardStretch',
      },
      {
        target: 'schemaRegistry',
        actions: ['glue:GetSchemaVersion'],
        sentBy: 'GlueSchemaSource.lookup',
        onlyWith: 'schemaRegistry',
      },
    ],
    service: [PUBLISH_KEY_ACCESS],
  },
  shardScaler: {
    entry: 'functions/shard-scaler/handler.ts',
    code: [
      { target: 'readingsStream', actions: ['kinesis:ListTagsForStream'], sentBy: 'readHistoryTag' },
      {
        target: 'readingsStream',
        actions: ['kinesis:DescribeStreamSummary', 'kinesis:AddTagsToStream', 'kinesis:UpdateShardCount'],
        sentBy: 'handleAlarm',
      },
    ],
    service: [],
  },
} as const satisfies Record<string, FunctionAccess>;

export type FunctionName = keyof typeof ACCESS;

/** A resource that grants actions on itself (tables, queues, streams, keys, WindowpaneTopic). */
export interface Grantable {
  grant(grantee: iam.IGrantable, ...actions: string[]): iam.Grant;
}

/**
 * Grants `grantee` exactly `access`, on the resources in `targets`. An entry `onlyWith` a
 * resource the deployment lacks is skipped; any other entry naming a missing target is a
 * mistake in the stack and throws.
 */
export function grantAccess(
  grantee: iam.IGrantable,
  access: FunctionAccess,
  targets: Partial<Record<Target, Grantable>>,
): void {
  const codeSends = (target: Target, action: string) =>
    access.code.some((c) => c.target === target && c.actions.includes(action) && applies(c));
  const applies = (entry: CodeAccess) =>
    entry.onlyWith === undefined || targets[entry.onlyWith] !== undefined;
  const grant = (target: Target, actions: readonly string[]) => {
    const resource = targets[target];
    if (!resource)
      throw new AccessPlanError(`${access.entry}: no ${target} to grant ${actions.join(', ')} on`);
    resource.grant(grantee, ...actions);
  };
  for (const entry of access.code) if (applies(entry)) grant(entry.target, entry.actions);
  for (const entry of access.service) {
    if (!entry.because || codeSends(entry.because.target, entry.because.action))
      grant(entry.target, entry.actions);
  }
}
