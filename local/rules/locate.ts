/**
 * The rules table of a deployed stack: its `RulesTableName` output
 * (infra/windowpane-stack.ts), read with DescribeStacks on the target's CloudFormation.
 */
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { WindowpaneError } from '../../functions/domain/errors.js';
import { type ClientOptions, createCloudFormationClient } from '../../functions/lib/clients.js';

export class RulesTableNotFoundError extends WindowpaneError {}

/** The output infra/windowpane-stack.ts names the rules table with. */
export const RULES_TABLE_OUTPUT = 'RulesTableName';

export async function rulesTableFromStack(options: ClientOptions, stackName: string): Promise<string> {
  const cfn = createCloudFormationClient(options);
  try {
    let outputs: { OutputKey?: string; OutputValue?: string }[];
    try {
      const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
      if (!stack) throw new RulesTableNotFoundError(`stack ${stackName} was not found`);
      outputs = stack.Outputs ?? [];
    } catch (err) {
      if (err instanceof RulesTableNotFoundError) throw err;
      throw new RulesTableNotFoundError(
        `cannot describe stack ${stackName}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    const name = outputs.find((o) => o.OutputKey === RULES_TABLE_OUTPUT)?.OutputValue;
    if (!name) {
      throw new RulesTableNotFoundError(
        `stack ${stackName} has no output ${RULES_TABLE_OUTPUT}: deployed before windowpane had a rules table? ` +
          `(outputs: ${outputs.map((o) => o.OutputKey).join(', ') || 'none'})`,
      );
    }
    return name;
  } finally {
    cfn.destroy();
  }
}
