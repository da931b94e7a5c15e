/**
 * The lake (infra/lake-sink.ts, lake-delivery.ts, lake-tables.ts; `windowpaneDeploy.lake`):
 * off by default; on, the results stream feeds a Firehose delivery stream writing Parquet
 * partitioned by windowStart's UTC date into a private, encrypted, TLS-only, logged,
 * versioned bucket with a lifecycle rule; alarm transitions reach a second delivery
 * stream from the alert topic; Glue tables describe both; failures are alarmed.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FinalWindow } from '../../functions/domain/state.js';
import { ENV } from '../../functions/lib/resources.js';
import {
  datePartitionQuery,
  TRANSITIONS_LAKE_TABLE,
  WINDOWS_LAKE_TABLE,
  windowsColumns,
} from '../../infra/lake-tables.js';
import { LOGICAL_IDS } from '../../infra/logical-ids.js';
import {
  type LakeColumnType,
  partitionDate,
  TRANSITIONS_TABLE,
  WINDOWS_TABLE,
  windowsTable,
} from '../../local/lake/tables.js';
import { type Built, build, idsOf, joined } from './helpers.js';

/** The Hive type of each local column type, written out here so the mapping is checked, not reused. */
const HIVE: Record<LakeColumnType, string> = {
  STRING: 'string',
  INT64: 'bigint',
  DOUBLE: 'double',
  BOOLEAN: 'boolean',
  STRING_MAP: 'map<string,string>',
};

const T0 = Date.parse('2026-03-01T23:59:30Z');
const FIREHOSE = 'AWS::KinesisFirehose::DeliveryStream';

/** A results-stream record, as EffectDelivery.streamResults writes it. */
const final: FinalWindow = {
  sensorId: 's-1',
  windowKey: 'sliding:60000:10000:1772409570000',
  windowType: 'sliding',
  windowSizeMs: 60_000,
  windowSlideMs: 10_000,
  windowStart: T0,
  windowEnd: T0 + 60_000,
  metrics: {
    temperature: { count: 2, sum: 41, min: 20, max: 21, mean: 20.5, stddev: 0.75 },
    humidity: { count: 1, sum: 40, min: 40, max: 40, mean: 40, stddev: null },
  },
};

describe('lake off (the default)', () => {
  it('no bucket, delivery stream or Glue table; no results stream either', () => {
    const built = build();
    try {
      for (const type of ['AWS::S3::Bucket', FIREHOSE, 'AWS::Glue::Table', 'AWS::Glue::Database']) {
        expect(idsOf(built.json, type), type).toEqual([]);
      }
      expect(built.json.Resources[LOGICAL_IDS.resultsStream]).toBeUndefined();
    } finally {
      built.cleanup();
    }
  });
});

