/**
 * Readings from devices through AWS IoT Core: two topic rules into the readings stream,
 * their error queue, and the IoT policy a device needs. The mapping is the one the local
 * MQTT bridge applies (local/mqtt/telemetry-mapping.ts, where the topics are defined):
 *
 * - `windowpane/<sensorId>/telemetry`: JSON readings, `SELECT *, topic(2) AS sensor_id`,
 *   so a payload without an id gets the topic's, and one naming another sensor is refused
 *   by the handler (`conflicting-sensor-id`);
 * - `windowpane/<sensorId>/telemetry/bin`: binary payloads (Avro, KPL aggregates),
 *   `SELECT *`, passed unchanged.
 *
 * Both put with partition key `${topic(2)}` (a substitution template), so a sensor's
 * readings stay in order on one shard. A put that fails (throttling, a missing permission)
 * runs the error action: a message with the original payload (base64) and the failure
 * goes to an encrypted queue, alarmed on depth like the other dead-letter stores. A
 * payload on the JSON topic that is not JSON cannot have the id added and is counted as
 * the rule's ParseError (the stack alarms on it).
 *
 * The device policy lets a registered thing connect as its thing name only (its
 * certificate attached to it) and publish to its own two topics only, so the topic's
 * sensor id is the identity IoT authenticated. Attach it to each device certificate.
 */
