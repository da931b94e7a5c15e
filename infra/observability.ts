/**
 * The stack's operational alarms and its CloudWatch dashboard.
 *
 * Alarms notify the operations topic on ALARM and on OK:
 * - iterator age of the window handler (the pipeline is falling behind the stream);
 * - handler errors (whole-batch failures) and Lambda throttles;
 * - write throttling on the stream (producers are being rejected);
 * - depth of every dead-letter queue (something needs a human);
 * - the share of invalid records (a producer sends garbage).
 * Custom metrics are read under the names the functions publish them with (EMF through
 * Powertools, dimension `service`), taken from the one module both sides import
 * (functions/lib/metric-names.ts).
 */
import { Aws, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, type MetricName, SERVICE_NAME } from '../functions/lib/metric-names.js';
import { alarmName, createAlarm } from './alarms.js';
import type { DeploySettings } from './settings.js';

/** A custom metric of the window handler or the idle sweeper, summed over `period`. */
export function pipelineMetric(name: MetricName, period = Duration.minutes(5)): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: SERVICE_NAME },
    statistic: cloudwatch.Stats.SUM,
    period,
  });
}

export interface DeadLetterQueueRef {
  /** Construct id and alarm name part, e.g. `HandlerFailureQueue`. */
  id: string;
  queue: sqs.IQueue;
  /** What a message there means, for the alarm description. */
  meaning: string;
}

export interface ObservabilityProps {
  stackName: string;
  handler: lambda.IFunction;
  stream: kinesis.IStream;
  alarmTopic: sns.ITopic;
  deadLetterQueues: DeadLetterQueueRef[];
  thresholds: DeploySettings['alarms'];
  dashboard: boolean;
}

export class Observability extends Construct {
  readonly iteratorAge: cloudwatch.Alarm;
  readonly handlerErrors: cloudwatch.Alarm;
  readonly handlerThrottles: cloudwatch.Alarm;
  readonly streamWriteThrottled: cloudwatch.Alarm;
  /** The literal name of `streamWriteThrottled` (the shard scaler maps alarm names to signals). */
  readonly streamWriteThrottledName: string;
  readonly invalidRecordRate: cloudwatch.Alarm;
  readonly deadLetterDepth: cloudwatch.Alarm[];
  /** Every alarm above, for the dashboard's alarm status widget. */
  readonly alarms: cloudwatch.IAlarm[] = [];
  /** Invalid records as a share of all records (%), the invalid-record rate alarm's metric. */
  readonly invalidShare: cloudwatch.MathExpression;
  private readonly props: ObservabilityProps;
  private dashboardBuilt?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { stackName, handler, stream, alarmTopic: notify, thresholds } = props;
    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    this.iteratorAge = createAlarm(this, 'IteratorAge', stackName, {
      name: 'iterator-age',
      alarmDescription:
        `The window handler is more than ${thresholds.iteratorAgeSeconds} s behind the stream ` +
        '(Lambda IteratorAge): windows finalise late and records near the maximum age go to the failure queue.',
      metric: handler.metric('IteratorAge', { statistic: cloudwatch.Stats.MAXIMUM, period: oneMinute }),
      threshold: thresholds.iteratorAgeSeconds * 1_000,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      notify,
    });

    this.handlerErrors = createAlarm(this, 'HandlerErrors', stackName, {
      name: 'handler-errors',
      alarmDescription:
        'The window handler failed whole batches (per-record failures are reported, not thrown): ' +
        'the shard retries, bisects and finally sends records to the failure queue.',
      metric: handler.metricErrors({ statistic: cloudwatch.Stats.SUM, period: fiveMinutes }),
      threshold: thresholds.handlerErrors,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      notify,
    });

