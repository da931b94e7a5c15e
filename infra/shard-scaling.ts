/**
 * Shard scaling for a PROVISIONED stream (an ON_DEMAND stream scales itself and gets none
 * of this).
 *
 * Alarms decide when; the scaler function (functions/shard-scaler) decides how much,
 * within Kinesis's limits (2x up, 1/2 down, 10 operations a day) and the configured
 * bounds and cooldowns. The alarms watch the *hottest shard* through enhanced shard-level
 * metrics and Metrics Insights (`GROUP BY ShardId ORDER BY SUM() DESC LIMIT 1`), so their
 * thresholds are per shard and stay right after every reshard without being rewritten:
 * - bytes-high / records-high: the hottest shard above scaleOutThreshold of its write
 *   capacity in 2 of 3 minutes;
 * - write-throttled: the stack's stream throttle alarm (Observability) also signals here;
 * - idle: a composite of bytes-low AND records-low (below scaleInThreshold for 15 minutes).
 * Each alarm invokes the scaler asynchronously on its transition to ALARM; the scaler
 * maps the alarm name to its signal through SCALING_SIGNALS.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { LambdaAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { SHARD_SCALER_SERVICE_NAME } from '../functions/lib/metric-names.js';
import {
  type ScalingLimits,
  SHARD_BYTES_PER_SECOND,
  SHARD_RECORDS_PER_SECOND,
  type SignalKind,
} from '../functions/shard-scaler/decide.js';
import { SCALER_ENV } from '../functions/shard-scaler/env.js';
import { ACCESS, grantAccess } from './access.js';
import { alarmName, createAlarm } from './alarms.js';
import { WindowpaneFunction } from './functions.js';
import { SHARD_SCALER_ENTRY } from './paths.js';

/** Shard-level metrics the scaling alarms need (enhanced monitoring, billed per shard). */
export const SCALING_SHARD_LEVEL_METRICS = ['IncomingBytes', 'IncomingRecords'] as const;

const PERIOD = Duration.minutes(1);

export interface ShardScalingProps {
  stackName: string;
  stream: kinesis.IStream;
  limits: ScalingLimits;
  /** The stack's WriteProvisionedThroughputExceeded alarm, which also triggers a scale-out. */
  writeThrottledAlarm: cloudwatch.Alarm;
  /** Its literal name (`alarm.alarmName` is a token, useless in the scaler's environment). */
  writeThrottledAlarmName: string;
  alarmTopic: sns.ITopic;
  logRetentionDays: number;
  logLevel: string;
  removalPolicy: RemovalPolicy;
}

/** Metrics Insights: the per-minute sum of `metric` on the stream's hottest shard. */
export function hottestShardQuery(
  metric: (typeof SCALING_SHARD_LEVEL_METRICS)[number],
  streamName: string,
): string {
  return (
    `SELECT SUM(${metric}) FROM SCHEMA("AWS/Kinesis", ShardId, StreamName) ` +
    `WHERE StreamName = '${streamName}' GROUP BY ShardId ORDER BY SUM() DESC LIMIT 1`
  );
}

export class ShardScaling extends Construct {
  readonly scaler: WindowpaneFunction;
  readonly bytesHigh: cloudwatch.Alarm;
  readonly recordsHigh: cloudwatch.Alarm;
  readonly bytesLow: cloudwatch.Alarm;
  readonly recordsLow: cloudwatch.Alarm;
  readonly idle: cloudwatch.CompositeAlarm;
  readonly scalerErrors: cloudwatch.Alarm;
  /** Alarm name to the signal it raises (the scaler's SCALING_SIGNALS). */
  readonly signals: Record<string, SignalKind>;
  /** Per-minute thresholds of the hottest shard: scale out above `high`, scale in below `low`. */
  readonly thresholds: { bytes: { high: number; low: number }; records: { high: number; low: number } };