import { ArnFormat, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';
import {
  BINARY_TELEMETRY_TOPIC_FILTER,
  TELEMETRY_TOPIC_FILTER,
  TOPIC_SENSOR_ID_FIELD,
} from '../local/mqtt/telemetry-mapping.js';
import { LOGICAL_IDS } from './logical-ids.js';
import { acknowledge } from './nag.js';
import type { DeadLetterQueueRef } from './observability.js';
import { WindowpaneQueue } from './secure-resources.js';
import { ArnTarget, grantServiceRole, type ServiceRoleBinding } from './service-access.js';

/** The rules engine's SQL version with binary payload and substitution template support. */
export const IOT_SQL_VERSION = '2016-03-23';
export const TELEMETRY_RULE_SQL = `SELECT *, topic(2) AS ${TOPIC_SENSOR_ID_FIELD} FROM '${TELEMETRY_TOPIC_FILTER}'`;
export const BINARY_TELEMETRY_RULE_SQL = `SELECT * FROM '${BINARY_TELEMETRY_TOPIC_FILTER}'`;
/** The Kinesis action's partition key: the topic's second level, the sensor id. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IoT substitution template, not a JavaScript one
export const TELEMETRY_PARTITION_KEY = '${topic(2)}';
/** IoT policy variable: the registry name of the thing whose certificate connected. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IoT policy variable, not a JavaScript placeholder
const THING_NAME = '${iot:Connection.Thing.ThingName}';

export interface IotIngestProps {
  stackName: string;
  stream: kinesis.IStream;
  removalPolicy: RemovalPolicy;
}

export class IotIngest extends Construct {
  readonly telemetryRule: iot.CfnTopicRule;
  readonly binaryTelemetryRule: iot.CfnTopicRule;
  readonly role: iam.Role;
  readonly serviceRole: ServiceRoleBinding;
  readonly errorQueue: WindowpaneQueue;
  readonly devicePolicy: iot.CfnPolicy;
  private readonly telemetryRuleName: string;

  constructor(scope: Construct, id: string, props: IotIngestProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // Rule names allow letters, digits and underscores only.
    const rulePrefix = `${props.stackName.replace(/[^A-Za-z0-9]/g, '_')}_telemetry`;
    this.errorQueue = new WindowpaneQueue(this, LOGICAL_IDS.iotErrorQueue, {
      removalPolicy: props.removalPolicy,
    });
    acknowledge(this.errorQueue, {
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter store of the IoT topic rules (their error action: readings IoT ' +
        'could not put on the stream, with the original payload). Nobody consumes it automatically; its depth alarms.',
    });

    this.role = new iam.Role(this, 'RuleRole', {
      description: `windowpane (${props.stackName}): the IoT telemetry rules put readings on the stream`,
      // Confused-deputy guard: only this account's telemetry rules may assume it.
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'iot',
              resource: 'rule',
              resourceName: `${rulePrefix}*`,
              arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
            }),
          },
        },
      }),
    });
    this.serviceRole = grantServiceRole(this.role, 'iotTopicRules', {
      readingsStream: new ArnTarget([props.stream.streamArn]),
      iotErrorQueue: new ArnTarget([this.errorQueue.queueArn]),
    });

    const rule = (ruleId: string, ruleName: string, sql: string, description: string) =>
      new iot.CfnTopicRule(this, ruleId, {
        ruleName,
        topicRulePayload: {
          sql,
          awsIotSqlVersion: IOT_SQL_VERSION,
          description,
          ruleDisabled: false,
          actions: [
            {
              kinesis: {
                streamName: props.stream.streamName,
                partitionKey: TELEMETRY_PARTITION_KEY,
                roleArn: this.role.roleArn,
              },
            },
          ],
          errorAction: {
            sqs: { queueUrl: this.errorQueue.queueUrl, roleArn: this.role.roleArn, useBase64: false },
          },
        },
      });
    this.telemetryRuleName = rulePrefix;
    this.telemetryRule = rule(
      'TelemetryRule',
      rulePrefix,
      TELEMETRY_RULE_SQL,
      'windowpane: JSON readings from windowpane/<sensorId>/telemetry, the topic id added as sensor_id',
    );
    this.binaryTelemetryRule = rule(
      'BinaryTelemetryRule',
      `${rulePrefix}_bin`,
      BINARY_TELEMETRY_RULE_SQL,
      'windowpane: binary readings (Avro, KPL) from windowpane/<sensorId>/telemetry/bin, unchanged',
    );
    // The rules act with the role: its policy must exist before IoT validates them.
    for (const r of [this.telemetryRule, this.binaryTelemetryRule]) r.node.addDependency(this.role);

    this.devicePolicy = new iot.CfnPolicy(this, 'DevicePolicy', {
      policyName: `${props.stackName}-device`,
      policyDocument: this.devicePolicyDocument(),
    });
    // IoT refuses to delete a policy still attached to certificates: in production it
    // stays with the stack's data rather than fail the deletion.
    this.devicePolicy.applyRemovalPolicy(props.removalPolicy);
  }

  /** The error queue, for the dead-letter depth alarms and the dashboard. */
  deadLetterQueues(): DeadLetterQueueRef[] {
    return [
      {
        id: LOGICAL_IDS.iotErrorQueue,
        queue: this.errorQueue,
        meaning:
          'readings the IoT topic rules could not put on the stream (base64OriginalPayload and the failure): replay them',
      },
    ];
  }

  /**
   * Publishes on the JSON topic that the rule could not read as JSON (AWS/IoT ParseError):
   * on AWS they are not forwarded, so each one is a lost reading to look into.
   */
  parseErrors(): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/IoT',
      metricName: 'ParseError',
      dimensionsMap: { RuleName: this.telemetryRuleName },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
    });
  }

  private devicePolicyDocument(): iam.PolicyDocument {
    const stack = Stack.of(this);
    const iotArn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'iot', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const ownTopic = TELEMETRY_TOPIC_FILTER.replace('+', THING_NAME);
    const ownBinaryTopic = BINARY_TELEMETRY_TOPIC_FILTER.replace('+', THING_NAME);
    return new iam.PolicyDocument({
      statements: [
        new iam.PolicyStatement({
          sid: 'ConnectAsItsThingName',
          actions: ['iot:Connect'],
          resources: [iotArn('client', THING_NAME)],
          conditions: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
        }),
        new iam.PolicyStatement({
          sid: 'PublishItsOwnTelemetry',
          actions: ['iot:Publish'],
          resources: [iotArn('topic', ownTopic), iotArn('topic', ownBinaryTopic)],
        }),
      ],
    });
  }
}
