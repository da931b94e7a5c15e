/**
 * Where readings enter: the Kinesis stream producers write to. Further ways in (an IoT
 * topic rule into the stream, a schema registry for producers) belong here, one construct
 * each.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type { Construct } from 'constructs';
import type { WindowpaneConfig } from '../functions/domain/config.js';
import { LOGICAL_IDS, Section } from './logical-ids.js';
import { WindowpaneStream } from './secure-resources.js';
import { SCALING_SHARD_LEVEL_METRICS } from './shard-scaling.js';

const SHARD_LEVEL_METRICS: Record<(typeof SCALING_SHARD_LEVEL_METRICS)[number], kinesis.ShardLevelMetrics> = {
  IncomingBytes: kinesis.ShardLevelMetrics.INCOMING_BYTES,
  IncomingRecords: kinesis.ShardLevelMetrics.INCOMING_RECORDS,
};

export interface IngestProps {
  stream: WindowpaneConfig['stream'];
  /** A provisioned stream with shard scaling publishes the shard-level metrics its alarms read. */
  shardScaling: boolean;
  removalPolicy: RemovalPolicy;
}

export class Ingest extends Section {
  readonly stream: WindowpaneStream;

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
  }
}