  constructor(scope: Construct, id: string, props: ShardScalingProps) {
    super(scope, id);
    const { stackName, stream, limits } = props;
    const perPeriod = PERIOD.toSeconds();
    const bytesCapacity = SHARD_BYTES_PER_SECOND * perPeriod;
    const recordsCapacity = SHARD_RECORDS_PER_SECOND * perPeriod;

    const hottest = (metric: (typeof SCALING_SHARD_LEVEL_METRICS)[number], label: string) =>
      new cloudwatch.MathExpression({
        expression: hottestShardQuery(metric, stream.streamName),
        usingMetrics: {},
        label,
        period: PERIOD,
      });
    const bytes = hottest('IncomingBytes', 'Hottest shard incoming bytes');
    const records = hottest('IncomingRecords', 'Hottest shard incoming records');

    this.thresholds = {
      bytes: {
        high: Math.round(bytesCapacity * limits.scaleOutThreshold),
        low: Math.round(bytesCapacity * limits.scaleInThreshold),
      },
      records: {
        high: Math.round(recordsCapacity * limits.scaleOutThreshold),
        low: Math.round(recordsCapacity * limits.scaleInThreshold),
      },
    };
    const high = (
      alarmId: string,
      name: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      what: string,
    ) =>
      createAlarm(this, alarmId, stackName, {
        name,
        alarmDescription:
          `Scale out: the hottest shard wrote more than ${limits.scaleOutThreshold * 100} % of its ${what} ` +
          'capacity in 2 of the last 3 minutes. Invokes the shard scaler.',
        metric,
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const low = (
      alarmId: string,
      name: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      what: string,
    ) =>
      createAlarm(this, alarmId, stackName, {
        name,
        alarmDescription:
          `The hottest shard wrote less than ${limits.scaleInThreshold * 100} % of its ${what} capacity ` +
          'for 15 minutes (no data counts as idle). Part of the scale-in composite alarm.',
        metric,
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 15,
        datapointsToAlarm: 15,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });

    const t = this.thresholds;
    this.bytesHigh = high('BytesHigh', 'shards-bytes-high', bytes, t.bytes.high, 'byte');
    this.recordsHigh = high('RecordsHigh', 'shards-records-high', records, t.records.high, 'record');
    this.bytesLow = low('BytesLow', 'shards-bytes-low', bytes, t.bytes.low, 'byte');
    this.recordsLow = low('RecordsLow', 'shards-records-low', records, t.records.low, 'record');
    this.idle = new cloudwatch.CompositeAlarm(this, 'Idle', {
      compositeAlarmName: alarmName(stackName, 'shards-idle'),
      alarmDescription: 'Scale in: both bytes and records are low on every shard. Invokes the shard scaler.',
      alarmRule: cloudwatch.AlarmRule.allOf(
        cloudwatch.AlarmRule.fromAlarm(this.bytesLow, cloudwatch.AlarmState.ALARM),
        cloudwatch.AlarmRule.fromAlarm(this.recordsLow, cloudwatch.AlarmState.ALARM),
      ),
    });

    this.signals = {
      [alarmName(stackName, 'shards-bytes-high')]: 'bytes-high',
      [alarmName(stackName, 'shards-records-high')]: 'records-high',
      [props.writeThrottledAlarmName]: 'write-throttled',
      [alarmName(stackName, 'shards-idle')]: 'idle',
    };
    for (const name of Object.keys(this.signals)) {
      if (name.includes('${Token')) throw new Error(`scaling alarm names must be literal, got ${name}`);
    }

    this.scaler = new WindowpaneFunction(this, 'Scaler', {
      entry: SHARD_SCALER_ENTRY,
      description: 'windowpane shard scaler: reshards the provisioned stream on scaling alarms',
      memorySize: 256,
      timeout: Duration.seconds(30),
      logRetentionDays: props.logRetentionDays,
      removalPolicy: props.removalPolicy,
      environment: {
        [SCALER_ENV.streamName]: stream.streamName,
        [SCALER_ENV.limits]: JSON.stringify(limits),
        [SCALER_ENV.signals]: JSON.stringify(this.signals),
        POWERTOOLS_SERVICE_NAME: SHARD_SCALER_SERVICE_NAME,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
      },
    });
    // Alarm actions invoke asynchronously. Two retries cover a transient API error; the
    // history tag written before resharding keeps a retry from resharding twice.
    this.scaler.function.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(1) });
    grantAccess(this.scaler.function, ACCESS.shardScaler, { readingsStream: stream });

    const action = new LambdaAction(this.scaler.function);
    for (const alarm of [this.bytesHigh, this.recordsHigh, props.writeThrottledAlarm])
      alarm.addAlarmAction(action);
    this.idle.addAlarmAction(action);

    this.scalerErrors = createAlarm(this, 'ScalerErrors', stackName, {
      name: 'shard-scaler-errors',
      alarmDescription:
        'The shard scaler failed (e.g. the account shard quota or the daily UpdateShardCount limit): ' +
        'the stream is not being scaled. See the scaler log group.',
      metric: this.scaler.function.metricErrors({
        statistic: cloudwatch.Stats.SUM,
        period: Duration.minutes(5),
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      notify: props.alarmTopic,
    });
  }

  get alarms(): cloudwatch.IAlarm[] {
    return [this.bytesHigh, this.recordsHigh, this.idle, this.scalerErrors];
  }

  /** Dashboard row: hottest-shard load against the scaling thresholds. */
  widgets(): cloudwatch.IWidget[] {
    return [
      new cloudwatch.GraphWidget({
        title: 'Hottest shard: bytes per minute',
        width: 12,
        left: [this.bytesHigh.metric],
        leftAnnotations: [
          { value: this.thresholds.bytes.high, label: 'scale out' },
          { value: this.thresholds.bytes.low, label: 'scale in' },
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Hottest shard: records per minute',
        width: 12,
        left: [this.recordsHigh.metric],
        leftAnnotations: [
          { value: this.thresholds.records.high, label: 'scale out' },
          { value: this.thresholds.records.low, label: 'scale in' },
        ],
      }),
    ];
  }
}
