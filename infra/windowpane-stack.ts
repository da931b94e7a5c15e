/**
 * The windowpane stack, composed of sections:
 *
 *   Ingest         the readings stream, the IoT topic rules into it (ingest.ts)
 *   Messaging      topics and their key, the queues of invalid, late and failed records,
 *                  the deployment's subscriptions (messaging.ts)
 *   Sinks          the results table, the optional output stream and lake (sinks.ts)
 *   Pipeline       state table, alert ledger, window handler and its event source
 *                  mapping, idle sweeper and its schedule, their grants (pipeline.ts)
 *   Observability  alarms and the dashboard (observability.ts)
 *   ShardScaling   provisioned streams only (shard-scaling.ts)
 *
 * Stores and channels come from secure-resources.ts (encryption at rest, TLS only, removal
 * policy, fixed logical ids). Sections are left out of logical ids (logical-ids.ts): moving
 * a construct between sections replaces nothing, and local/cloud names its resources
 * after the fixed ids (resource-plan.ts).
 */
import {
  type CfnElement,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Tags,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { percentilePlan } from '../functions/domain/percentile-config.js';
import { ScalingLimitsSchema } from '../functions/shard-scaler/decide.js';
import { Ingest } from './ingest.js';
import { logicalIdWithoutSections } from './logical-ids.js';
import { Messaging } from './messaging.js';
import { Observability } from './observability.js';
import { Pipeline } from './pipeline.js';
import type { ServiceRoleBinding } from './service-access.js';
import type { AppSettings } from './settings.js';
import { ShardScaling } from './shard-scaling.js';
import { Sinks } from './sinks.js';

export { LOGICAL_IDS } from './logical-ids.js';

export interface WindowpaneStackProps extends StackProps {
  settings: AppSettings;
}

export class WindowpaneStack extends Stack {
  readonly settings: AppSettings;
  readonly ingest: Ingest;
  readonly messaging: Messaging;
  readonly sinks: Sinks;
  readonly pipeline: Pipeline;
  readonly observability: Observability;
  readonly shardScaling?: ShardScaling;

  constructor(scope: Construct, id: string, props: WindowpaneStackProps) {
    super(scope, id, {
      description:
        'windowpane: event-time stream analytics for sensor fleets (Kinesis, Lambda, DynamoDB, SNS)',
      ...props,
    });
    this.settings = props.settings;
    const { config, deploy } = props.settings;
    const removalPolicy = deploy.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    for (const [key, value] of Object.entries(deploy.tags)) Tags.of(this).add(key, value);
    Tags.of(this).add('application', 'windowpane');

    const scalingEnabled = config.stream.mode === 'PROVISIONED' && deploy.shardScaling.enabled;
    this.ingest = new Ingest(this, 'Ingest', {
      stackName: deploy.stackName,
      stream: config.stream,
      iot: deploy.iot.enabled,
      avro: deploy.avro,
      metrics: config.metrics,
      shardScaling: scalingEnabled,
      removalPolicy,
    });
    this.messaging = new Messaging(this, 'Messaging', {
      ...(deploy.alarmEmail ? { alarmEmail: deploy.alarmEmail } : {}),
      ...(deploy.alertSubscription ? { alertSubscription: deploy.alertSubscription } : {}),
      removalPolicy,
    });
    this.sinks = new Sinks(this, 'Sinks', {
      stackName: deploy.stackName,
      resultsStream: deploy.resultsStream,
      lake: deploy.lake,
      alertTopic: this.messaging.alertTopic,
      alarmTopic: this.messaging.alarmTopic,
      logRetentionDays: deploy.logRetentionDays,
      removalPolicy,
      percentileNames: percentilePlan(config)?.names ?? [],
    });
    this.pipeline = new Pipeline(this, 'Pipeline', {
      config,
      deploy,
      ingest: this.ingest,
      messaging: this.messaging,
      sinks: this.sinks,
      removalPolicy,
    });

    const handler = this.pipeline.windowHandler.function;
    this.observability = new Observability(this, 'Observability', {
      stackName: this.stackName,
      handler,
      stream: this.ingest.stream,
      alarmTopic: this.messaging.alarmTopic,
      thresholds: deploy.alarms,
      dashboard: deploy.dashboard,
      deadLetterQueues: [...this.messaging.deadLetterQueues(), ...this.ingest.deadLetterQueues()],
    });
    if (scalingEnabled) {
      this.shardScaling = new ShardScaling(this, 'ShardScaling', {
        stackName: this.stackName,
        stream: this.ingest.stream,
        limits: ScalingLimitsSchema.parse(deploy.shardScaling),
        writeThrottledAlarm: this.observability.streamWriteThrottled,
        writeThrottledAlarmName: this.observability.streamWriteThrottledName,
        alarmTopic: this.messaging.alarmTopic,
        logRetentionDays: deploy.logRetentionDays,
        logLevel: deploy.logLevel,
        removalPolicy,
      });
    }
    const sweeper = this.pipeline.idleSweeper;
    const extraAlarms = [
      ...(sweeper
        ? [
            this.observability.addCountAlarm(
              'IdleSweeperErrors',
              'idle-sweeper-errors',
              sweeper.function.metricErrors({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
              'The idle sweeper failed: windows of silent sensors are not being finalised. See its log group.',
            ),
          ]
        : []),
      ...(this.ingest.iot
        ? [
            this.observability.addCountAlarm(
              'IotParseErrors',
              'iot-parse-errors',
              this.ingest.iot.parseErrors(),
              'Devices published payloads that are not JSON on windowpane/<sensorId>/telemetry: IoT could not ' +
                'add the sensor id and did not forward them. Binary payloads belong on .../telemetry/bin.',
            ),
          ]
        : []),
    ];
    this.observability.createDashboard(
      [...extraAlarms, ...(this.sinks.lake?.alarms ?? []), ...(this.shardScaling?.alarms ?? [])],
      this.shardScaling?.widgets() ?? [],
    );
    this.outputs();
  }

  /** The roles AWS services assume for the stack, each granted its plan (service-access.ts). */
  serviceRoles(): ServiceRoleBinding[] {
    return [
      ...(this.ingest.iot ? [this.ingest.iot.serviceRole] : []),
      ...(this.sinks.lake?.serviceRoles() ?? []),
    ];
  }

  /** CDK's logical ids, computed as if the sections were not there (logical-ids.ts). */
  protected override allocateLogicalId(element: CfnElement): string {
    return logicalIdWithoutSections(element, this);
  }

  private outputs(): void {
    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    const { stream } = this.ingest;
    const { alertTopic, alarmTopic, invalidQueue, lateQueue, handlerFailureQueue, alertSubscriptionQueue } =
      this.messaging;
    out('StreamName', stream.streamName, 'Kinesis stream producers write readings to');
    out('StreamArn', stream.streamArn, 'ARN of the readings stream');
    out('AlertTopicArn', alertTopic.topicArn, 'SNS topic alerts are published to');
    out('AlarmTopicArn', alarmTopic.topicArn, 'SNS topic operational alarms notify');
    out('StateTableName', this.pipeline.stateTable.tableName, 'DynamoDB table of per-sensor working state');
    out('ResultsTableName', this.sinks.resultsTable.tableName, 'DynamoDB table of final windows');
    out(
      'AlertLedgerTableName',
      this.pipeline.alertLedgerTable.tableName,
      'DynamoDB table of published alert ids',
    );
    out(
      'RulesTableName',
      this.pipeline.rulesTable.tableName,
      'DynamoDB table of rules at runtime (npm run rules -- --stack NAME)',
    );
    out(
      'AlarmsTableName',
      this.pipeline.alarmsTable.tableName,
      'DynamoDB table of alarm states and history (npm run alarms)',
    );
    out(
      'InvalidRecordQueueUrl',
      invalidQueue.queue.queueUrl,
      'SQS queue of invalid records (reason + original data)',
    );
    out('LateReadingQueueUrl', lateQueue.queue.queueUrl, 'SQS queue of late readings');
    out(
      'HandlerFailureQueueUrl',
      handlerFailureQueue.queueUrl,
      'SQS on-failure destination of the event source',
    );
    if (this.sinks.resultsStream) {
      out('ResultsStreamName', this.sinks.resultsStream.streamName, 'Kinesis stream of final windows');
    }
    if (alertSubscriptionQueue) {
      out(
        'AlertSubscriptionQueueUrl',
        alertSubscriptionQueue.queue.queueUrl,
        'SQS queue subscribed to alerts',
      );
    }
    const { lake } = this.sinks;
    if (lake) {
      out(
        'LakeBucketName',
        lake.bucket.bucketName,
        'S3 bucket of the lake (final windows and alarm transitions, Parquet)',
      );
      out('LakeDatabaseName', lake.databaseName, 'Glue database of the lake tables (windows, transitions)');
    }
    const { iot } = this.ingest;
    if (iot) {
      out('IotDevicePolicyName', iot.devicePolicy.ref, 'IoT policy to attach to each device certificate');
      out(
        'IotRuleErrorQueueUrl',
        iot.errorQueue.queueUrl,
        'SQS queue of readings the IoT topic rules could not put on the stream',
      );
    }
    const url = this.observability.dashboardUrl();
    if (url) out('DashboardUrl', url, 'CloudWatch dashboard');
  }
}
