/**
 * The windowpane stack: Kinesis stream -> window handler (Lambda, event source mapping)
 * -> DynamoDB windows, SNS alerts, SQS sinks for invalid and late records; the idle
 * sweeper on an EventBridge schedule; optionally an output stream of final windows;
 * alarms, a dashboard, and shard scaling when the stream is provisioned.
 *
 * Encryption at rest everywhere, chosen per service:
 * - stream: Kinesis SSE with the AWS managed key (aws/kinesis), so producers need no KMS
 *   permission and the KMS cost does not grow with producers (cdk-nag KDS3's advice);
 * - tables: DynamoDB SSE with the AWS managed key (aws/dynamodb);
 * - topics: a customer managed key with rotation (MessagingKey), the only kind CloudWatch
 *   alarms can publish through;
 * - queues: SQS managed SSE (no key for SNS or Lambda to be granted).
 * Every topic and queue refuses requests without TLS (resource policies).
 *
 * Stateful resources keep fixed logical ids (the TableDefinition ids for tables): a
 * refactoring of the construct tree must never replace a table or the stream, and the
 * local cloud names its resources after these ids (resource-plan.ts).
 */
import {
  ArnFormat,
  CfnOutput,
  type CfnResource,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Tags,
} from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../functions/lib/metric-names.js';
import {
  ALERT_LEDGER_TABLE,
  ENV,
  RESULTS_TABLE,
  STATE_TABLE,
  type TableDefinition,
} from '../functions/lib/resources.js';
import { ScalingLimitsSchema } from '../functions/shard-scaler/decide.js';
import { WindowpaneFunction } from './functions.js';
import { acknowledge } from './nag.js';
import { Observability } from './observability.js';
import { IDLE_SWEEPER_ENTRY, WINDOW_HANDLER_ENTRY } from './paths.js';
import type { AppSettings } from './settings.js';
import { SCALING_SHARD_LEVEL_METRICS, ShardScaling } from './shard-scaling.js';

/** Logical ids of the stateful resources (stable, see the header). */
export const LOGICAL_IDS = {
  stream: 'ReadingsStream',
  resultsStream: 'FinalWindowsStream',
  messagingKey: 'MessagingKey',
  alertTopic: 'AlertTopic',
  alarmTopic: 'AlarmTopic',
  invalidQueue: 'InvalidRecordQueue',
  invalidDeadLetterQueue: 'InvalidRecordDeadLetterQueue',
  lateQueue: 'LateReadingQueue',
  lateDeadLetterQueue: 'LateReadingDeadLetterQueue',
  handlerFailureQueue: 'HandlerFailureQueue',
  alertSubscriptionQueue: 'AlertSubscriptionQueue',
  alertSubscriptionDeadLetterQueue: 'AlertSubscriptionDeadLetterQueue',
} as const;

/**
 * DynamoDB actions per table, exactly what the pipeline's code calls: WindowStateStore
 * (state-store.ts) on the state table, EffectDelivery (effects.ts) on results and ledger.
 * test/infra/grants.test.ts fails when the code starts calling something not granted here.
 */
export const PIPELINE_TABLE_ACTIONS = {
  state: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem'],
  results: ['dynamodb:BatchGetItem', 'dynamodb:PutItem'],
  alertLedger: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'],
} as const;

/** The idle sweeper also lists the idle sensors (WindowStateStore.listIdleSensors). */
export const SWEEPER_STATE_ACTIONS = ['dynamodb:Scan'] as const;

/** SNS publishing to a KMS-encrypted topic needs these on its key (SNS developer guide, SSE). */
export const PUBLISH_KEY_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'] as const;

/** How long the handler's queues keep messages: SQS's maximum, a fortnight to look. */
const QUEUE_RETENTION = Duration.days(14);
/** Receives before a message of a consumed queue moves to its dead-letter queue. */
const MAX_RECEIVE_COUNT = 5;

export interface WindowpaneStackProps extends StackProps {
  settings: AppSettings;
}

interface QueueWithDeadLetters {
  queue: sqs.Queue;
  deadLetterQueue: sqs.Queue;
}

function stable<T extends Construct>(construct: T, logicalId: string): T {
  (construct.node.defaultChild as CfnResource).overrideLogicalId(logicalId);
  return construct;
}