    this.handlerThrottles = createAlarm(this, 'HandlerThrottles', stackName, {
      name: 'handler-throttles',
      alarmDescription:
        'Lambda throttled the window handler (account or function concurrency): the stream lags.',
      metric: handler.metricThrottles({ statistic: cloudwatch.Stats.SUM, period: fiveMinutes }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      notify,
    });

    this.streamWriteThrottledName = alarmName(stackName, 'stream-write-throttled');
    this.streamWriteThrottled = createAlarm(this, 'StreamWriteThrottled', stackName, {
      name: 'stream-write-throttled',
      alarmDescription:
        'Kinesis rejected producer writes (WriteProvisionedThroughputExceeded) in 2 of the last 3 minutes: ' +
        'a shard is at capacity. Provisioned streams with shard scaling scale out on this alarm.',
      metric: stream.metric('WriteProvisionedThroughputExceeded', {
        statistic: cloudwatch.Stats.SUM,
        period: oneMinute,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      notify,
    });

    this.deadLetterDepth = props.deadLetterQueues.map(({ id: queueId, queue, meaning }) =>
      createAlarm(this, `${queueId}Depth`, stackName, {
        name: `${kebab(queueId)}-depth`,
        alarmDescription: `${queueId} holds messages: ${meaning}`,
        metric: queue.metricApproximateNumberOfMessagesVisible({
          statistic: cloudwatch.Stats.MAXIMUM,
          period: fiveMinutes,
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        notify,
      }),
    );

    // Invalid records as a share of all records. The handler counts valid readings in
    // `Readings` and the rest in `InvalidRecords`; FILL makes a quiet period 0 %, not missing.
    this.invalidShare = new cloudwatch.MathExpression({
      expression: '100 * FILL(invalid, 0) / MAX([FILL(invalid, 0) + FILL(readings, 0), 1])',
      usingMetrics: {
        invalid: pipelineMetric(METRIC.invalidRecords),
        readings: pipelineMetric(METRIC.readings),
      },
      label: 'Invalid records (%)',
      period: fiveMinutes,
    });
    this.invalidRecordRate = createAlarm(this, 'InvalidRecordRate', stackName, {
      name: 'invalid-record-rate',
      alarmDescription:
        `More than ${thresholds.invalidRecordPercent} % of records were invalid in 2 of 3 five-minute periods: ` +
        'a producer sends malformed readings (see the invalid-record queue for reasons and original data).',
      metric: this.invalidShare,
      threshold: thresholds.invalidRecordPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      notify,
    });

    this.alarms.push(
      this.iteratorAge,
      this.handlerErrors,
      this.handlerThrottles,
      this.streamWriteThrottled,
      this.invalidRecordRate,
      ...this.deadLetterDepth,
    );

    this.props = props;
  }

  /**
   * An alarm on any occurrence of `metric` (a sum over 5 minutes): errors of a function
   * off the stream path (sweeper, scaler), IoT parse errors, failed lake deliveries.
   */
  addCountAlarm(id: string, name: string, metric: cloudwatch.IMetric, description: string): cloudwatch.Alarm {
    return createAlarm(this, id, this.props.stackName, {
      name,
      alarmDescription: description,
      metric,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      notify: this.props.alarmTopic,
    });
  }

  /**
   * Builds the dashboard (when enabled): throughput, lag, windows finalised, alerts,
   * invalid and late counts, writes, handler health, dead-letter depth, alarm status.
   * Called once every alarm exists, so `extraAlarms` (the shard scaler's) show too.
   */
  createDashboard(
    extraAlarms: cloudwatch.IAlarm[] = [],
    extraWidgets: cloudwatch.IWidget[] = [],
  ): cloudwatch.Dashboard | undefined {
    const { stackName, handler, stream, thresholds, dashboard: enabled } = this.props;
    if (!enabled || this.dashboardBuilt) return this.dashboardBuilt;
    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboardBuilt = dashboard;
    const m = (name: MetricName, label: string) => pipelineMetric(name, oneMinute).with({ label });
    dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# windowpane (${stackName})\nKinesis → window handler → DynamoDB windows → SNS alerts. Region ${Aws.REGION}.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Throughput (records/min)',
        width: 12,
        left: [
          stream.metric('IncomingRecords', {
            statistic: cloudwatch.Stats.SUM,
            period: oneMinute,
            label: 'Stream incoming',
          }),
          m(METRIC.readings, 'Readings folded'),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Lag (ms)',
        width: 12,
        left: [
          handler.metric('IteratorAge', {
            statistic: cloudwatch.Stats.MAXIMUM,
            period: oneMinute,
            label: 'Handler iterator age',
          }),
          stream.metric('GetRecords.IteratorAgeMilliseconds', {
            statistic: cloudwatch.Stats.MAXIMUM,
            period: oneMinute,
            label: 'Stream iterator age (all consumers)',
          }),
        ],
        leftAnnotations: [{ value: thresholds.iteratorAgeSeconds * 1_000, label: 'alarm' }],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Windows finalised and alerts published (per min)',
        width: 12,
        left: [
          m(METRIC.windowsFinalised, 'Windows finalised'),
          m(METRIC.idleSensors, 'Idle sensors flushed'),
          m(METRIC.windowsFinalisedEarly, 'Finalised early (maxOpenWindows)'),
        ],
        right: [m(METRIC.alertsPublished, 'Alerts published')],
      }),
      new cloudwatch.GraphWidget({
        title: 'Invalid and late records (per min)',
        width: 12,
        left: [m(METRIC.invalidRecords, 'Invalid'), m(METRIC.lateReadings, 'Late')],
        right: [this.invalidShare.with({ period: fiveMinutes })],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'DynamoDB writes, conflicts and repeated records (per min)',
        width: 12,
        left: [m(METRIC.writeRequests, 'Write requests')],
        right: [
          m(METRIC.conflicts, 'Conditional-write conflicts'),
          m(METRIC.duplicateRecords, 'Records already applied'),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Handler health',
        width: 12,
        left: [
          handler.metricErrors({ statistic: cloudwatch.Stats.SUM, period: oneMinute, label: 'Errors' }),
          handler.metricThrottles({ statistic: cloudwatch.Stats.SUM, period: oneMinute, label: 'Throttles' }),
          stream.metric('WriteProvisionedThroughputExceeded', {
            statistic: cloudwatch.Stats.SUM,
            period: oneMinute,
            label: 'Stream write throttles',
          }),
        ],
        right: [
          handler.metricDuration({
            statistic: cloudwatch.Stats.percentile(99),
            period: oneMinute,
            label: 'Duration p99',
          }),
        ],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queues (messages visible)',
        width: 12,
        left: this.props.deadLetterQueues.map(({ id: queueId, queue }) =>
          queue.metricApproximateNumberOfMessagesVisible({
            statistic: cloudwatch.Stats.MAXIMUM,
            period: oneMinute,
            label: queueId,
          }),
        ),
      }),
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        width: 12,
        alarms: [...this.alarms, ...extraAlarms],
      }),
    );
    if (extraWidgets.length > 0) dashboard.addWidgets(...extraWidgets);
    return dashboard;
  }

  get dashboard(): cloudwatch.Dashboard | undefined {
    return this.dashboardBuilt;
  }

  /** The dashboard's console address (a CloudFormation expression). */
  dashboardUrl(): string | undefined {
    if (!this.dashboardBuilt) return undefined;
    return `https://console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${this.dashboardBuilt.dashboardName}`;
  }
}

function kebab(id: string): string {
  return id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}
