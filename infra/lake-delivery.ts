/**
 * One Firehose delivery stream into one lake table: JSON records in, Parquet out through
 * the table's Glue schema, dynamically partitioned into `<table>/dt=YYYY-MM-DD/` by a JQ
 * query over the record's event time. Records Firehose cannot convert or partition go to
 * `errors/<table>/<error type>/<date>/` with the reason (nothing is dropped); delivery
 * errors are logged to the lake's log group; two alarms watch it (records sent to the
 * error folder, deliveries to S3 failing).
 *
 * Its role is granted from its plan (service-access.ts): reading the source stream (when
 * the source is a Kinesis stream), writing the table's two folders, reading the table's
 * schema, writing its log stream. A Kinesis-sourced stream takes no server-side encryption
 * setting (Firehose refuses one with that source; the stream is encrypted, the objects by
 * the bucket); a direct-put stream is encrypted with an AWS owned key.
 */
import { ArnFormat, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { createAlarm } from './alarms.js';
import { type LakeTableSpec, PARTITION_KEY } from './lake-tables.js';
import { LOGICAL_IDS } from './logical-ids.js';
import { acknowledge } from './nag.js';
import { ArnTarget, grantServiceRole, type ServiceRoleBinding } from './service-access.js';

/** Firehose's largest buffer (MB): with Parquet and dynamic partitioning at least 64 is required. */
export const LAKE_BUFFER_MB = 128;
/** How long Firehose retries a partitioned delivery before it goes to the error folder. */
const PARTITIONING_RETRY = Duration.minutes(5);

export interface LakeDeliveryProps {
  stackName: string;
  table: LakeTableSpec;
  bucket: s3.IBucket;
  databaseName: string;
  logGroup: logs.LogGroup;
  /** The stream records come from; without one, producers (SNS) put them directly. */
  source?: kinesis.IStream;
  bufferIntervalSeconds: number;
  alarmTopic: sns.ITopic;
  removalPolicy: RemovalPolicy;
}

export class LakeDelivery extends Construct {
  readonly deliveryStream: firehose.CfnDeliveryStream;
  readonly deliveryStreamName: string;
  readonly role: iam.Role;
  readonly serviceRole: ServiceRoleBinding;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: LakeDeliveryProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { table, bucket } = props;
    this.deliveryStreamName = `${props.stackName}-lake-${table.name}`;
    const deliveryStreamArn = stack.formatArn({
      service: 'firehose',
      resource: 'deliverystream',
      resourceName: this.deliveryStreamName,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    this.role = new iam.Role(this, 'Role', {
      description: `windowpane (${props.stackName}): Firehose delivers the ${table.name} table to the lake`,
      // Confused-deputy guard: only this delivery stream of this account.
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': deliveryStreamArn },
        },
      }),
    });
    const logStream = new logs.LogStream(this, 'DeliveryLogs', {
      logGroup: props.logGroup,
      logStreamName: table.name,
      removalPolicy: props.removalPolicy,
    });
    const glueArn = (resource: string, resourceName?: string) =>
      stack.formatArn({
        service: 'glue',
        resource,
        ...(resourceName ? { resourceName } : {}),
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      });
    const folder = table.name;
    const errorFolder = `errors/${table.name}`;
    this.serviceRole = grantServiceRole(this.role, props.source ? 'windowsDelivery' : 'transitionsDelivery', {
      ...(props.source ? { resultsStream: new ArnTarget([props.source.streamArn]) } : {}),
      lakeBucket: new ArnTarget([bucket.bucketArn]),
      tableObjects: new ArnTarget([
        bucket.arnForObjects(`${folder}/*`),
        bucket.arnForObjects(`${errorFolder}/*`),
      ]),
      glueTable: new ArnTarget([
        glueArn('catalog'),
        glueArn('database', props.databaseName),
        glueArn('table', `${props.databaseName}/${table.name}`),
      ]),
      deliveryLogs: new ArnTarget([
        stack.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: `${props.logGroup.logGroupName}:log-stream:${logStream.logStreamName}`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ]),
    });

    this.deliveryStream = new firehose.CfnDeliveryStream(this, 'DeliveryStream', {
      deliveryStreamName: this.deliveryStreamName,
      ...(props.source
        ? {
            deliveryStreamType: 'KinesisStreamAsSource',
            kinesisStreamSourceConfiguration: {
              kinesisStreamArn: props.source.streamArn,
              roleArn: this.role.roleArn,
            },
          }
        : {
            deliveryStreamType: 'DirectPut',
            deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
          }),
      extendedS3DestinationConfiguration: {
        bucketArn: bucket.bucketArn,
        roleArn: this.role.roleArn,
        prefix: `${folder}/${PARTITION_KEY}=!{partitionKeyFromQuery:${PARTITION_KEY}}/`,
        errorOutputPrefix: `${errorFolder}/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/`,
        bufferingHints: { intervalInSeconds: props.bufferIntervalSeconds, sizeInMBs: LAKE_BUFFER_MB },
        // Parquet compresses its own pages (Snappy, below).
        compressionFormat: 'UNCOMPRESSED',
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: props.logGroup.logGroupName,
          logStreamName: logStream.logStreamName,
        },
        dynamicPartitioningConfiguration: {
          enabled: true,
          retryOptions: { durationInSeconds: PARTITIONING_RETRY.toSeconds() },
        },
        processingConfiguration: {
          enabled: true,
          processors: [
            {
              type: 'MetadataExtraction',
              parameters: [
                { parameterName: 'MetadataExtractionQuery', parameterValue: table.partitionQuery },
                { parameterName: 'JsonParsingEngine', parameterValue: 'JQ-1.6' },
              ],
            },
          ],
        },
        dataFormatConversionConfiguration: {
          enabled: true,
          inputFormatConfiguration: { deserializer: { openXJsonSerDe: { caseInsensitive: true } } },
          outputFormatConfiguration: { serializer: { parquetSerDe: { compression: 'SNAPPY' } } },
          schemaConfiguration: {
            catalogId: stack.account,
            databaseName: props.databaseName,
            tableName: table.name,
            region: stack.region,
            roleArn: this.role.roleArn,
            versionId: 'LATEST',
          },
        },
      },
    });
    // Firehose checks its role when the stream is created: the grants must exist first.
    this.deliveryStream.node.addDependency(this.role);
    acknowledge(
      this.role,
      ...[folder, errorFolder].map((f) => ({
        id: `AwsSolutions-IAM5[Resource::<${LOGICAL_IDS.lakeBucket}.Arn>/${f}/*]`,
        reason:
          `Firehose names the objects it writes itself (date and a unique suffix), so the ${f}/ folder of this ` +
          'table is the narrowest resource: the role cannot touch the other table or anything else in the bucket.',
      })),
    );
    if (props.source) {
      acknowledge(this.deliveryStream, {
        id: 'AwsSolutions-KDF1',
        reason:
          'Firehose refuses a server-side encryption setting on a delivery stream whose source is a Kinesis stream. ' +
          'Its source, the results stream, is encrypted (aws/kinesis), and the bucket encrypts every object it writes.',
      });
    }
    this.alarms = this.createAlarms(props);
  }

  private createAlarms(props: LakeDeliveryProps): cloudwatch.Alarm[] {
    const metric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/Firehose',
        metricName,
        dimensionsMap: { DeliveryStreamName: this.deliveryStreamName },
        statistic,
        period: Duration.minutes(5),
      });
    const { name } = props.table;
    return [
      createAlarm(this, 'RecordsFailed', props.stackName, {
        name: `lake-${name}-records-failed`,
        alarmDescription:
          `Firehose could not convert ${name} records to Parquet (they do not fit the Glue table): they are in ` +
          `s3://<lake bucket>/errors/${name}/ with the reason, not in the table.`,
        metric: metric('FailedConversion.Records', cloudwatch.Stats.SUM),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        notify: props.alarmTopic,
      }),
      createAlarm(this, 'DeliveryFailing', props.stackName, {
        name: `lake-${name}-delivery-failing`,
        alarmDescription:
          `Firehose has been failing to write the ${name} table to S3 for 15 minutes (see the lake's log group). ` +
          'It retries; records from the results stream are lost once they leave its retention (24 h).',
        metric: metric('DeliveryToS3.Success', cloudwatch.Stats.MINIMUM),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        notify: props.alarmTopic,
      }),
    ];
  }
}