export class WindowpaneStack extends Stack {
  readonly settings: AppSettings;
  readonly stream: kinesis.Stream;
  readonly tables: { state: dynamodb.Table; results: dynamodb.Table; alertLedger: dynamodb.Table };
  readonly messagingKey: kms.Key;
  readonly alertTopic: sns.Topic;
  readonly alarmTopic: sns.Topic;
  readonly invalidQueue: QueueWithDeadLetters;
  readonly lateQueue: QueueWithDeadLetters;
  readonly handlerFailureQueue: sqs.Queue;
  readonly alertSubscriptionQueue?: QueueWithDeadLetters;
  readonly resultsStream?: kinesis.Stream;
  readonly windowHandler: WindowpaneFunction;
  readonly idleSweeper?: WindowpaneFunction;
  readonly idleSweepSchedule?: events.Rule;
  readonly observability: Observability;
  readonly shardScaling?: ShardScaling;

  private readonly removal: RemovalPolicy;

  constructor(scope: Construct, id: string, props: WindowpaneStackProps) {
    super(scope, id, {
      description:
        'windowpane: event-time stream analytics for sensor fleets (Kinesis, Lambda, DynamoDB, SNS)',
      ...props,
    });
    this.settings = props.settings;
    const { config, deploy } = props.settings;
    const retain = deploy.removalPolicy === 'retain';
    this.removal = retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    for (const [key, value] of Object.entries(deploy.tags)) Tags.of(this).add(key, value);
    Tags.of(this).add('application', 'windowpane');

    // --- Stream -------------------------------------------------------------------------
    const provisioned = config.stream.mode === 'PROVISIONED';
    const scalingEnabled = provisioned && deploy.shardScaling.enabled;
    this.stream = stable(
      new kinesis.Stream(this, LOGICAL_IDS.stream, {
        streamMode: provisioned ? kinesis.StreamMode.PROVISIONED : kinesis.StreamMode.ON_DEMAND,
        ...(provisioned ? { shardCount: config.stream.shardCount } : {}),
        retentionPeriod: Duration.hours(config.stream.retentionHours),
        encryption: kinesis.StreamEncryption.MANAGED,
        removalPolicy: this.removal,
        ...(scalingEnabled
          ? {
              shardLevelMetrics: SCALING_SHARD_LEVEL_METRICS.map((m) =>
                m === 'IncomingBytes'
                  ? kinesis.ShardLevelMetrics.INCOMING_BYTES
                  : kinesis.ShardLevelMetrics.INCOMING_RECORDS,
              ),
            }
          : {}),
      }),
      LOGICAL_IDS.stream,
    );

    // --- Tables -------------------------------------------------------------------------
    const table = (def: TableDefinition) =>
      stable(
        new dynamodb.Table(this, def.id, {
          partitionKey: { name: def.partitionKey, type: dynamodb.AttributeType.STRING },
          ...(def.sortKey ? { sortKey: { name: def.sortKey, type: dynamodb.AttributeType.STRING } } : {}),
          ...(def.ttlAttribute ? { timeToLiveAttribute: def.ttlAttribute } : {}),
          billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
          pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
          encryption: dynamodb.TableEncryption.AWS_MANAGED,
          removalPolicy: this.removal,
          deletionProtection: retain,
        }),
        def.id,
      );
    this.tables = {
      state: table(STATE_TABLE),
      results: table(RESULTS_TABLE),
      alertLedger: table(ALERT_LEDGER_TABLE),
    };

    // --- Topics -------------------------------------------------------------------------
    this.messagingKey = stable(
      new kms.Key(this, LOGICAL_IDS.messagingKey, {
        description: `windowpane (${this.stackName}): encrypts the alert and alarm topics`,
        enableKeyRotation: true,
        removalPolicy: this.removal,
        pendingWindow: Duration.days(7),
      }),
      LOGICAL_IDS.messagingKey,
    );
    this.alertTopic = stable(
      new sns.Topic(this, LOGICAL_IDS.alertTopic, {
        displayName: 'windowpane alerts',
        masterKey: this.messagingKey,
        enforceSSL: true,
        signatureVersion: '2',
      }),
      LOGICAL_IDS.alertTopic,
    );
    this.alarmTopic = stable(
      new sns.Topic(this, LOGICAL_IDS.alarmTopic, {
        displayName: 'windowpane alarms',
        masterKey: this.messagingKey,
        enforceSSL: true,
        signatureVersion: '2',
      }),
      LOGICAL_IDS.alarmTopic,
    );
    // CloudWatch alarms publish as the cloudwatch.amazonaws.com service: the topic policy
    // admits alarms of this account only, and the key lets the service encrypt for it
    // (the AWS managed aws/sns key cannot be opened to CloudWatch: hence the CMK).
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: {
            'aws:SourceArn': this.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    this.messagingKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublishEncrypted',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    if (deploy.alarmEmail)
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(deploy.alarmEmail));

    // --- Queues -------------------------------------------------------------------------
    this.invalidQueue = this.queueWithDeadLetters(
      LOGICAL_IDS.invalidQueue,
      LOGICAL_IDS.invalidDeadLetterQueue,
    );
    this.lateQueue = this.queueWithDeadLetters(LOGICAL_IDS.lateQueue, LOGICAL_IDS.lateDeadLetterQueue);
    this.handlerFailureQueue = this.secureQueue(LOGICAL_IDS.handlerFailureQueue);
    acknowledge(this.handlerFailureQueue, {
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter store: the on-failure destination of the Kinesis event source ' +
        'mapping (records that exhausted retries or expired). Nobody consumes it automatically; its depth alarms.',
    });

    const subscription = deploy.alertSubscription;
    if (subscription?.type === 'email') {
      this.alertTopic.addSubscription(new subscriptions.EmailSubscription(subscription.address));
    } else if (subscription?.type === 'sqs') {
      this.alertSubscriptionQueue = this.queueWithDeadLetters(
        LOGICAL_IDS.alertSubscriptionQueue,
        LOGICAL_IDS.alertSubscriptionDeadLetterQueue,
      );
      this.alertTopic.addSubscription(
        new subscriptions.SqsSubscription(this.alertSubscriptionQueue.queue, {
          rawMessageDelivery: subscription.rawMessageDelivery,
        }),
      );
    }

    // --- Optional output stream of final windows --------------------------------------------
    if (deploy.resultsStream) {
      this.resultsStream = stable(
        new kinesis.Stream(this, LOGICAL_IDS.resultsStream, {
          streamMode: kinesis.StreamMode.ON_DEMAND,
          retentionPeriod: Duration.hours(24),
          encryption: kinesis.StreamEncryption.MANAGED,
          removalPolicy: this.removal,
        }),
        LOGICAL_IDS.resultsStream,
      );
    }

    // --- Window handler and idle sweeper ----------------------------------------------------
    // Both run the same pipeline code (functions/window-handler/build.ts) with the same
    // environment (functions/lib/env.ts) and so the same grants; the sweeper also scans.
    const pipelineEnvironment: Record<string, string> = {
      [ENV.stateTable]: this.tables.state.tableName,
      [ENV.resultsTable]: this.tables.results.tableName,
      [ENV.alertLedgerTable]: this.tables.alertLedger.tableName,
      [ENV.alertTopicArn]: this.alertTopic.topicArn,
      [ENV.invalidQueueUrl]: this.invalidQueue.queue.queueUrl,
      [ENV.lateQueueUrl]: this.lateQueue.queue.queueUrl,
      ...(this.resultsStream ? { [ENV.resultsStream]: this.resultsStream.streamName } : {}),
      [ENV.config]: JSON.stringify(config),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: deploy.logLevel,
    };
    this.windowHandler = new WindowpaneFunction(this, 'WindowHandler', {
      entry: WINDOW_HANDLER_ENTRY,
      description: 'windowpane window handler: folds readings into event-time windows, publishes alerts',
      memorySize: deploy.handler.memoryMb,
      timeout: Duration.seconds(deploy.handler.timeoutSeconds),
      logRetentionDays: deploy.logRetentionDays,
      removalPolicy: this.removal,
      environment: pipelineEnvironment,
    });
    const handler = this.windowHandler.function;

    const es = config.eventSource;
    handler.addEventSource(
      new KinesisEventSource(this.stream, {
        startingPosition:
          es.startingPosition === 'LATEST'
            ? lambda.StartingPosition.LATEST
            : lambda.StartingPosition.TRIM_HORIZON,
        batchSize: es.batchSize,
        maxBatchingWindow: Duration.seconds(es.maxBatchingWindowSeconds),
        parallelizationFactor: es.parallelizationFactor,
        bisectBatchOnError: es.bisectBatchOnFunctionError,
        retryAttempts: es.retryAttempts,
        // -1 ("never too old") is Lambda's default: leave the property out.
        ...(es.maxRecordAgeSeconds === -1 ? {} : { maxRecordAge: Duration.seconds(es.maxRecordAgeSeconds) }),
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.handlerFailureQueue),
      }),
    );
    this.grantPipeline(handler);

