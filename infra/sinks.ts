/**
 * Where final windows go: the results table (the ledger of emission, one item per window)
 * and, when the deployment asks for it, an output stream with one record per final window
 * and the lake behind it (lake-sink.ts: Firehose to S3 Parquet, with alarm transitions
 * from the alert topic). Further destinations belong here, one construct each.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { RESULTS_TABLE } from '../functions/lib/resources.js';
import type { LakeSettings } from './ingest-settings.js';
import { LakeSink } from './lake-sink.js';
import { LOGICAL_IDS, Section } from './logical-ids.js';
import { WindowpaneStream, WindowpaneTable } from './secure-resources.js';

export interface SinksProps {
  stackName: string;
  /** The output stream; `lake.enabled` implies it. */
  resultsStream: boolean;
  lake: LakeSettings;
  alertTopic: sns.ITopic;
  alarmTopic: sns.ITopic;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  /** The configured percentiles' names, columns of the lake's windows table. */
  percentileNames?: readonly string[];
}

export class Sinks extends Section {
  readonly resultsTable: WindowpaneTable;
  readonly resultsStream?: WindowpaneStream;
  readonly lake?: LakeSink;

  constructor(scope: Construct, id: string, props: SinksProps) {
    super(scope, id);
    this.resultsTable = new WindowpaneTable(this, RESULTS_TABLE, { removalPolicy: props.removalPolicy });
    if (props.resultsStream || props.lake.enabled) {
      this.resultsStream = new WindowpaneStream(this, LOGICAL_IDS.resultsStream, {
        streamMode: kinesis.StreamMode.ON_DEMAND,
        retentionPeriod: Duration.hours(24),
        removalPolicy: props.removalPolicy,
      });
    }
    if (props.lake.enabled && this.resultsStream) {
      this.lake = new LakeSink(this, 'Lake', {
        stackName: props.stackName,
        settings: props.lake,
        resultsStream: this.resultsStream,
        alertTopic: props.alertTopic,
        alarmTopic: props.alarmTopic,
        logRetentionDays: props.logRetentionDays,
        removalPolicy: props.removalPolicy,
        ...(props.percentileNames ? { percentileNames: props.percentileNames } : {}),
      });
    }
  }
}
