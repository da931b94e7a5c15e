/**
 * windowpane's stores and channels with the house defaults built in, so a new table, stream,
 * queue or topic is one construct and cannot forget one of them:
 *
 * - encryption at rest, chosen per service: Kinesis SSE and DynamoDB SSE with the AWS
 *   managed keys (producers and the functions need no KMS permission, and the KMS cost
 *   does not grow with producers, as cdk-nag KDS3 advises); SQS managed SSE; topics with a
 *   customer managed key (the only kind CloudWatch alarms can publish through);
 * - TLS only: every queue and topic policy denies requests made without TLS;
 * - the deployment's removal policy, and a fixed logical id (logical-ids.ts);
 * - tables: on-demand, point-in-time recovery, deletion protection when retained;
 *   queues: SQS's maximum retention, a fortnight to look.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { TableDefinition } from '../functions/lib/resources.js';
import { Section, stable } from './logical-ids.js';

/** How long queues keep messages: SQS's maximum. */
export const QUEUE_RETENTION = Duration.days(14);
/** Receives before a message of a consumed queue moves to its dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;

export interface RemovalProps {
  removalPolicy: RemovalPolicy;
}

/** A table built from its definition (functions/lib/resources.ts); its logical id is `def.id`. */
export class WindowpaneTable extends dynamodb.Table {
  readonly definition: TableDefinition;

  constructor(scope: Construct, def: TableDefinition, props: RemovalProps) {
    super(scope, def.id, {
      partitionKey: { name: def.partitionKey, type: dynamodb.AttributeType.STRING },
      ...(def.sortKey ? { sortKey: { name: def.sortKey, type: dynamodb.AttributeType.STRING } } : {}),
      ...(def.ttlAttribute ? { timeToLiveAttribute: def.ttlAttribute } : {}),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy,
      deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
    });
    this.definition = def;
    stable(this, def.id);
  }
}

export type WindowpaneStreamProps = Omit<
  kinesis.StreamProps,
  'encryption' | 'encryptionKey' | 'removalPolicy'
> &
  RemovalProps;

/** A Kinesis stream encrypted with aws/kinesis; its logical id is `id`. */
export class WindowpaneStream extends kinesis.Stream {
  constructor(scope: Construct, id: string, props: WindowpaneStreamProps) {
    super(scope, id, { ...props, encryption: kinesis.StreamEncryption.MANAGED });
    stable(this, id);
  }
}

export interface WindowpaneQueueProps extends RemovalProps {
  /** Where messages go after MAX_RECEIVE_COUNT failed receives. */
  deadLetterQueue?: sqs.IQueue;
}

/** An SQS queue (managed SSE, TLS only, 14 days); its logical id is `id`. */
export class WindowpaneQueue extends sqs.Queue {
  constructor(scope: Construct, id: string, props: WindowpaneQueueProps) {
    super(scope, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: QUEUE_RETENTION,
      removalPolicy: props.removalPolicy,
      ...(props.deadLetterQueue
        ? { deadLetterQueue: { queue: props.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT } }
        : {}),
    });
    stable(this, id);
  }
}

export interface QueueWithDeadLettersProps extends RemovalProps {
  queueId: string;
  deadLetterQueueId: string;
}

/** A queue someone consumes, with its own dead-letter queue for messages that keep failing. */
export class QueueWithDeadLetters extends Section {
  readonly queue: WindowpaneQueue;
  readonly deadLetterQueue: WindowpaneQueue;

  constructor(scope: Construct, id: string, props: QueueWithDeadLettersProps) {
    super(scope, id);
    this.deadLetterQueue = new WindowpaneQueue(this, props.deadLetterQueueId, props);
    this.queue = new WindowpaneQueue(this, props.queueId, {
      ...props,
      deadLetterQueue: this.deadLetterQueue,
    });
  }
}

export interface WindowpaneTopicProps extends RemovalProps {
  displayName: string;
  masterKey: kms.IKey;
}

/**
 * An SNS topic encrypted with a customer managed key, TLS only for every action (CDK's
 * `enforceSSL` denies only sns:Publish), kept or deleted with the stack as the deployment
 * says; its logical id is `id`.
 */
export class WindowpaneTopic extends sns.Topic {
  constructor(scope: Construct, id: string, props: WindowpaneTopicProps) {
    super(scope, id, {
      displayName: props.displayName,
      masterKey: props.masterKey,
      signatureVersion: '2',
    });
    this.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyRequestsWithoutTLS',
        effect: iam.Effect.DENY,
        principals: [new iam.StarPrincipal()],
        actions: ['sns:*'],
        resources: [this.topicArn],
        conditions: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    this.applyRemovalPolicy(props.removalPolicy);
    stable(this, id);
  }

  /** Like the other stores' `grant`: these actions on this topic, in the grantee's policy. */
  grant(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.topicArn] });
  }
}