    if (deploy.idleSweep.enabled) {
      const intervalMinutes =
        deploy.idleSweep.intervalMinutes ?? Math.max(1, Math.ceil(config.idleTimeoutMs / 60_000));
      this.idleSweeper = new WindowpaneFunction(this, 'IdleSweeper', {
        entry: IDLE_SWEEPER_ENTRY,
        description: 'windowpane idle sweeper: flushes the open windows of silent sensors',
        memorySize: deploy.handler.memoryMb,
        // A sweep should end before the next one starts (overlap is safe, only wasteful).
        timeout: Duration.seconds(Math.min(900, Math.max(60, intervalMinutes * 60))),
        logRetentionDays: deploy.logRetentionDays,
        removalPolicy: this.removal,
        environment: pipelineEnvironment,
      });
      const sweeper = this.idleSweeper.function;
      this.grantPipeline(sweeper);
      this.tables.state.grant(sweeper, ...SWEEPER_STATE_ACTIONS);
      // A failed sweep is not retried: the next scheduled one does the same work.
      sweeper.configureAsyncInvoke({ retryAttempts: 0 });
      this.idleSweepSchedule = new events.Rule(this, 'IdleSweepSchedule', {
        description: `windowpane (${this.stackName}): runs the idle sweeper every ${intervalMinutes} min`,
        schedule: events.Schedule.rate(Duration.minutes(intervalMinutes)),
        targets: [new eventTargets.LambdaFunction(sweeper, { retryAttempts: 2 })],
      });
    }

