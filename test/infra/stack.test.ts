/**
 * Template assertions on what matters in the windowpane stack: the event source mapping,
 * encryption and TLS on every store and channel, TTL and PITR, alarms and thresholds, the
 * exact IAM actions of each function, log retention. The default stack (cdk.json) is
 * built once, with real esbuild bundling; variants skip bundling.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type WindowpaneConfig } from '../../functions/domain/config.js';
import { IDLE_SWEEPER_METRICS, WINDOW_HANDLER_METRICS } from '../../functions/lib/metric-names.js';
import { ENV, TABLES } from '../../functions/lib/resources.js';
import { ACCESS } from '../../infra/access.js';
import { LOGICAL_IDS } from '../../infra/windowpane-stack.js';
import { type Built, build, grantsOfRole, idsOf, roleOfFunction } from './helpers.js';

/** The window handler: the function the event source mapping invokes. */
function handlerOf(built: Built): string {
  const mappings = idsOf(built.json, 'AWS::Lambda::EventSourceMapping');
  expect(mappings).toHaveLength(1);
  return built.json.Resources[mappings[0]!]!.Properties.FunctionName.Ref;
}

function functionWithVariable(built: Built, variable: string): string {
  const ids = idsOf(built.json, 'AWS::Lambda::Function').filter(
    (id) => built.json.Resources[id]!.Properties.Environment?.Variables?.[variable] !== undefined,
  );
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

describe('windowpane stack (cdk.json defaults, bundled)', () => {
  let built: Built;
  let config: WindowpaneConfig;
  let handlerId: string;

  beforeAll(() => {
    built = build({ bundle: true });
    config = built.settings.config;
    handlerId = handlerOf(built);
  });
  afterAll(() => built?.cleanup());

  describe('window handler', () => {
    it('is an arm64 nodejs22.x function with source maps, Powertools settings and the parsed configuration', () => {
      built.template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 512,
        Timeout: 60,
        Environment: {
          Variables: Match.objectLike({
            NODE_OPTIONS: '--enable-source-maps',
            POWERTOOLS_SERVICE_NAME: 'windowpane',
            POWERTOOLS_METRICS_NAMESPACE: 'Windowpane',
            POWERTOOLS_LOG_LEVEL: 'INFO',
            [ENV.stateTable]: { Ref: 'WindowState' },
            [ENV.resultsTable]: { Ref: 'WindowResults' },
            [ENV.alertLedgerTable]: { Ref: 'AlertLedger' },
            [ENV.alertTopicArn]: { Ref: LOGICAL_IDS.alertTopic },
            [ENV.invalidQueueUrl]: { Ref: LOGICAL_IDS.invalidQueue },
            [ENV.lateQueueUrl]: { Ref: LOGICAL_IDS.lateQueue },
          }),
        },
      });
      const text = built.json.Resources[handlerId]!.Properties.Environment.Variables[ENV.config];
      expect(parseConfig(JSON.parse(text))).toEqual(config);
    });

    it('ships a minified ESM bundle with its source map, built by the local esbuild', () => {
      const bundles = readdirSync(built.outdir)
        .filter((d) => d.startsWith('asset.'))
        .map((d) => path.join(built.outdir, d))
        .filter((d) => existsSync(path.join(d, 'index.mjs')));
      expect(bundles.length).toBeGreaterThanOrEqual(1);
      for (const dir of bundles) expect(existsSync(path.join(dir, 'index.mjs.map'))).toBe(true);
    });

    it('reads the stream through an event source mapping with the configured settings', () => {
      const es = config.eventSource;
      built.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
      built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: handlerId },
        EventSourceArn: { 'Fn::GetAtt': [LOGICAL_IDS.stream, 'Arn'] },
        BatchSize: es.batchSize,
        MaximumBatchingWindowInSeconds: es.maxBatchingWindowSeconds,
        ParallelizationFactor: es.parallelizationFactor,
        StartingPosition: es.startingPosition,
        BisectBatchOnFunctionError: es.bisectBatchOnFunctionError,
        MaximumRetryAttempts: es.retryAttempts,
        MaximumRecordAgeInSeconds: es.maxRecordAgeSeconds,
        // Carried state by default (docs/SEMANTICS.md "Carried state").
        TumblingWindowInSeconds: es.tumblingWindowSeconds,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [LOGICAL_IDS.handlerFailureQueue, 'Arn'] } },
        },
      });
    });

    it('may call exactly what its code calls, on exactly its resources', () => {
      expect(grantsOfRole(built.json, roleOfFunction(built.json, handlerId))).toEqual({
        // Its own log group only (no AWSLambdaBasicExecutionRole).
        [idsOf(built.json, 'AWS::Logs::LogGroup').find((id) => id.startsWith('WindowHandlerLogs'))!]: [
          'logs:CreateLogStream',
          'logs:PutLogEvents',
        ],
        // The event source mapping reads the stream with the function's role: what the
        // Lambda guide lists for a standard iterator (no fan-out consumer, no SubscribeToShard).
        [LOGICAL_IDS.stream]: [
          'kinesis:DescribeStream',
          'kinesis:DescribeStreamSummary',
          'kinesis:GetRecords',
          'kinesis:GetShardIterator',
          'kinesis:ListShards',
        ],
        WindowState: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
        // No output stream here, so no read of which windows were already emitted.
        WindowResults: ['dynamodb:PutItem'],
        AlertLedger: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'],
        // The rules table's revision, then its rows (A-R4): read only.
        Rules: ['dynamodb:GetItem', 'dynamodb:Scan'],
        // The alarms projection: written only (A-C4); npm run alarms reads it.
        Alarms: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem'],
        [LOGICAL_IDS.alertTopic]: ['sns:Publish'],
        [LOGICAL_IDS.messagingKey]: ['kms:Decrypt', 'kms:GenerateDataKey'],
        [LOGICAL_IDS.invalidQueue]: ['sqs:SendMessage'],
        [LOGICAL_IDS.lateQueue]: ['sqs:SendMessage'],
        // The mapping sends discarded batches' records to its on-failure destination.
        [LOGICAL_IDS.handlerFailureQueue]: ['sqs:SendMessage'],
      });
    });

    it('no role has a managed policy, and no grant has a wildcard resource', () => {
      const roles = idsOf(built.json, 'AWS::IAM::Role');
      expect(roles.length).toBeGreaterThanOrEqual(2);
      for (const role of roles) {
        expect(built.json.Resources[role]!.Properties.ManagedPolicyArns).toBeUndefined();
        expect(Object.keys(grantsOfRole(built.json, role)).filter((k) => k.includes('*'))).toEqual([]);
      }
    });
  });

  describe('stores and channels', () => {
    it('stream: on-demand, encrypted, with the configured retention', () => {
      built.template.hasResourceProperties('AWS::Kinesis::Stream', {
        StreamModeDetails: { StreamMode: 'ON_DEMAND' },
        ShardCount: Match.absent(),
        RetentionPeriodHours: config.stream.retentionHours,
        StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      });
    });

    it.each(TABLES.map((t) => [t.id, t] as const))(
      'table %s: keys, TTL, PITR, on-demand, encrypted, retained',
      (id, def) => {
        const table = built.json.Resources[id]!;
        expect(table.Type).toBe('AWS::DynamoDB::Table');
        expect(table.DeletionPolicy).toBe('Retain');
        expect(table.UpdateReplacePolicy).toBe('Retain');
        expect(table.Properties).toMatchObject({
          BillingMode: 'PAY_PER_REQUEST',
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: { SSEEnabled: true },
          DeletionProtectionEnabled: true,
        });
        expect(table.Properties.KeySchema).toEqual([
          { AttributeName: def.partitionKey, KeyType: 'HASH' },
          ...(def.sortKey ? [{ AttributeName: def.sortKey, KeyType: 'RANGE' }] : []),
        ]);
        if (def.ttlAttribute) {
          expect(table.Properties.TimeToLiveSpecification).toEqual({
            AttributeName: def.ttlAttribute,
            Enabled: true,
          });
        } else {
          expect(table.Properties.TimeToLiveSpecification).toBeUndefined();
        }
      },
    );

    it('every topic is encrypted with the rotating customer managed key', () => {
      built.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
      const topics = idsOf(built.json, 'AWS::SNS::Topic');
      expect(topics.sort()).toEqual([LOGICAL_IDS.alarmTopic, LOGICAL_IDS.alertTopic].sort());
      for (const id of topics) {
        expect(built.json.Resources[id]!.Properties.KmsMasterKeyId).toEqual({
          'Fn::GetAtt': [LOGICAL_IDS.messagingKey, 'Arn'],
        });
      }
    });

    it('every queue is encrypted and retains messages for 14 days', () => {
      const queues = idsOf(built.json, 'AWS::SQS::Queue');
      // invalid, late (each with its DLQ), handler failure, IoT rule errors
      expect(queues.length).toBe(6);
      for (const id of queues) {
        expect(built.json.Resources[id]!.Properties).toMatchObject({
          SqsManagedSseEnabled: true,
          MessageRetentionPeriod: 14 * 24 * 3600,
        });
      }
    });

    it('invalid and late queues have their own dead-letter queues', () => {
      for (const [queue, dlq] of [
        [LOGICAL_IDS.invalidQueue, LOGICAL_IDS.invalidDeadLetterQueue],
        [LOGICAL_IDS.lateQueue, LOGICAL_IDS.lateDeadLetterQueue],
      ] as const) {
        expect(built.json.Resources[queue]!.Properties.RedrivePolicy).toEqual({
          deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
          maxReceiveCount: 5,
        });
      }
    });

    it('every queue and topic denies every action made without TLS', () => {
      // Deny, for every principal, any action of the service on the resource without TLS.
      const denyInsecure = (principal: unknown, action: string) =>
        Match.objectLike({
          Effect: 'Deny',
          Action: action,
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Principal: principal,
        });
      for (const [type, policyType, key, principal, action] of [
        ['AWS::SQS::Queue', 'AWS::SQS::QueuePolicy', 'Queues', { AWS: '*' }, 'sqs:*'],
        ['AWS::SNS::Topic', 'AWS::SNS::TopicPolicy', 'Topics', '*', 'sns:*'],
      ] as const) {
        for (const id of idsOf(built.json, type)) {
          built.template.hasResourceProperties(policyType, {
            [key]: [{ Ref: id }],
            PolicyDocument: { Statement: Match.arrayWith([denyInsecure(principal, action)]) },
          });
        }
      }
    });

    it('topics, like the stream, tables, queues and key, are retained with the stack', () => {
      for (const type of ['AWS::SNS::Topic', 'AWS::KMS::Key', 'AWS::SQS::Queue', 'AWS::Kinesis::Stream']) {
        for (const id of idsOf(built.json, type)) {
          expect({ id, policy: built.json.Resources[id]!.DeletionPolicy }).toEqual({ id, policy: 'Retain' });
        }
      }
    });

    // CloudWatch publishes for an alarm as its service principal; both the topic and the key
    // admit it only for alarms of this account named with the stack's prefix.
    const ofThisStacksAlarms = {
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: {
        'aws:SourceArn': {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':cloudwatch:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':alarm:Windowpane-*',
            ],
          ],
        },
      },
    };

    it('the alarm topic admits CloudWatch alarms of this stack only, and its key serves only them', () => {
      built.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: LOGICAL_IDS.alarmTopic }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Condition: ofThisStacksAlarms,
            }),
          ]),
        },
      });
      const keyStatements = built.json.Resources[LOGICAL_IDS.messagingKey]!.Properties.KeyPolicy
        .Statement as {
        Principal: unknown;
        Action: unknown;
        Condition?: unknown;
      }[];
      const forCloudWatch = keyStatements.filter(
        (st) => JSON.stringify(st.Principal) === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }),
      );
      expect(forCloudWatch).toEqual([
        expect.objectContaining({
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          Condition: ofThisStacksAlarms,
        }),
      ]);
    });

    it('every alarm notifying the alarm topic is named so that the topic admits it', () => {
      const notifying = [
        ...idsOf(built.json, 'AWS::CloudWatch::Alarm'),
        ...idsOf(built.json, 'AWS::CloudWatch::CompositeAlarm'),
      ]
        .map((id) => built.json.Resources[id]!.Properties)
        .filter((p) => JSON.stringify([p.AlarmActions, p.OKActions]).includes(LOGICAL_IDS.alarmTopic));
      expect(notifying.length).toBeGreaterThanOrEqual(5);
      for (const p of notifying) expect(p.AlarmName).toMatch(/^Windowpane-/);
    });
  });

  describe('observability', () => {
    it('sets the retention of every log group', () => {
      const groups = idsOf(built.json, 'AWS::Logs::LogGroup');
      expect(groups.length).toBeGreaterThanOrEqual(1);
      for (const id of groups) expect(built.json.Resources[id]!.Properties.RetentionInDays).toBe(30);
    });

    it.each([
      ['Windowpane-iterator-age', 'IteratorAge', 300_000, 'GreaterThanThreshold', 5, 3],
      ['Windowpane-handler-errors', 'Errors', 1, 'GreaterThanOrEqualToThreshold', 1, undefined],
      ['Windowpane-handler-throttles', 'Throttles', 1, 'GreaterThanOrEqualToThreshold', 1, undefined],
      [
        'Windowpane-stream-write-throttled',
        'WriteProvisionedThroughputExceeded',
        1,
        'GreaterThanOrEqualToThreshold',
        3,
        2,
      ],
      [
        'Windowpane-handler-failure-queue-depth',
        'ApproximateNumberOfMessagesVisible',
        1,
        'GreaterThanOrEqualToThreshold',
        1,
        undefined,
      ],
      [
        'Windowpane-invalid-record-dead-letter-queue-depth',
        'ApproximateNumberOfMessagesVisible',
        1,
        'GreaterThanOrEqualToThreshold',
        1,
        undefined,
      ],
      [
        'Windowpane-late-reading-dead-letter-queue-depth',
        'ApproximateNumberOfMessagesVisible',
        1,
        'GreaterThanOrEqualToThreshold',
        1,
        undefined,
      ],
    ])(
      'alarm %s on %s: threshold %d (%s, %d periods)',
      (name, metric, threshold, comparison, periods, datapoints) => {
        built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          AlarmName: name,
          MetricName: metric,
          Threshold: threshold,
          ComparisonOperator: comparison,
          EvaluationPeriods: periods,
          DatapointsToAlarm: datapoints ?? Match.absent(),
          AlarmActions: [{ Ref: LOGICAL_IDS.alarmTopic }],
          OKActions: [{ Ref: LOGICAL_IDS.alarmTopic }],
        });
      },
    );

    it('alarms on the share of invalid records, from the metrics the handler emits', () => {
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'Windowpane-invalid-record-rate',
        Threshold: 5,
        ComparisonOperator: 'GreaterThanThreshold',
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: Match.stringLikeRegexp('invalid.*readings') }),
          Match.objectLike({
            Id: 'invalid',
            MetricStat: Match.objectLike({
              Metric: {
                Namespace: 'Windowpane',
                MetricName: 'InvalidRecords',
                Dimensions: [{ Name: 'service', Value: 'windowpane' }],
              },
              Stat: 'Sum',
            }),
          }),
        ]),
      });
    });

    it('has a dashboard with throughput, lag, windows finalised, alerts, invalid and late counts', () => {
      const [id] = idsOf(built.json, 'AWS::CloudWatch::Dashboard');
      const body = JSON.stringify(built.json.Resources[id!]!.Properties.DashboardBody);
      for (const metric of [
        ...WINDOW_HANDLER_METRICS,
        ...IDLE_SWEEPER_METRICS,
        'IteratorAge',
        'IncomingRecords',
        'ApproximateNumberOfMessagesVisible',
      ]) {
        expect(body).toContain(metric);
      }
    });

    it('outputs the stream, topic, tables and dashboard URL', () => {
      const outputs = Object.keys(built.template.findOutputs('*'));
      expect(outputs).toEqual(
        expect.arrayContaining([
          'StreamName',
          'StreamArn',
          'AlertTopicArn',
          'StateTableName',
          'ResultsTableName',
          'AlertLedgerTableName',
          'RulesTableName',
          'DashboardUrl',
        ]),
      );
      expect(built.template.findOutputs('RulesTableName').RulesTableName?.Value).toEqual({ Ref: 'Rules' });
    });

    it("rules table: named in both functions' environment, read (GetItem, Scan) by them, written by no role", () => {
      const functions = idsOf(built.json, 'AWS::Lambda::Function');
      for (const id of functions) {
        expect(built.json.Resources[id]!.Properties.Environment.Variables[ENV.rulesTable]).toEqual({
          Ref: 'Rules',
        });
      }
      const readers = idsOf(built.json, 'AWS::IAM::Role').filter(
        (role) => grantsOfRole(built.json, role).Rules !== undefined,
      );
      expect(readers.sort()).toEqual(functions.map((id) => roleOfFunction(built.json, id)).sort());
      for (const role of readers) {
        expect(grantsOfRole(built.json, role).Rules).toEqual(['dynamodb:GetItem', 'dynamodb:Scan']);
      }
    });

    it('has no shard scaler on an on-demand stream (functions: handler and idle sweeper)', () => {
      expect(built.stack.shardScaling).toBeUndefined();
      built.template.resourceCountIs('AWS::Lambda::Function', 2);
      for (const id of idsOf(built.json, 'AWS::Lambda::Function')) {
        expect(built.json.Resources[id]!.Properties.Environment.Variables.SCALING_SIGNALS).toBeUndefined();
      }
      built.template.resourceCountIs('AWS::Kinesis::Stream', 1);
    });
  });

  describe('idle sweeper', () => {
    let sweeperId: string;
    beforeAll(() => {
      sweeperId = idsOf(built.json, 'AWS::Lambda::Function').find((id) => id !== handlerId)!;
    });

    it('runs the idle sweeper code with the handler environment, every idleTimeoutMs', () => {
      const fn = built.json.Resources[sweeperId]!.Properties;
      expect(fn).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Timeout: 300 });
      expect(fn.Environment).toEqual(built.json.Resources[handlerId]!.Properties.Environment);
      expect(config.idleTimeoutMs).toBe(300_000);
      built.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(5 minutes)',
        State: 'ENABLED',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [sweeperId, 'Arn'] } })],
      });
      built.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: sweeperId },
        MaximumRetryAttempts: 0,
      });
    });

    it('may do what the handler does, plus scan the state table and read the stream back (CS6); nothing on the invalid queue', () => {
      const grants = grantsOfRole(built.json, roleOfFunction(built.json, sweeperId));
      const handlerGrants = grantsOfRole(built.json, roleOfFunction(built.json, handlerId));
      expect(grants.WindowState).toEqual([
        'dynamodb:BatchGetItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Scan',
      ]);
      for (const id of [
        'WindowResults',
        'AlertLedger',
        'Rules',
        LOGICAL_IDS.alertTopic,
        LOGICAL_IDS.messagingKey,
        LOGICAL_IDS.lateQueue,
      ]) {
        expect(grants[id]).toEqual(handlerGrants[id]);
      }
      // It sends no invalid records, and no stream feeds it: it reads a shard back only to
      // take over a carried state's expired claim (SEMANTICS.md CS6).
      expect(grants[LOGICAL_IDS.invalidQueue]).toBeUndefined();
      expect(grants[LOGICAL_IDS.stream]).toEqual(['kinesis:GetRecords', 'kinesis:GetShardIterator']);
      expect(grants[LOGICAL_IDS.handlerFailureQueue]).toBeUndefined();
    });

    it('alarms on sweeper errors', () => {
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'Windowpane-idle-sweeper-errors',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: sweeperId } }],
        AlarmActions: [{ Ref: LOGICAL_IDS.alarmTopic }],
      });
    });
  });
});

