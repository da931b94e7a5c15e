/**
 * The pipeline's channels: the alert topic (what windowpane is for) and the alarm topic
 * (operations), both encrypted with one rotating customer managed key; the queues of
 * invalid records and late readings, each with its own dead-letter queue; the handler
 * failure queue (the event source mapping's on-failure destination); the optional
 * subscriptions of the deployment (alarm email, alert email or queue).
 */
import { ArnFormat, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { alarmName } from './alarms.js';
import { LOGICAL_IDS, Section, stable } from './logical-ids.js';
import { acknowledge } from './nag.js';
import type { DeadLetterQueueRef } from './observability.js';
import {
  MAX_RECEIVE_COUNT,
  QueueWithDeadLetters,
  WindowpaneQueue,
  WindowpaneTopic,
} from './secure-resources.js';
import type { DeploySettings } from './settings.js';

export interface MessagingProps {
  alarmEmail?: string;
  alertSubscription?: DeploySettings['alertSubscription'];
  removalPolicy: RemovalPolicy;
}

export class Messaging extends Section {
  readonly key: kms.Key;
  readonly alertTopic: WindowpaneTopic;
  readonly alarmTopic: WindowpaneTopic;
  readonly invalidQueue: QueueWithDeadLetters;
  readonly lateQueue: QueueWithDeadLetters;
  readonly handlerFailureQueue: WindowpaneQueue;
  /** With `alertSubscription.type: sqs`. */
  readonly alertSubscriptionQueue?: QueueWithDeadLetters;

  constructor(scope: Construct, id: string, props: MessagingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { removalPolicy } = props;
    this.key = stable(
      new kms.Key(this, LOGICAL_IDS.messagingKey, {
        description: `windowpane (${stack.stackName}): encrypts the alert and alarm topics`,
        enableKeyRotation: true,
        removalPolicy,
        pendingWindow: Duration.days(7),
      }),
      LOGICAL_IDS.messagingKey,
    );
    this.alertTopic = new WindowpaneTopic(this, LOGICAL_IDS.alertTopic, {
      displayName: 'windowpane alerts',
      masterKey: this.key,
      removalPolicy,
    });
    this.alarmTopic = new WindowpaneTopic(this, LOGICAL_IDS.alarmTopic, {
      displayName: 'windowpane alarms',
      masterKey: this.key,
      removalPolicy,
    });
    this.admitCloudWatchAlarms();
    if (props.alarmEmail)
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    this.invalidQueue = new QueueWithDeadLetters(this, 'InvalidRecords', {
      queueId: LOGICAL_IDS.invalidQueue,
      deadLetterQueueId: LOGICAL_IDS.invalidDeadLetterQueue,
      removalPolicy,
    });
    this.lateQueue = new QueueWithDeadLetters(this, 'LateReadings', {
      queueId: LOGICAL_IDS.lateQueue,
      deadLetterQueueId: LOGICAL_IDS.lateDeadLetterQueue,
      removalPolicy,
    });
    this.handlerFailureQueue = new WindowpaneQueue(this, LOGICAL_IDS.handlerFailureQueue, { removalPolicy });
    acknowledge(this.handlerFailureQueue, {
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter store: the on-failure destination of the Kinesis event source ' +
        'mapping (records that exhausted retries or expired). Nobody consumes it automatically; its depth alarms.',
    });

    const subscription = props.alertSubscription;
    if (subscription?.type === 'email') {
      this.alertTopic.addSubscription(new subscriptions.EmailSubscription(subscription.address));
    } else if (subscription?.type === 'sqs') {
      this.alertSubscriptionQueue = new QueueWithDeadLetters(this, 'AlertSubscription', {
        queueId: LOGICAL_IDS.alertSubscriptionQueue,
        deadLetterQueueId: LOGICAL_IDS.alertSubscriptionDeadLetterQueue,
        removalPolicy,
      });
      this.alertTopic.addSubscription(
        new subscriptions.SqsSubscription(this.alertSubscriptionQueue.queue, {
          rawMessageDelivery: subscription.rawMessageDelivery,
        }),
      );
    }
  }

  /** Every queue that holds what failed, for the depth alarms and the dashboard. */
  deadLetterQueues(): DeadLetterQueueRef[] {
    return [
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
    ];
  }

  /**
   * CloudWatch alarms publish as the cloudwatch.amazonaws.com service: the topic admits,
   * and the key serves, only alarms of this account whose names carry the stack's prefix
   * (every alarm of the stack is named `<stack>-<suffix>`, alarms.ts). The same two
   * conditions on both guard against the confused deputy: another account's alarm, or an
   * unrelated alarm here, cannot publish through or encrypt with them. The AWS managed
   * aws/sns key cannot be opened to CloudWatch at all: hence the customer managed key.
   */
  private admitCloudWatchAlarms(): void {
    const stack = Stack.of(this);
    const ofThisStacksAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: alarmName(stack.stackName, '*'),
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisStack',
        principals: [cloudwatch],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: ofThisStacksAlarms,
      }),
    );
    // SNS docs, "Enable compatibility between event sources from AWS services and encrypted
    // topics": the service needs kms:GenerateDataKey* and kms:Decrypt on the topic's key.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisStackToPublishEncrypted',
        principals: [cloudwatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: ofThisStacksAlarms,
      }),
    );
  }
}