    // --- Observability and scaling ---------------------------------------------------------
    this.observability = new Observability(this, 'Observability', {
      stackName: this.stackName,
      handler,
      stream: this.stream,
      alarmTopic: this.alarmTopic,
      thresholds: deploy.alarms,
      dashboard: deploy.dashboard,
      deadLetterQueues: [
        {
          id: LOGICAL_IDS.handlerFailureQueue,
          queue: this.handlerFailureQueue,
          meaning: 'records the window handler could not process (retries exhausted or too old): replay them',
        },
        {
          id: LOGICAL_IDS.invalidDeadLetterQueue,
          queue: this.invalidQueue.deadLetterQueue,
          meaning: `invalid-record messages a consumer failed ${MAX_RECEIVE_COUNT} times`,
        },
        {
          id: LOGICAL_IDS.lateDeadLetterQueue,
          queue: this.lateQueue.deadLetterQueue,
          meaning: `late-reading messages a consumer failed ${MAX_RECEIVE_COUNT} times`,
        },
        ...(this.alertSubscriptionQueue
          ? [
              {
                id: LOGICAL_IDS.alertSubscriptionDeadLetterQueue,
                queue: this.alertSubscriptionQueue.deadLetterQueue,
                meaning: `alerts the subscribed consumer failed ${MAX_RECEIVE_COUNT} times`,
              },
            ]
          : []),
      ],
    });

    if (scalingEnabled) {
      this.shardScaling = new ShardScaling(this, 'ShardScaling', {
        stackName: this.stackName,
        stream: this.stream,
        limits: ScalingLimitsSchema.parse(deploy.shardScaling),
        writeThrottledAlarm: this.observability.streamWriteThrottled,
        writeThrottledAlarmName: this.observability.streamWriteThrottledName,
        alarmTopic: this.alarmTopic,
        logRetentionDays: deploy.logRetentionDays,
        logLevel: deploy.logLevel,
        removalPolicy: this.removal,
      });
    }
    const sweeperAlarms = this.idleSweeper
      ? [
          this.observability.addFunctionErrorAlarm(
            'IdleSweeperErrors',
            'idle-sweeper-errors',
            this.idleSweeper.function,
            'The idle sweeper failed: windows of silent sensors are not being finalised. See its log group.',
          ),
        ]
      : [];
    this.observability.createDashboard(
      [...sweeperAlarms, ...(this.shardScaling?.alarms ?? [])],
      this.shardScaling?.widgets() ?? [],
    );

