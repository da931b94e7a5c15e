/**
 * IoT Core ingest (infra/iot-ingest.ts): the two telemetry rules put readings on the
 * readings stream keyed by the topic's sensor id, failures go to an alarmed queue, and a
 * device may connect as its thing only and publish to its own two topics only. The rules'
 * topics are the ones the local MQTT bridge forwards, with the same partition key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGICAL_IDS } from '../../infra/logical-ids.js';
import { telemetryRecord } from '../../local/mqtt/telemetry-mapping.js';
import { type Built, build, idsOf, joined } from './helpers.js';

const RULE = 'AWS::IoT::TopicRule';

describe('IoT ingest (on by default)', () => {
  let built: Built;
  beforeAll(() => {
    built = build();
  });
  afterAll(() => built?.cleanup());

  const rules = () =>
    Object.fromEntries(
      idsOf(built.json, RULE).map((id) => {
        const p = built.json.Resources[id]!.Properties;
        return [p.RuleName as string, p.TopicRulePayload];
      }),
    );

  it('a JSON rule adds the topic id as sensor_id; a binary rule passes payloads unchanged', () => {
    const r = rules();
    expect(Object.keys(r).sort()).toEqual(['Windowpane_telemetry', 'Windowpane_telemetry_bin']);
    expect(r.Windowpane_telemetry).toMatchObject({
      Sql: "SELECT *, topic(2) AS sensor_id FROM 'windowpane/+/telemetry'",
      AwsIotSqlVersion: '2016-03-23',
      RuleDisabled: false,
    });
    expect(r.Windowpane_telemetry_bin).toMatchObject({
      Sql: "SELECT * FROM 'windowpane/+/telemetry/bin'",
      AwsIotSqlVersion: '2016-03-23',
    });
  });

  it('both put on the readings stream keyed by the topic sensor id, and send failures to the error queue', () => {
    for (const payload of Object.values(rules())) {
      expect(payload.Actions).toHaveLength(1);
      expect(payload.Actions[0].Kinesis).toMatchObject({
        StreamName: { Ref: LOGICAL_IDS.stream },
        PartitionKey: `\${topic(2)}`,
      });
      expect(payload.ErrorAction.Sqs).toMatchObject({
        QueueUrl: { Ref: LOGICAL_IDS.iotErrorQueue },
        UseBase64: false,
      });
    }
  });

  it('the rules match the topics the local bridge forwards, with the same partition key', () => {
    for (const payload of Object.values(rules())) {
      const filter = /FROM '([^']+)'/.exec(payload.Sql as string)![1]!;
      const topic = filter.replace('+', 'sensor-7');
      expect(telemetryRecord(topic, new TextEncoder().encode('{}'))?.partitionKey).toBe('sensor-7');
      expect(telemetryRecord(`${topic}/more`, new Uint8Array(0))).toBeUndefined();
    }
  });

  it("the rules role can be assumed by this account's telemetry rules only", () => {
    const [roleId] = Object.values(rules()).map((p) => p.Actions[0].Kinesis.RoleArn['Fn::GetAtt'][0]);
    const trust = built.json.Resources[roleId]!.Properties.AssumeRolePolicyDocument.Statement;
    expect(trust).toHaveLength(1);
    expect(trust[0].Principal).toEqual({ Service: 'iot.amazonaws.com' });
    expect(trust[0].Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    expect(joined(trust[0].Condition.ArnLike['aws:SourceArn'])).toBe(
      `arn:\${AWS::Partition}:iot:\${AWS::Region}:\${AWS::AccountId}:rule/Windowpane_telemetry*`,
    );
  });

  it('the error queue alarms on depth; parse errors of the JSON rule alarm too', () => {
    const alarms = Object.values(built.template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties,
    );
    const depth = alarms.find((a) => a.AlarmName === 'Windowpane-iot-rule-error-queue-depth');
    expect(depth).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [LOGICAL_IDS.iotErrorQueue, 'QueueName'] } }],
      Threshold: 1,
    });
    const parse = alarms.find((a) => a.AlarmName === 'Windowpane-iot-parse-errors');
    expect(parse).toMatchObject({
      Namespace: 'AWS/IoT',
      MetricName: 'ParseError',
      Dimensions: [{ Name: 'RuleName', Value: 'Windowpane_telemetry' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    expect(parse!.AlarmActions).toHaveLength(1);
  });

  it('a device connects as its thing (certificate attached) and publishes to its own two topics only', () => {
    const [policyId] = idsOf(built.json, 'AWS::IoT::Policy');
    const policy = built.json.Resources[policyId!]!;
    expect(policy.Properties.PolicyName).toBe('Windowpane-device');
    expect(policy.DeletionPolicy).toBe('Retain');
    const statements = policy.Properties.PolicyDocument.Statement.map((s: Record<string, unknown>) => ({
      ...s,
      Resource: [s.Resource].flat().map(joined),
    }));
    const arn = `arn:\${AWS::Partition}:iot:\${AWS::Region}:\${AWS::AccountId}`;
    expect(statements).toEqual([
      {
        Sid: 'ConnectAsItsThingName',
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: [`${arn}:client/\${iot:Connection.Thing.ThingName}`],
        Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
      },
      {
        Sid: 'PublishItsOwnTelemetry',
        Effect: 'Allow',
        Action: 'iot:Publish',
        Resource: [
          `${arn}:topic/windowpane/\${iot:Connection.Thing.ThingName}/telemetry`,
          `${arn}:topic/windowpane/\${iot:Connection.Thing.ThingName}/telemetry/bin`,
        ],
      },
    ]);
  });
});

describe('IoT ingest off (windowpaneDeploy.iot.enabled: false)', () => {
  it('has no rules, role, queue, policy or IoT alarms', () => {
    const built = build({ windowpaneDeploy: { iot: { enabled: false } } });
    try {
      expect(idsOf(built.json, RULE)).toEqual([]);
      expect(idsOf(built.json, 'AWS::IoT::Policy')).toEqual([]);
      expect(built.json.Resources[LOGICAL_IDS.iotErrorQueue]).toBeUndefined();
      const names = Object.values(built.template.findResources('AWS::CloudWatch::Alarm')).map(
        (a) => a.Properties.AlarmName as string,
      );
      expect(names.filter((n) => n.includes('iot'))).toEqual([]);
    } finally {
      built.cleanup();
    }
  });
});
