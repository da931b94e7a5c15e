/**
 * The processing: the window handler fed by the event source mapping, and the idle
 * sweeper on its schedule, with the state table and the alert ledger they keep. Both
 * functions run the same pipeline code with the same environment (functions/lib/env.ts).
 */
import { Duration, Names, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import type { WindowpaneConfig } from '../functions/domain/config.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../functions/lib/metric-names.js';
import { ALERT_LEDGER_TABLE, ENV, STATE_TABLE } from '../functions/lib/resources.js';
import { WindowpaneFunction } from './functions.js';
import type { Ingest } from './ingest.js';
import { Section } from './logical-ids.js';
import type { Messaging } from './messaging.js';
import { IDLE_SWEEPER_ENTRY, WINDOW_HANDLER_ENTRY } from './paths.js';
import { WindowpaneTable } from './secure-resources.js';
import type { DeploySettings } from './settings.js';
import type { Sinks } from './sinks.js';

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

export interface PipelineProps {
  config: WindowpaneConfig;
  deploy: DeploySettings;
  ingest: Ingest;
  messaging: Messaging;
  sinks: Sinks;
  removalPolicy: RemovalPolicy;
}

export class Pipeline extends Section {
  readonly stateTable: WindowpaneTable;
  readonly alertLedgerTable: WindowpaneTable;
  readonly windowHandler: WindowpaneFunction;
  readonly eventSourceMapping: lambda.EventSourceMapping;
  readonly idleSweeper?: WindowpaneFunction;
  readonly idleSweepSchedule?: events.Rule;
  private readonly props: PipelineProps;

  constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    this.props = props;
    const { config, deploy, messaging, sinks, removalPolicy } = props;
    this.stateTable = new WindowpaneTable(this, STATE_TABLE, { removalPolicy });
    this.alertLedgerTable = new WindowpaneTable(this, ALERT_LEDGER_TABLE, { removalPolicy });

    const environment: Record<string, string> = {
      [ENV.stateTable]: this.stateTable.tableName,
      [ENV.resultsTable]: sinks.resultsTable.tableName,
      [ENV.alertLedgerTable]: this.alertLedgerTable.tableName,
      [ENV.alertTopicArn]: messaging.alertTopic.topicArn,
      [ENV.invalidQueueUrl]: messaging.invalidQueue.queue.queueUrl,
      [ENV.lateQueueUrl]: messaging.lateQueue.queue.queueUrl,
      ...(sinks.resultsStream ? { [ENV.resultsStream]: sinks.resultsStream.streamName } : {}),
      [ENV.config]: JSON.stringify(config),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: deploy.logLevel,
    };
    const common = {
      memorySize: deploy.handler.memoryMb,
      logRetentionDays: deploy.logRetentionDays,
      removalPolicy,
      environment,
    };

    this.windowHandler = new WindowpaneFunction(this, 'WindowHandler', {
      ...common,
      entry: WINDOW_HANDLER_ENTRY,
      description: 'windowpane window handler: folds readings into event-time windows, publishes alerts',
      timeout: Duration.seconds(deploy.handler.timeoutSeconds),
    });
    this.eventSourceMapping = this.mapStream();
    this.grantPipeline(this.windowHandler.function);

    if (deploy.idleSweep.enabled) {
      const intervalMinutes =
        deploy.idleSweep.intervalMinutes ?? Math.max(1, Math.ceil(config.idleTimeoutMs / 60_000));
      this.idleSweeper = new WindowpaneFunction(this, 'IdleSweeper', {
        ...common,
        entry: IDLE_SWEEPER_ENTRY,
        description: 'windowpane idle sweeper: flushes the open windows of silent sensors',
        // A sweep should end before the next one starts (overlap is safe, only wasteful).
        timeout: Duration.seconds(Math.min(900, Math.max(60, intervalMinutes * 60))),
      });
      const sweeper = this.idleSweeper.function;
      this.grantPipeline(sweeper);
      this.stateTable.grant(sweeper, ...SWEEPER_STATE_ACTIONS);
      // A failed sweep is not retried: the next scheduled one does the same work.
      sweeper.configureAsyncInvoke({ retryAttempts: 0 });
      this.idleSweepSchedule = new events.Rule(this, 'IdleSweepSchedule', {
        description: `windowpane (${Stack.of(this).stackName}): runs the idle sweeper every ${intervalMinutes} min`,
        schedule: events.Schedule.rate(Duration.minutes(intervalMinutes)),
        targets: [new eventTargets.LambdaFunction(sweeper, { retryAttempts: 2 })],
      });
    }
  }

  /**
   * The event source mapping, with the configured settings. Its construct id is the one
   * CDK's KinesisEventSource gave it: the mapping holds the stream position, and a new
   * logical id would be a new mapping starting over from its starting position.
   */
  private mapStream(): lambda.EventSourceMapping {
    const { config, ingest, messaging } = this.props;
    const es = config.eventSource;
    const handler = this.windowHandler.function;
    const mapping = handler.addEventSourceMapping(
      `KinesisEventSource:${Names.nodeUniqueId(ingest.stream.node)}`,
      {
        eventSourceArn: ingest.stream.streamArn,
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
        onFailure: new SqsDlq(messaging.handlerFailureQueue),
      },
    );
    ingest.stream.grantRead(handler);
    return mapping;
  }

  /** Least privilege: exactly the calls the pipeline code makes, on exactly its resources. */
  private grantPipeline(fn: lambda.IFunction): void {
    const { messaging, sinks } = this.props;
    this.stateTable.grant(fn, ...PIPELINE_TABLE_ACTIONS.state);
    sinks.resultsTable.grant(fn, ...PIPELINE_TABLE_ACTIONS.results);
    this.alertLedgerTable.grant(fn, ...PIPELINE_TABLE_ACTIONS.alertLedger);
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['sns:Publish'],
      resourceArns: [messaging.alertTopic.topicArn],
    });
    messaging.key.grant(fn, ...PUBLISH_KEY_ACTIONS);
    // SendMessageBatch is authorised as sqs:SendMessage.
    messaging.invalidQueue.queue.grant(fn, 'sqs:SendMessage');
    messaging.lateQueue.queue.grant(fn, 'sqs:SendMessage');
    sinks.resultsStream?.grant(fn, 'kinesis:PutRecords');
  }
}