describe('windowpane stack: configuration reaches the template', () => {
  it('event source settings come from the `windowpane` context', () => {
    const built = build({
      windowpane: {
        eventSource: {
          batchSize: 500,
          maxBatchingWindowSeconds: 5,
          parallelizationFactor: 4,
          tumblingWindowSeconds: 0,
          startingPosition: 'LATEST',
          bisectBatchOnFunctionError: false,
          retryAttempts: 2,
          maxRecordAgeSeconds: -1,
        },
      },
    });
    try {
      built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        BatchSize: 500,
        MaximumBatchingWindowInSeconds: 5,
        ParallelizationFactor: 4,
        StartingPosition: 'LATEST',
        BisectBatchOnFunctionError: false,
        MaximumRetryAttempts: 2,
        // -1 is Lambda's default ("never too old"): left out.
        MaximumRecordAgeInSeconds: Match.absent(),
      });
    } finally {
      built.cleanup();
    }
  });

  it('idle sweep interval, or no sweeper at all, from `windowpaneDeploy.idleSweep`', () => {
    const every2 = build({ windowpaneDeploy: { idleSweep: { intervalMinutes: 2 } } });
    try {
      every2.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(2 minutes)' });
    } finally {
      every2.cleanup();
    }
    const none = build({ windowpaneDeploy: { idleSweep: { enabled: false } } });
    try {
      none.template.resourceCountIs('AWS::Events::Rule', 0);
      none.template.resourceCountIs('AWS::Lambda::Function', 1);
    } finally {
      none.cleanup();
    }
  });

  it('an output stream of final windows when `windowpaneDeploy.resultsStream` is on', () => {
    const built = build({ windowpaneDeploy: { resultsStream: true } });
    try {
      built.template.resourceCountIs('AWS::Kinesis::Stream', 2);
      expect(built.json.Resources[LOGICAL_IDS.resultsStream]!.Properties).toMatchObject({
        StreamModeDetails: { StreamMode: 'ON_DEMAND' },
        StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      });
      const handlerId = handlerOf(built);
      expect(built.json.Resources[handlerId]!.Properties.Environment.Variables[ENV.resultsStream]).toEqual({
        Ref: LOGICAL_IDS.resultsStream,
      });
      const grants = grantsOfRole(built.json, roleOfFunction(built.json, handlerId));
      expect(grants[LOGICAL_IDS.resultsStream]).toEqual(['kinesis:PutRecords']);
      // With an output stream, the handler first reads which windows were already emitted.
      expect(grants.WindowResults).toEqual(['dynamodb:BatchGetItem', 'dynamodb:PutItem']);
      expect(Object.keys(built.template.findOutputs('ResultsStreamName'))).toEqual(['ResultsStreamName']);
    } finally {
      built.cleanup();
    }
  });

  it('destroy removal policy, log retention and alarm thresholds come from `windowpaneDeploy`', () => {
    const built = build({
      windowpaneDeploy: {
        removalPolicy: 'destroy',
        logRetentionDays: 7,
        alarms: { iteratorAgeSeconds: 60, handlerErrors: 3, invalidRecordPercent: 1 },
        dashboard: false,
      },
    });
    try {
      for (const def of TABLES) {
        expect(built.json.Resources[def.id]!.DeletionPolicy).toBe('Delete');
        expect(built.json.Resources[def.id]!.Properties.DeletionProtectionEnabled).toBe(false);
      }
      for (const id of [LOGICAL_IDS.alertTopic, LOGICAL_IDS.alarmTopic, LOGICAL_IDS.messagingKey]) {
        expect(built.json.Resources[id]!.DeletionPolicy).toBe('Delete');
      }
      for (const id of idsOf(built.json, 'AWS::Logs::LogGroup')) {
        expect(built.json.Resources[id]!.Properties.RetentionInDays).toBe(7);
      }
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'Windowpane-iterator-age',
        Threshold: 60_000,
      });
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'Windowpane-handler-errors',
        Threshold: 3,
      });
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'Windowpane-invalid-record-rate',
        Threshold: 1,
      });
      built.template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
      expect(Object.keys(built.template.findOutputs('DashboardUrl'))).toEqual([]);
    } finally {
      built.cleanup();
    }
  });

  it('alert subscriptions: email, or an encrypted SQS queue with its own dead-letter queue', () => {
    const email = build({
      windowpaneDeploy: { alertSubscription: { type: 'email', address: 'alerts@example.com' } },
    });
    try {
      email.template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'alerts@example.com',
        TopicArn: { Ref: LOGICAL_IDS.alertTopic },
      });
    } finally {
      email.cleanup();
    }
    const queue = build({
      windowpaneDeploy: { alertSubscription: { type: 'sqs' }, alarmEmail: 'ops@example.com' },
    });
    try {
      queue.template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'sqs',
        RawMessageDelivery: true,
        Endpoint: { 'Fn::GetAtt': [LOGICAL_IDS.alertSubscriptionQueue, 'Arn'] },
        TopicArn: { Ref: LOGICAL_IDS.alertTopic },
      });
      queue.template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'ops@example.com',
        TopicArn: { Ref: LOGICAL_IDS.alarmTopic },
      });
      expect(queue.json.Resources[LOGICAL_IDS.alertSubscriptionQueue]!.Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [LOGICAL_IDS.alertSubscriptionDeadLetterQueue, 'Arn'] },
        },
      });
      // SNS may deliver to it, and only from the alert topic.
      queue.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: LOGICAL_IDS.alertSubscriptionQueue }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'sns.amazonaws.com' },
              Condition: { ArnEquals: { 'aws:SourceArn': { Ref: LOGICAL_IDS.alertTopic } } },
            }),
          ]),
        },
      });
    } finally {
      queue.cleanup();
    }
  });
});

