/**
 * Where readings enter: the Kinesis stream producers write to, and, as the deployment
 * asks, the AWS IoT Core topic rules into it (iot-ingest.ts). Further ways in belong
 * here, one construct each.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type { Construct } from 'constructs';
import type { WindowpaneConfig } from '../functions/domain/config.js';
import type { AvroSettings } from './ingest-settings.js';
import { IotIngest } from './iot-ingest.js';
import { LOGICAL_IDS, Section } from './logical-ids.js';
import type { DeadLetterQueueRef } from './observability.js';
import { SchemaRegistry } from './schema-registry.js';
import { WindowpaneStream } from './secure-resources.js';
import { SCALING_SHARD_LEVEL_METRICS } from './shard-scaling.js';

const SHARD_LEVEL_METRICS: Record<(typeof SCALING_SHARD_LEVEL_METRICS)[number], kinesis.ShardLevelMetrics> = {
  IncomingBytes: kinesis.ShardLevelMetrics.INCOMING_BYTES,
  IncomingRecords: kinesis.ShardLevelMetrics.INCOMING_RECORDS,
};

export interface IngestProps {
  stackName: string;
  stream: WindowpaneConfig['stream'];
  /** AWS IoT Core topic rules into the stream (`windowpaneDeploy.iot.enabled`). */
  iot: boolean;
  /** A Glue Schema Registry for Avro readings (`windowpaneDeploy.avro`). */
  avro: AvroSettings;
  /** The configured metrics: the fields of the registered reading schema. */
  metrics: readonly string[];
  /** A provisioned stream with shard scaling publishes the shard-level metrics its alarms read. */
  shardScaling: boolean;
  removalPolicy: RemovalPolicy;
}

export class Ingest extends Section {
  readonly stream: WindowpaneStream;
  readonly iot?: IotIngest;
  readonly schemaRegistry?: SchemaRegistry;

  constructor(scope: Construct, id: string, props: IngestProps) {
    super(scope, id);
    const provisioned = props.stream.mode === 'PROVISIONED';
    this.stream = new WindowpaneStream(this, LOGICAL_IDS.stream, {
      streamMode: provisioned ? kinesis.StreamMode.PROVISIONED : kinesis.StreamMode.ON_DEMAND,
      ...(provisioned ? { shardCount: props.stream.shardCount } : {}),
      retentionPeriod: Duration.hours(props.stream.retentionHours),
      removalPolicy: props.removalPolicy,
      ...(provisioned && props.shardScaling
        ? { shardLevelMetrics: SCALING_SHARD_LEVEL_METRICS.map((m) => SHARD_LEVEL_METRICS[m]) }
        : {}),
    });
    if (props.iot) {
      this.iot = new IotIngest(this, 'Iot', {
        stackName: props.stackName,
        stream: this.stream,
        removalPolicy: props.removalPolicy,
      });
    }
    if (props.avro.enabled) {
      this.schemaRegistry = new SchemaRegistry(this, 'SchemaRegistry', {
        registryName: props.avro.registryName ?? props.stackName,
        compatibility: props.avro.compatibility,
        metrics: props.metrics,
        removalPolicy: props.removalPolicy,
      });
    }
  }

  /** The stores of what could not enter, for the dead-letter depth alarms. */
  deadLetterQueues(): DeadLetterQueueRef[] {
    return this.iot?.deadLetterQueues() ?? [];
  }
}
