/**
 * The lake: final windows and alarm transitions in S3 as Parquet, partitioned by date,
 * with a Glue database and tables so Athena (or anything that reads a Glue catalog)
 * queries them. `windowpaneDeploy.lake`; it turns the results stream on.
 *
 * - Bucket: SSE-S3 (the data is aggregates, no more sensitive than the results table,
 *   which uses an AWS managed key; with SSE-S3 every reader, Athena, DuckDB, pandas, needs
 *   only S3 permissions and no KMS request is billed per object read), public access
 *   blocked, TLS only, owner-enforced objects, versioned (Firehose never overwrites, so
 *   versions cost nothing until someone deletes or overwrites by mistake: then the old
 *   version stays recoverable for NONCURRENT_DAYS), server access logs to a log bucket.
 * - Lifecycle: objects expire `retentionDays` after they are written, optionally move to
 *   Standard-IA first; unfinished multipart uploads are aborted after a day.
 * - Final windows: a delivery stream reading the results stream (lake-delivery.ts).
 * - Alarm transitions: SNS delivers the alert topic's `kind=alarm` messages (raw) to a
 *   second, direct-put delivery stream, through a role SNS assumes.
 * - Tables use partition projection on `dt`, so new days need no crawler or MSCK.
 */
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { LakeSettings } from './ingest-settings.js';
import { LakeDelivery } from './lake-delivery.js';
import {
  type LakeTableSpec,
  PARTITION_KEY,
  TRANSITIONS_LAKE_TABLE,
  windowsLakeTable,
} from './lake-tables.js';
import { LOGICAL_IDS, stable } from './logical-ids.js';
import { acknowledge } from './nag.js';
import { ArnTarget, grantServiceRole, type ServiceRoleBinding } from './service-access.js';

/** Days an overwritten or deleted object's previous version is kept. */
export const NONCURRENT_DAYS = 30;
/** The first day partition projection lists; older partitions are not queried. */
export const PROJECTION_START = '2000-01-01';
/** The alert topic's message attribute that marks alarm transitions (alarms design 4.6). */
export const TRANSITION_FILTER = { attribute: 'kind', value: 'alarm' } as const;

export interface LakeSinkProps {
  stackName: string;
  settings: LakeSettings;
  resultsStream: kinesis.IStream;
  alertTopic: sns.ITopic;
  alarmTopic: sns.ITopic;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  /** The configured percentiles' names (`PercentilePlan.names`): fields of the windows table. */
  percentileNames?: readonly string[];
}