    acknowledge(this.windowHandler.function, {
      id: 'AwsSolutions-L1',
      reason:
        'windowpane pins nodejs22.x (supported LTS) deliberately: it is the runtime the handler and its ' +
        'bundle are tested for; moving to a newer runtime is a tested change of the constant in functions.ts.',
    });
    if (this.idleSweeper) {
      acknowledge(this.idleSweeper.function, {
        id: 'AwsSolutions-L1',
        reason: 'Same runtime as the window handler (nodejs22.x, pinned and tested; see functions.ts).',
      });
    }
    if (this.shardScaling) {
      acknowledge(this.shardScaling.scaler.function, {
        id: 'AwsSolutions-L1',
        reason: 'Same runtime as the window handler (nodejs22.x, pinned and tested; see functions.ts).',
      });
    }

    this.outputs();
  }

  /** Least privilege: exactly the calls the pipeline code makes, on exactly its resources. */
  private grantPipeline(fn: lambda.IFunction): void {
    this.tables.state.grant(fn, ...PIPELINE_TABLE_ACTIONS.state);
    this.tables.results.grant(fn, ...PIPELINE_TABLE_ACTIONS.results);
    this.tables.alertLedger.grant(fn, ...PIPELINE_TABLE_ACTIONS.alertLedger);
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['sns:Publish'],
      resourceArns: [this.alertTopic.topicArn],
    });
    this.messagingKey.grant(fn, ...PUBLISH_KEY_ACTIONS);
    // SendMessageBatch is authorised as sqs:SendMessage.
    this.invalidQueue.queue.grant(fn, 'sqs:SendMessage');
    this.lateQueue.queue.grant(fn, 'sqs:SendMessage');
    this.resultsStream?.grant(fn, 'kinesis:PutRecords');
  }

  private secureQueue(logicalId: string, deadLetterQueue?: sqs.Queue): sqs.Queue {
    return stable(
      new sqs.Queue(this, logicalId, {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: QUEUE_RETENTION,
        removalPolicy: this.removal,
        ...(deadLetterQueue
          ? { deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT } }
          : {}),
      }),
      logicalId,
    );
  }

  /** A queue someone consumes, with its own dead-letter queue for messages that keep failing. */
  private queueWithDeadLetters(logicalId: string, deadLetterId: string): QueueWithDeadLetters {
    const deadLetterQueue = this.secureQueue(deadLetterId);
    return { queue: this.secureQueue(logicalId, deadLetterQueue), deadLetterQueue };
  }

  private outputs(): void {
    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    out('StreamName', this.stream.streamName, 'Kinesis stream producers write readings to');
    out('StreamArn', this.stream.streamArn, 'ARN of the readings stream');
    out('AlertTopicArn', this.alertTopic.topicArn, 'SNS topic alerts are published to');
    out('AlarmTopicArn', this.alarmTopic.topicArn, 'SNS topic operational alarms notify');
    out('StateTableName', this.tables.state.tableName, 'DynamoDB table of per-sensor working state');
    out('ResultsTableName', this.tables.results.tableName, 'DynamoDB table of final windows');
    out('AlertLedgerTableName', this.tables.alertLedger.tableName, 'DynamoDB table of published alert ids');
    out(
      'InvalidRecordQueueUrl',
      this.invalidQueue.queue.queueUrl,
      'SQS queue of invalid records (reason + original data)',
    );
    out('LateReadingQueueUrl', this.lateQueue.queue.queueUrl, 'SQS queue of late readings');
    out(
      'HandlerFailureQueueUrl',
      this.handlerFailureQueue.queueUrl,
      'SQS on-failure destination of the event source',
    );
    if (this.resultsStream) {
      out('ResultsStreamName', this.resultsStream.streamName, 'Kinesis stream of final windows');
    }
    if (this.alertSubscriptionQueue) {
      out(
        'AlertSubscriptionQueueUrl',
        this.alertSubscriptionQueue.queue.queueUrl,
        'SQS queue subscribed to alerts',
      );
    }
    const url = this.observability.dashboardUrl();
    if (url) out('DashboardUrl', url, 'CloudWatch dashboard');
  }
}
