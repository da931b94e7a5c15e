/**
 * The processing: the window handler fed by the event source mapping, and the idle
 * sweeper on its schedule, with the state table and the alert ledger they keep, and the
 * rules table they read (written by `npm run rules` only). Both functions run the same
 * pipeline code with the same environment (functions/lib/env.ts).
 */
import { Duration, Names, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { WindowpaneConfig } from '../functions/domain/config.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../functions/lib/metric-names.js';
import {
  ALARMS_TABLE,
  ALERT_LEDGER_TABLE,
  ENV,
  RULES_TABLE,
  STATE_TABLE,
} from '../functions/lib/resources.js';
import { ACCESS, type Grantable, grantAccess, type Target } from './access.js';
import { WindowpaneFunction } from './functions.js';
import type { Ingest } from './ingest.js';
import { Section } from './logical-ids.js';
import type { Messaging } from './messaging.js';
import { acknowledge } from './nag.js';
import { IDLE_SWEEPER_ENTRY, WINDOW_HANDLER_ENTRY } from './paths.js';
import { WindowpaneTable } from './secure-resources.js';
import type { DeploySettings } from './settings.js';
import type { Sinks } from './sinks.js';

export interface PipelineProps {
  config: WindowpaneConfig;
  deploy: DeploySettings;
  ingest: Ingest;
  messaging: Messaging;
  sinks: Sinks;
  removalPolicy: RemovalPolicy;
}

/** The one wildcard of a role that decodes Glue-framed Avro readings (access.ts: on `*`). */
const GLUE_WILDCARD = {
  id: 'AwsSolutions-IAM5[Resource::*]',
  reason:
    'glue:GetSchemaVersion by SchemaVersionId (all a Glue-framed Avro record names) is authorised only on *: ' +
    'Glue refuses it on registry or schema ARNs (github.com/awslabs/aws-glue-schema-registry/issues/68). ' +
    'It is the only wildcard, a read of schema text, and nothing else of the role is on *.',
};

export class Pipeline extends Section {
  readonly stateTable: WindowpaneTable;
  readonly alertLedgerTable: WindowpaneTable;
  /** Rules at runtime (docs/SEMANTICS.md A-R4): read by both functions, written by no function. */
  readonly rulesTable: WindowpaneTable;
  /** The alarms projection `npm run alarms` reads (docs/SEMANTICS.md A-C4). */
  readonly alarmsTable: WindowpaneTable;
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
    this.rulesTable = new WindowpaneTable(this, RULES_TABLE, { removalPolicy });
    this.alarmsTable = new WindowpaneTable(this, ALARMS_TABLE, { removalPolicy });

    const environment: Record<string, string> = {
      [ENV.stateTable]: this.stateTable.tableName,
      [ENV.resultsTable]: sinks.resultsTable.tableName,
      [ENV.alertLedgerTable]: this.alertLedgerTable.tableName,
      [ENV.alarmsTable]: this.alarmsTable.tableName,
      [ENV.alertTopicArn]: messaging.alertTopic.topicArn,
      [ENV.invalidQueueUrl]: messaging.invalidQueue.queue.queueUrl,
      [ENV.lateQueueUrl]: messaging.lateQueue.queue.queueUrl,
      [ENV.rulesTable]: this.rulesTable.tableName,
      [ENV.readingsStream]: props.ingest.stream.streamName,
      ...(sinks.resultsStream ? { [ENV.resultsStream]: sinks.resultsStream.streamName } : {}),
      ...(props.ingest.schemaRegistry
        ? { [ENV.schemaRegistryName]: props.ingest.schemaRegistry.registryName }
        : {}),
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
    grantAccess(this.windowHandler.function, ACCESS.windowHandler, this.targets());
    if (props.ingest.schemaRegistry) {
      acknowledge(this.windowHandler.role, GLUE_WILDCARD);
    }

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
      grantAccess(sweeper, ACCESS.idleSweeper, this.targets());
      // A claim takeover decodes Glue-framed Avro readings as the handler does (access.ts).
      if (props.ingest.schemaRegistry) acknowledge(this.idleSweeper.role, GLUE_WILDCARD);
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
   * The event source mapping, with the configured settings. Built directly rather than
   * through CDK's KinesisEventSource and SqsDlq, whose grants (stream `grantRead`, queue
   * `grantSendMessages`) exceed what the mapping uses: its role needs are in access.ts.
   * Its construct id is the one KinesisEventSource gave it: the mapping holds the stream
   * position, and a new logical id would be a new mapping starting over.
   */
  private mapStream(): lambda.EventSourceMapping {
    const { config, ingest, messaging } = this.props;
    const es = config.eventSource;
    const handler = this.windowHandler.function;
    return handler.addEventSourceMapping(`KinesisEventSource:${Names.nodeUniqueId(ingest.stream.node)}`, {
      eventSourceArn: ingest.stream.streamArn,
      startingPosition:
        es.startingPosition === 'LATEST'
          ? lambda.StartingPosition.LATEST
          : lambda.StartingPosition.TRIM_HORIZON,
      batchSize: es.batchSize,
      maxBatchingWindow: Duration.seconds(es.maxBatchingWindowSeconds),
      parallelizationFactor: es.parallelizationFactor,
      ...(es.tumblingWindowSeconds > 0 ? { tumblingWindow: Duration.seconds(es.tumblingWindowSeconds) } : {}),
      bisectBatchOnError: es.bisectBatchOnFunctionError,
      retryAttempts: es.retryAttempts,
      // -1 ("never too old") is Lambda's default: leave the property out.
      ...(es.maxRecordAgeSeconds === -1 ? {} : { maxRecordAge: Duration.seconds(es.maxRecordAgeSeconds) }),
      reportBatchItemFailures: true,
      onFailure: { bind: () => ({ destination: messaging.handlerFailureQueue.queueArn }) },
    });
  }

  /** The resources of this deployment grants may name (access.ts). */
  private targets(): Partial<Record<Target, Grantable>> {
    const { ingest, messaging, sinks } = this.props;
    return {
      readingsStream: ingest.stream,
      stateTable: this.stateTable,
      resultsTable: sinks.resultsTable,
      alertLedgerTable: this.alertLedgerTable,
      rulesTable: this.rulesTable,
      alarmsTable: this.alarmsTable,
      alertTopic: messaging.alertTopic,
      messagingKey: messaging.key,
      invalidQueue: messaging.invalidQueue.queue,
      lateQueue: messaging.lateQueue.queue,
      handlerFailureQueue: messaging.handlerFailureQueue,
      ...(sinks.resultsStream ? { resultsStream: sinks.resultsStream } : {}),
      ...(ingest.schemaRegistry ? { schemaRegistry: ingest.schemaRegistry.grantable() } : {}),
    };
  }
}
