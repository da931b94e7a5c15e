/** Alarm construction shared by the stack's parts: one naming scheme, one notification topic. */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

export interface WindowpaneAlarmProps extends Omit<cloudwatch.CreateAlarmOptions, 'alarmName'> {
  metric: cloudwatch.IMetric;
  /** Suffix of the alarm name; the full name is `<stack name>-<suffix>`. */
  name: string;
  /** Notified on ALARM and on OK; scaling-only alarms pass none. */
  notify?: sns.ITopic;
}

export function alarmName(stackName: string, suffix: string): string {
  return `${stackName}-${suffix}`;
}

export function createAlarm(scope: Construct, id: string, stackName: string, props: WindowpaneAlarmProps) {
  const { metric, name, notify, ...options } = props;
  const alarm = new cloudwatch.Alarm(scope, id, {
    metric,
    alarmName: alarmName(stackName, name),
    ...options,
  });
  if (notify) {
    alarm.addAlarmAction(new SnsAction(notify));
    alarm.addOkAction(new SnsAction(notify));
  }
  return alarm;
}
