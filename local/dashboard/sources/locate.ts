/**
 * Where a deployed windowpane keeps what the dashboard reads: from a CloudFormation
 * stack's outputs (`--stack`, as infra/windowpane-stack.ts declares them), or from the
 * resource names the local cloud gives a prefix (`--endpoint` alone: resources made by
 * `npm run replay -- --endpoint URL --keep-resources` on LocalStack, moto, ...).
 */
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeTableCommand,
  ResourceNotFoundException as TableNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand, ResourceNotFoundException } from '@aws-sdk/client-kinesis';
import { DEFAULT_CONFIG } from '../../../functions/domain/config.js';
import { WindowpaneError } from '../../../functions/domain/errors.js';
import type { AwsClients } from '../../../functions/lib/clients.js';
import { ALARMS_TABLE, RESULTS_TABLE, STATE_TABLE } from '../../../functions/lib/resources.js';
import { planFromConfig } from '../../cloud/provision.js';
import type { DeployedResources } from './deployed.js';

export class StackOutputsError extends WindowpaneError {}

/** Output names of infra/windowpane-stack.ts `outputs()`. */
export const STACK_OUTPUTS = {
  resultsTable: 'ResultsTableName',
  resultsStream: 'ResultsStreamName',
  stream: 'StreamName',
  /** The alarms projection (A-C4), when the stack has one. */
  alarmsTable: 'AlarmsTableName',
  /** The per-sensor state (open windows). */
  stateTable: 'StateTableName',
} as const;

export async function resourcesFromStack(
  cfn: CloudFormationClient,
  stackName: string,
): Promise<DeployedResources> {
  let outputs: Record<string, string>;
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    if (!stack) throw new StackOutputsError(`stack ${stackName} was not found`);
    outputs = Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (err) {
    if (err instanceof StackOutputsError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new StackOutputsError(`cannot describe stack ${stackName}: ${message}`, { cause: err });
  }
  const resultsTable = outputs[STACK_OUTPUTS.resultsTable];
  if (!resultsTable) {
    throw new StackOutputsError(
      `stack ${stackName} has no output ${STACK_OUTPUTS.resultsTable}: is it a windowpane stack (outputs: ${Object.keys(outputs).join(', ') || 'none'})?`,
    );
  }
  const resultsStream = outputs[STACK_OUTPUTS.resultsStream];
  const stream = outputs[STACK_OUTPUTS.stream];
  const alarmsTable = outputs[STACK_OUTPUTS.alarmsTable];
  const stateTable = outputs[STACK_OUTPUTS.stateTable];
  return {
    resultsTable,
    ...(resultsStream ? { resultsStream } : {}),
    ...(stream ? { stream } : {}),
    ...(alarmsTable ? { alarmsTable } : {}),
    ...(stateTable ? { stateTable } : {}),
  };
}

/**
 * The local cloud's names for `prefix`; the output stream and alarms table only if they
 * exist there (the state table always does where the results table does).
 */
export async function resourcesFromPrefix(clients: AwsClients, prefix: string): Promise<DeployedResources> {
  const plan = planFromConfig(DEFAULT_CONFIG, { prefix });
  const resultsTable = plan.tables.find((t) => t.def.id === RESULTS_TABLE.id)!.name;
  const stateTable = plan.tables.find((t) => t.def.id === STATE_TABLE.id)!.name;
  const out: DeployedResources = { resultsTable, stream: plan.stream.name, stateTable };
  const streamName = plan.resultsStream?.name;
  if (streamName) {
    try {
      await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
      out.resultsStream = streamName;
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    }
  }
  const alarmsTable = plan.tables.find((t) => t.def.id === ALARMS_TABLE.id)?.name;
  if (alarmsTable) {
    try {
      await clients.dynamodb.send(new DescribeTableCommand({ TableName: alarmsTable }));
      out.alarmsTable = alarmsTable;
    } catch (err) {
      if (!(err instanceof TableNotFoundException)) throw err;
    }
  }
  return out;
}