export class LakeSink extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  readonly database: glue.CfnDatabase;
  readonly databaseName: string;
  readonly tables: Record<string, glue.CfnTable> = {};
  readonly windows: LakeDelivery;
  readonly transitions: LakeDelivery;
  readonly subscription: sns.Subscription;
  private readonly subscriptionRole: ServiceRoleBinding;

  constructor(scope: Construct, id: string, props: LakeSinkProps) {
    super(scope, id);
    const { settings, removalPolicy } = props;
    const expiration = Duration.days(settings.retentionDays);
    const common: s3.BucketProps = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
    };
    this.accessLogBucket = stable(
      new s3.Bucket(this, LOGICAL_IDS.lakeAccessLogBucket, {
        ...common,
        lifecycleRules: [{ id: 'expire-access-logs', expiration }],
      }),
      LOGICAL_IDS.lakeAccessLogBucket,
    );
    acknowledge(this.accessLogBucket, {
      id: 'AwsSolutions-S1',
      reason:
        "This bucket receives the lake bucket's server access logs; logging it too would log the logging. " +
        'It is encrypted, TLS only and private like the lake.',
    });
    this.bucket = stable(
      new s3.Bucket(this, LOGICAL_IDS.lakeBucket, {
        ...common,
        versioned: true,
        serverAccessLogsBucket: this.accessLogBucket,
        serverAccessLogsPrefix: 'lake/',
        lifecycleRules: [
          {
            id: 'retention',
            expiration,
            noncurrentVersionExpiration: Duration.days(NONCURRENT_DAYS),
            abortIncompleteMultipartUploadAfter: Duration.days(1),
            ...(settings.transitionToIaDays !== undefined
              ? {
                  transitions: [
                    {
                      storageClass: s3.StorageClass.INFREQUENT_ACCESS,
                      transitionAfter: Duration.days(settings.transitionToIaDays),
                    },
                  ],
                }
              : {}),
          },
        ],
      }),
      LOGICAL_IDS.lakeBucket,
    );

    // Athena names cannot hold dashes: a stack name's become underscores.
    this.databaseName = `${props.stackName.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_lake`;
    this.database = new glue.CfnDatabase(this, LOGICAL_IDS.lakeDatabase, {
      catalogId: Stack.of(this).account,
      databaseInput: {
        name: this.databaseName,
        description: `windowpane (${props.stackName}): final windows and alarm transitions`,
      },
    });
    this.database.overrideLogicalId(LOGICAL_IDS.lakeDatabase);
    this.database.applyRemovalPolicy(removalPolicy);
    const windowsTable = windowsLakeTable(props.percentileNames);
    for (const table of [windowsTable, TRANSITIONS_LAKE_TABLE]) {
      this.tables[table.name] = this.table(table, removalPolicy);
    }

    const logGroup = new logs.LogGroup(this, 'DeliveryLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy,
    });
    const delivery = (
      deliveryId: 'Windows' | 'Transitions',
      table: LakeTableSpec,
      source?: kinesis.IStream,
    ) => {
      const d = new LakeDelivery(this, deliveryId, {
        stackName: props.stackName,
        table,
        bucket: this.bucket,
        databaseName: this.databaseName,
        logGroup,
        ...(source ? { source } : {}),
        bufferIntervalSeconds: settings.bufferIntervalSeconds,
        alarmTopic: props.alarmTopic,
        removalPolicy,
      });
      d.deliveryStream.overrideLogicalId(
        deliveryId === 'Windows' ? LOGICAL_IDS.windowsDeliveryStream : LOGICAL_IDS.transitionsDeliveryStream,
      );
      // Firehose reads the table's schema when it starts.
      d.deliveryStream.node.addDependency(this.tables[table.name]!);
      return d;
    };
    this.windows = delivery('Windows', windowsTable, props.resultsStream);
    this.transitions = delivery('Transitions', TRANSITIONS_LAKE_TABLE);

    const role = new iam.Role(this, 'TransitionsSubscriptionRole', {
      description: `windowpane (${props.stackName}): SNS delivers alarm transitions to the lake`,
      assumedBy: new iam.ServicePrincipal('sns.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          ArnLike: { 'aws:SourceArn': props.alertTopic.topicArn },
        },
      }),
    });
    this.subscriptionRole = grantServiceRole(role, 'transitionsSubscription', {
      transitionsDeliveryStream: new ArnTarget([this.transitions.deliveryStream.attrArn]),
    });
    this.subscription = new sns.Subscription(this, 'TransitionsSubscription', {
      topic: props.alertTopic,
      protocol: sns.SubscriptionProtocol.FIREHOSE,
      endpoint: this.transitions.deliveryStream.attrArn,
      subscriptionRoleArn: role.roleArn,
      // The transition's JSON itself, not SNS's envelope: the table's columns are its fields.
      rawMessageDelivery: true,
      filterPolicy: {
        [TRANSITION_FILTER.attribute]: sns.SubscriptionFilter.stringFilter({
          allowlist: [TRANSITION_FILTER.value],
        }),
      },
    });
    this.subscription.node.addDependency(role);
  }

  /** The roles AWS services assume for the lake (for the grants test). */
  serviceRoles(): ServiceRoleBinding[] {
    return [this.windows.serviceRole, this.transitions.serviceRole, this.subscriptionRole];
  }

  get alarms(): cloudwatch.Alarm[] {
    return [...this.windows.alarms, ...this.transitions.alarms];
  }

  private table(spec: LakeTableSpec, removalPolicy: RemovalPolicy): glue.CfnTable {
    const location = `s3://${this.bucket.bucketName}/${spec.name}/`;
    const table = new glue.CfnTable(this, `${spec.name[0]!.toUpperCase()}${spec.name.slice(1)}Table`, {
      catalogId: Stack.of(this).account,
      databaseName: this.databaseName,
      tableInput: {
        name: spec.name,
        description: spec.description,
        tableType: 'EXTERNAL_TABLE',
        parameters: {
          classification: 'parquet',
          // Partition projection: Athena computes the dt= folders instead of listing a catalog.
          'projection.enabled': 'true',
          [`projection.${PARTITION_KEY}.type`]: 'date',
          [`projection.${PARTITION_KEY}.format`]: 'yyyy-MM-dd',
          [`projection.${PARTITION_KEY}.range`]: `${PROJECTION_START},NOW+1DAYS`,
          [`projection.${PARTITION_KEY}.interval`]: '1',
          [`projection.${PARTITION_KEY}.interval.unit`]: 'DAYS',
          'storage.location.template': `${location}${PARTITION_KEY}=\${${PARTITION_KEY}}/`,
        },
        partitionKeys: [{ name: PARTITION_KEY, type: 'string' }],
        storageDescriptor: {
          location,
          columns: spec.columns.map((c) => ({ name: c.name, type: c.type })),
          inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        },
      },
    });
    table.node.addDependency(this.database);
    table.applyRemovalPolicy(removalPolicy);
    return table;
  }
}