describe('lake tables: the Glue columns', () => {
  it('windows: every local column is a column, the metric map key, or a field of its aggregates', () => {
    const columns = Object.fromEntries(windowsColumns().map((c) => [c.name, c.type]));
    const struct = /^map<string,struct<(.*)>>$/.exec(columns.metrics!)![1]!.split(',');
    const fields = Object.fromEntries(struct.map((f) => f.split(':') as [string, string]));
    for (const c of WINDOWS_TABLE.columns) {
      const name = c.name.toLowerCase();
      const type = HIVE[c.type];
      if (c.name === 'metric') continue;
      expect(columns[name] ?? fields[name], c.name).toBe(type);
    }
    expect(columns).toMatchObject({ resultid: 'string', windowkey: 'string' });
  });

  it('a results-stream record, flattened by its metrics map, gives exactly the local rows', () => {
    const record = JSON.parse(JSON.stringify({ resultId: 's-1#k', ...final })) as Record<string, unknown>;
    const byLower = Object.fromEntries(Object.entries(record).map(([k, v]) => [k.toLowerCase(), v]));
    const metrics = record.metrics as Record<string, Record<string, unknown>>;
    const flattened = Object.entries(metrics).map(([metric, s]) =>
      Object.fromEntries(
        WINDOWS_TABLE.columns.map((c) => {
          if (c.name === 'metric') return [c.name, metric];
          const n = c.name.toLowerCase();
          return [c.name, (n in byLower ? byLower[n] : s[n]) ?? null];
        }),
      ),
    );
    expect(flattened).toEqual(WINDOWS_TABLE.rows(final));
  });

  it('configured percentiles are double fields of the metrics map, after stddev', () => {
    const columns = Object.fromEntries(
      windowsColumns(windowsTable(['p50', 'p99_9']).columns).map((c) => [c.name, c.type]),
    );
    expect(columns.metrics).toMatch(/,stddev:double,p50:double,p99_9:double>>$/);
    expect(windowsColumns(windowsTable().columns)).toEqual(windowsColumns());
  });

  it("transitions: the Glue table's columns are the local table's, lower-cased, in order", () => {
    expect(TRANSITIONS_LAKE_TABLE.name).toBe(TRANSITIONS_TABLE.name);
    expect(TRANSITIONS_LAKE_TABLE.columns).toEqual(
      TRANSITIONS_TABLE.columns.map((c) => ({ name: c.name.toLowerCase(), type: HIVE[c.type] })),
    );
    // The schema Firehose converts the alert topic's kind=alarm messages with, written out:
    // a change of the local table shows up here as a change of the deployed one.
    expect(TRANSITIONS_LAKE_TABLE.columns.map((c) => `${c.name} ${c.type}`)).toEqual([
      'transitionid string',
      'alarmid string',
      'sensorid string',
      'rule string',
      'ruleversion bigint',
      'ruletype string',
      'severity string',
      'metric string',
      'seq bigint',
      'transition string',
      'from string',
      'state string',
      'at bigint',
      'clock string',
      'since bigint',
      'value double',
      'peak double',
      'peakat bigint',
      'reactivated boolean',
      'snoozeduntil bigint',
      'by string',
      'note string',
      'recordid string',
      'actionid string',
      'detail map<string,string>',
    ]);
  });

  it('a local column the Glue table cannot place fails synth, naming it', () => {
    expect(() =>
      windowsColumns([...WINDOWS_TABLE.columns, { name: 'firmware', type: 'STRING', nullable: true }]),
    ).toThrow(/cannot place: firmware/);
  });

  it("the partition queries give the UTC date of the event time, as the local files (jq 1.6, Firehose's engine)", (ctx) => {
    let jq: string;
    try {
      jq = execFileSync('jq', ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      // .ci/install-packages installs jq, so in CI a missing jq is a failure, not a skip.
      if (process.env.CI === 'true') throw new Error('jq is not installed: run .ci/install-packages');
      console.warn('jq is not installed (apt-get install -y jq): the JQ queries were not run');
      ctx.skip();
      return;
    }
    expect(jq).toBe('jq-1.6');
    const run = (query: string, value: unknown) =>
      JSON.parse(execFileSync('jq', ['-c', query], { input: JSON.stringify(value), encoding: 'utf8' }));
    for (const t of [T0, T0 + 30_000, Date.parse('1999-12-31T23:59:59.999Z'), 0]) {
      expect(run(WINDOWS_LAKE_TABLE.partitionQuery, { ...final, windowStart: t })).toEqual({
        dt: partitionDate(t),
      });
      expect(run(TRANSITIONS_LAKE_TABLE.partitionQuery, { at: t })).toEqual({ dt: partitionDate(t) });
    }
    expect(datePartitionQuery('at')).toBe('{dt: (.at / 1000 | floor | todate | .[0:10])}');
  });
});

describe('lake on, with percentiles configured', () => {
  it('the Glue windows table has a double field per percentile in the metrics map', () => {
    const built = build({
      windowpane: { percentiles: [0.5, 0.99] },
      windowpaneDeploy: { lake: { enabled: true } },
    });
    try {
      const [id] = idsOf(built.json, 'AWS::Glue::Table').filter(
        (i) => built.json.Resources[i]!.Properties.TableInput.Name === 'windows',
      );
      const columns = built.json.Resources[id!]!.Properties.TableInput.StorageDescriptor.Columns as {
        Name: string;
        Type: string;
      }[];
      expect(columns.find((c) => c.Name === 'metrics')?.Type).toMatch(
        /,stddev:double,p50:double,p99:double>>$/,
      );
    } finally {
      built.cleanup();
    }
  });
});

describe('lake on', () => {
  let built: Built;
  beforeAll(() => {
    built = build({
      windowpaneDeploy: { lake: { enabled: true, retentionDays: 400, transitionToIaDays: 90 } },
    });
  });
  afterAll(() => built?.cleanup());

  const resource = (id: string) => built.json.Resources[id]!;
  const delivery = (id: string) => resource(id).Properties.ExtendedS3DestinationConfiguration;

  it('turns the results stream on: the handler writes final windows to it', () => {
    expect(resource(LOGICAL_IDS.resultsStream).Type).toBe('AWS::Kinesis::Stream');
    const fn = built.stack.pipeline.windowHandler.function;
    const id = built.stack.resolve(built.stack.getLogicalId(fn.node.defaultChild as never));
    expect(resource(id).Properties.Environment.Variables[ENV.resultsStream]).toEqual({
      Ref: LOGICAL_IDS.resultsStream,
    });
  });

  it('bucket: SSE-S3, private, owner-enforced, versioned, access-logged, retained', () => {
    const bucket = resource(LOGICAL_IDS.lakeBucket);
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: {
        DestinationBucketName: { Ref: LOGICAL_IDS.lakeAccessLogBucket },
        LogFilePrefix: 'lake/',
      },
    });
  });

  it('lifecycle: expire after retentionDays, Standard-IA after transitionToIaDays, old versions and stray uploads cleaned', () => {
    expect(resource(LOGICAL_IDS.lakeBucket).Properties.LifecycleConfiguration.Rules).toEqual([
      {
        Id: 'retention',
        Status: 'Enabled',
        ExpirationInDays: 400,
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 90 }],
      },
    ]);
    expect(resource(LOGICAL_IDS.lakeAccessLogBucket).Properties.LifecycleConfiguration.Rules).toEqual([
      { Id: 'expire-access-logs', Status: 'Enabled', ExpirationInDays: 400 },
    ]);
  });

  it('both buckets deny every request made without TLS', () => {
    for (const bucket of [LOGICAL_IDS.lakeBucket, LOGICAL_IDS.lakeAccessLogBucket]) {
      const [policyId] = idsOf(built.json, 'AWS::S3::BucketPolicy').filter(
        (p) => resource(p).Properties.Bucket.Ref === bucket,
      );
      expect(resource(policyId!).Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:*',
          Principal: { AWS: '*' },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });

  it('Glue: a database and the two tables, Parquet, projected on dt, located in the bucket', () => {
    expect(resource(LOGICAL_IDS.lakeDatabase).Properties.DatabaseInput.Name).toBe('windowpane_lake');
    const tables = Object.fromEntries(
      idsOf(built.json, 'AWS::Glue::Table').map((id) => [
        resource(id).Properties.TableInput.Name,
        resource(id).Properties,
      ]),
    );
    expect(Object.keys(tables).sort()).toEqual(['transitions', 'windows']);
    for (const spec of [WINDOWS_LAKE_TABLE, TRANSITIONS_LAKE_TABLE]) {
      const t = tables[spec.name]!;
      expect(t.DatabaseName).toBe('windowpane_lake');
      const input = t.TableInput;
      expect(input.StorageDescriptor.Columns).toEqual(
        spec.columns.map((c) => ({ Name: c.name, Type: c.type })),
      );
      expect(input.PartitionKeys).toEqual([{ Name: 'dt', Type: 'string' }]);
      expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(
        'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
      );
      expect(joined(input.StorageDescriptor.Location)).toBe(
        `s3://\${${LOGICAL_IDS.lakeBucket}}/${spec.name}/`,
      );
      expect(input.Parameters).toMatchObject({
        classification: 'parquet',
        'projection.enabled': 'true',
        'projection.dt.type': 'date',
        'projection.dt.format': 'yyyy-MM-dd',
      });
      expect(joined(input.Parameters['storage.location.template'])).toBe(
        `s3://\${${LOGICAL_IDS.lakeBucket}}/${spec.name}/dt=\${dt}/`,
      );
    }
  });

  it('final windows: from the results stream, Parquet through the Glue table, into windows/dt=<UTC date of windowStart>/', () => {
    const stream = resource(LOGICAL_IDS.windowsDeliveryStream).Properties;
    expect(stream.DeliveryStreamType).toBe('KinesisStreamAsSource');
    expect(stream.KinesisStreamSourceConfiguration.KinesisStreamARN).toEqual({
      'Fn::GetAtt': [LOGICAL_IDS.resultsStream, 'Arn'],
    });
    const d = delivery(LOGICAL_IDS.windowsDeliveryStream);
    expect(d).toMatchObject({
      Prefix: 'windows/dt=!{partitionKeyFromQuery:dt}/',
      ErrorOutputPrefix: 'errors/windows/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/',
      BufferingHints: { IntervalInSeconds: 300, SizeInMBs: 128 },
      CompressionFormat: 'UNCOMPRESSED',
      DynamicPartitioningConfiguration: { Enabled: true },
      CloudWatchLoggingOptions: { Enabled: true },
    });
    const logStream = resource(d.CloudWatchLoggingOptions.LogStreamName.Ref);
    expect(logStream.Type).toBe('AWS::Logs::LogStream');
    expect(logStream.Properties.LogStreamName).toBe('windows');
    expect(d.CloudWatchLoggingOptions.LogGroupName).toEqual(logStream.Properties.LogGroupName);
    expect(d.ProcessingConfiguration.Processors).toEqual([
      {
        Type: 'MetadataExtraction',
        Parameters: [
          { ParameterName: 'MetadataExtractionQuery', ParameterValue: WINDOWS_LAKE_TABLE.partitionQuery },
          { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
        ],
      },
    ]);
    expect(d.DataFormatConversionConfiguration).toMatchObject({
      Enabled: true,
      InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: { CaseInsensitive: true } } },
      OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
      SchemaConfiguration: { DatabaseName: 'windowpane_lake', TableName: 'windows', VersionId: 'LATEST' },
    });
  });

  it('alarm transitions: SNS delivers kind=alarm messages, raw, to a direct-put stream encrypted at rest', () => {
    const stream = resource(LOGICAL_IDS.transitionsDeliveryStream).Properties;
    expect(stream).toMatchObject({
      DeliveryStreamType: 'DirectPut',
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
    });
    expect(delivery(LOGICAL_IDS.transitionsDeliveryStream)).toMatchObject({
      Prefix: 'transitions/dt=!{partitionKeyFromQuery:dt}/',
      ErrorOutputPrefix: 'errors/transitions/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/',
    });
    const subscriptions = idsOf(built.json, 'AWS::SNS::Subscription').map((id) => resource(id).Properties);
    const firehose = subscriptions.filter((s) => s.Protocol === 'firehose');
    expect(firehose).toHaveLength(1);
    expect(firehose[0]).toMatchObject({
      TopicArn: { Ref: LOGICAL_IDS.alertTopic },
      Endpoint: { 'Fn::GetAtt': [LOGICAL_IDS.transitionsDeliveryStream, 'Arn'] },
      RawMessageDelivery: true,
      FilterPolicy: { kind: ['alarm'] },
    });
    expect(firehose[0].SubscriptionRoleArn).toBeDefined();
  });

  it('failed conversions and failing deliveries of each table alarm', () => {
    const alarms = Object.values(built.template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties,
    );
    for (const table of ['windows', 'transitions']) {
      expect(alarms.find((a) => a.AlarmName === `Windowpane-lake-${table}-records-failed`)).toMatchObject({
        Namespace: 'AWS/Firehose',
        MetricName: 'FailedConversion.Records',
        Dimensions: [{ Name: 'DeliveryStreamName', Value: `Windowpane-lake-${table}` }],
        Threshold: 1,
      });
      expect(alarms.find((a) => a.AlarmName === `Windowpane-lake-${table}-delivery-failing`)).toMatchObject({
        MetricName: 'DeliveryToS3.Success',
        Statistic: 'Minimum',
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        EvaluationPeriods: 3,
      });
    }
  });

  it('outputs the bucket and the Glue database', () => {
    const outputs = built.template.findOutputs('*');
    expect(outputs.LakeBucketName?.Value).toEqual({ Ref: LOGICAL_IDS.lakeBucket });
    expect(outputs.LakeDatabaseName?.Value).toBe('windowpane_lake');
  });
});
