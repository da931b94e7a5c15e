/**
 * What each role an AWS service assumes for the stack may do, and why: the IoT topic
 * rules, the Firehose delivery streams of the lake, and SNS's delivery to Firehose. The
 * counterpart of access.ts (the functions' roles), granted from here and nothing else;
 * test/infra/grants.test.ts checks that each such role allows exactly its plan, and that
 * its trust policy names the plan's service.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import { AccessPlanError } from './access.js';

/** What a role assumed by an AWS service (not one of our functions) may use, by name. */
export type ServiceTarget =
  | 'readingsStream'
  | 'iotErrorQueue'
  | 'resultsStream'
  | 'lakeBucket'
  /** The objects of one lake table: its folder and its error folder. */
  | 'tableObjects'
  /** One Glue table, with its database and catalog (GetTable authorises on all three). */
  | 'glueTable'
  /** The log stream a delivery stream writes its delivery errors to. */
  | 'deliveryLogs'
  | 'transitionsDeliveryStream';

export interface ServiceGrant {
  target: ServiceTarget;
  actions: readonly string[];
  /** Where AWS documents that the service needs these. */
  source: string;
}

/** A role an AWS service assumes to act for the stack: who, why, and exactly what. */
export interface ServiceRolePlan {
  /** The service principal in the role's trust policy. */
  assumedBy: string;
  why: string;
  grants: readonly ServiceGrant[];
}

const FIREHOSE_S3_SOURCE =
  'https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html (Grant Firehose access to an Amazon S3 destination)';
const FIREHOSE_GLUE_SOURCE =
  'https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html (Grant Firehose access to AWS Glue for data format conversion)';
const FIREHOSE_LOGS_SOURCE =
  'https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html (CloudWatch Logs: logs:PutLogEvents on the log stream)';
const S3_BUCKET_ACTIONS = ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'];
const S3_OBJECT_ACTIONS = ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'];
const GLUE_TABLE_ACTIONS = ['glue:GetTable', 'glue:GetTableVersion', 'glue:GetTableVersions'];

/** What a delivery stream into one lake table needs, whatever its source. */
const LAKE_DELIVERY_GRANTS: readonly ServiceGrant[] = [
  { target: 'lakeBucket', actions: S3_BUCKET_ACTIONS, source: FIREHOSE_S3_SOURCE },
  { target: 'tableObjects', actions: S3_OBJECT_ACTIONS, source: FIREHOSE_S3_SOURCE },
  { target: 'glueTable', actions: GLUE_TABLE_ACTIONS, source: FIREHOSE_GLUE_SOURCE },
  { target: 'deliveryLogs', actions: ['logs:PutLogEvents'], source: FIREHOSE_LOGS_SOURCE },
];

export const SERVICE_ROLES = {
  iotTopicRules: {
    assumedBy: 'iot.amazonaws.com',
    why: 'the telemetry topic rules put readings on the stream and failed ones in their error queue',
    grants: [
      {
        target: 'readingsStream',
        // The stream is encrypted with aws/kinesis: a producer needs no KMS permission.
        actions: ['kinesis:PutRecord'],
        source:
          'https://docs.aws.amazon.com/iot/latest/developerguide/kinesis-rule-action.html (kinesis:PutRecord)',
      },
      {
        target: 'iotErrorQueue',
        actions: ['sqs:SendMessage'],
        source:
          'https://docs.aws.amazon.com/iot/latest/developerguide/sqs-rule-action.html (sqs:SendMessage)',
      },
    ],
  },
  windowsDelivery: {
    assumedBy: 'firehose.amazonaws.com',
    why: 'Firehose reads final windows from the results stream and writes them to the lake as Parquet',
    grants: [
      {
        target: 'resultsStream',
        actions: [
          'kinesis:DescribeStream',
          'kinesis:GetRecords',
          'kinesis:GetShardIterator',
          'kinesis:ListShards',
        ],
        source:
          'https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html (Grant Firehose access to a Kinesis data stream source)',
      },
      ...LAKE_DELIVERY_GRANTS,
    ],
  },
  transitionsDelivery: {
    assumedBy: 'firehose.amazonaws.com',
    why: 'Firehose writes the alarm transitions SNS hands it to the lake as Parquet',
    grants: LAKE_DELIVERY_GRANTS,
  },
  transitionsSubscription: {
    assumedBy: 'sns.amazonaws.com',
    why: 'SNS delivers alarm transitions from the alert topic to their delivery stream',
    grants: [
      {
        target: 'transitionsDeliveryStream',
        // The page's list also has firehose:ListDeliveryStreams, an account-wide action
        // that cannot be scoped to a stream (on a stream ARN it authorises nothing).
        actions: [
          'firehose:DescribeDeliveryStream',
          'firehose:ListTagsForDeliveryStream',
          'firehose:PutRecord',
          'firehose:PutRecordBatch',
        ],
        source: 'https://docs.aws.amazon.com/sns/latest/dg/prereqs-kinesis-data-firehose.html',
      },
    ],
  },
} as const satisfies Record<string, ServiceRolePlan>;

export type ServiceRoleName = keyof typeof SERVICE_ROLES;

/** A resource named by its ARNs, granted on by a statement naming exactly them. */
export class ArnTarget {
  constructor(readonly arns: readonly string[]) {}

  grant(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [...this.arns] });
  }
}

/** A service role of the stack with the resources its plan was granted on (for the grants test). */
export interface ServiceRoleBinding {
  name: ServiceRoleName;
  role: iam.Role;
  targets: Partial<Record<ServiceTarget, ArnTarget>>;
}

/**
 * Grants `role` exactly its plan on `targets`; a planned target the construct did not pass
 * is a mistake in the stack and throws.
 */
export function grantServiceRole(
  role: iam.Role,
  name: ServiceRoleName,
  targets: Partial<Record<ServiceTarget, ArnTarget>>,
): ServiceRoleBinding {
  for (const grant of SERVICE_ROLES[name].grants) {
    const target = targets[grant.target];
    if (!target)
      throw new AccessPlanError(`${name}: no ${grant.target} to grant ${grant.actions.join(', ')} on`);
    target.grant(role, ...grant.actions);
  }
  return { name, role, targets };
}
