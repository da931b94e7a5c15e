/**
 * Where final windows go: the results table (the ledger of emission, one item per window)
 * and, when the deployment asks for it, an output stream with one record per final window.
 * Further destinations (a Firehose delivery stream into a data lake) belong here, one
 * construct each, with their grants in access.ts.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type { Construct } from 'constructs';
import { RESULTS_TABLE } from '../functions/lib/resources.js';
import { LOGICAL_IDS, Section } from './logical-ids.js';
import { WindowpaneStream, WindowpaneTable } from './secure-resources.js';

export interface SinksProps {
  resultsStream: boolean;
  removalPolicy: RemovalPolicy;
}

export class Sinks extends Section {
  readonly resultsTable: WindowpaneTable;
  readonly resultsStream?: WindowpaneStream;

  constructor(scope: Construct, id: string, props: SinksProps) {
    super(scope, id);
    this.resultsTable = new WindowpaneTable(this, RESULTS_TABLE, props);
    if (props.resultsStream) {
      this.resultsStream = new WindowpaneStream(this, LOGICAL_IDS.resultsStream, {
        streamMode: kinesis.StreamMode.ON_DEMAND,
        retentionPeriod: Duration.hours(24),
        removalPolicy: props.removalPolicy,
      });
    }
  }
}