describe('windowpane stack: provisioned stream with shard scaling', () => {
  let built: Built;
  let scalerId: string;

  beforeAll(() => {
    built = build({
      windowpane: { stream: { mode: 'PROVISIONED', shardCount: 4, retentionHours: 48 } },
      windowpaneDeploy: { shardScaling: { enabled: true, minShards: 2, maxShards: 32 } },
    });
    scalerId = functionWithVariable(built, 'SCALING_SIGNALS');
  });
  afterAll(() => built?.cleanup());

  it('provisions the configured shards with the shard-level metrics the alarms read', () => {
    built.template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      ShardCount: 4,
      RetentionPeriodHours: 48,
      DesiredShardLevelMetrics: ['IncomingBytes', 'IncomingRecords'],
    });
  });

  it('scaler: arm64 nodejs22.x, limits and the alarm-to-signal map in its environment', () => {
    const fn = built.json.Resources[scalerId]!.Properties;
    expect(fn).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'] });
    expect(fn.Environment.Variables.STREAM_NAME).toEqual({ Ref: LOGICAL_IDS.stream });
    expect(JSON.parse(fn.Environment.Variables.SCALING_LIMITS)).toMatchObject({
      minShards: 2,
      maxShards: 32,
    });
    expect(JSON.parse(fn.Environment.Variables.SCALING_SIGNALS)).toEqual({
      'Windowpane-shards-bytes-high': 'bytes-high',
      'Windowpane-shards-records-high': 'records-high',
      'Windowpane-stream-write-throttled': 'write-throttled',
      'Windowpane-shards-idle': 'idle',
    });
    built.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: scalerId },
      MaximumRetryAttempts: 2,
    });
  });

  it('scaler: may only describe, tag and reshard this stream, and write its own logs', () => {
    const grants = grantsOfRole(built.json, roleOfFunction(built.json, scalerId));
    const logGroup = idsOf(built.json, 'AWS::Logs::LogGroup').find((id) =>
      id.startsWith('ShardScalingScalerLogs'),
    )!;
    expect(grants).toEqual({
      [logGroup]: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      [LOGICAL_IDS.stream]: ACCESS.shardScaler.code.flatMap((c) => c.actions).sort(),
    });
  });

  it.each([
    [
      'Windowpane-shards-bytes-high',
      'IncomingBytes',
      0.8 * 1_048_576 * 60,
      'GreaterThanThreshold',
      'notBreaching',
    ],
    [
      'Windowpane-shards-records-high',
      'IncomingRecords',
      0.8 * 1_000 * 60,
      'GreaterThanThreshold',
      'notBreaching',
    ],
  ])(
    '%s invokes the scaler when the hottest shard passes %s %d/min',
    (name, metric, threshold, comparison, missing) => {
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: name,
        Threshold: Math.round(threshold),
        ComparisonOperator: comparison,
        TreatMissingData: missing,
        AlarmActions: [{ 'Fn::GetAtt': [scalerId, 'Arn'] }],
        Metrics: [
          Match.objectLike({
            Period: 60,
            Expression: {
              'Fn::Join': [
                '',
                Match.arrayWith([Match.stringLikeRegexp(`SELECT SUM\\(${metric}\\).*ShardId`)]),
              ],
            },
          }),
        ],
      });
    },
  );

  it('the write throttle alarm notifies operators and scales out', () => {
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Windowpane-stream-write-throttled',
      AlarmActions: Match.arrayWith([{ Ref: LOGICAL_IDS.alarmTopic }, { 'Fn::GetAtt': [scalerId, 'Arn'] }]),
    });
  });

  it('scales in only when bytes AND records are low, for 15 minutes', () => {
    for (const [name, threshold] of [
      ['Windowpane-shards-bytes-low', Math.round(0.2 * 1_048_576 * 60)],
      ['Windowpane-shards-records-low', 0.2 * 1_000 * 60],
    ] as const) {
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: name,
        Threshold: threshold,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: 15,
        DatapointsToAlarm: 15,
        TreatMissingData: 'breaching',
        AlarmActions: Match.absent(),
      });
    }
    built.template.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', {
      AlarmName: 'Windowpane-shards-idle',
      AlarmActions: [{ 'Fn::GetAtt': [scalerId, 'Arn'] }],
      AlarmRule: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('AND')])] },
    });
  });

  it('only those alarms may invoke the scaler', () => {
    const permissions = idsOf(built.json, 'AWS::Lambda::Permission')
      .map((id) => built.json.Resources[id]!.Properties)
      .filter((p) => JSON.stringify(p.FunctionName).includes(scalerId));
    expect(permissions).toHaveLength(4);
    for (const p of permissions) {
      expect(p).toMatchObject({
        Action: 'lambda:InvokeFunction',
        Principal: 'lambda.alarms.cloudwatch.amazonaws.com',
        SourceAccount: { Ref: 'AWS::AccountId' },
        FunctionName: { 'Fn::GetAtt': [scalerId, 'Arn'] },
      });
    }
  });

  it('alarms on scaler errors', () => {
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Windowpane-shard-scaler-errors',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: scalerId } }],
      AlarmActions: [{ Ref: LOGICAL_IDS.alarmTopic }],
    });
  });
});
