/**
 * Where `npm run alarms` acts: the readings stream (control records go there) and the
 * alarms table (the projection it reads). Three ways, as for the other local commands:
 * the local cloud of a running `npm start` (the default: it leaves a file saying where its
 * emulators listen, removed when it stops), an endpoint with the local cloud's names for a
 * prefix (`--endpoint URL [--prefix P]`), or a deployed stack's outputs (`--stack NAME`,
 * on AWS with `--region R`, or on an endpoint).
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DEFAULT_CONFIG } from '../../functions/domain/config.js';
import { WindowpaneError } from '../../functions/domain/errors.js';
import type { ClientOptions } from '../../functions/lib/clients.js';
import { ALARMS_TABLE } from '../../functions/lib/resources.js';
import { planFromConfig } from '../cloud/provision.js';
import { REPO_ROOT } from '../config.js';

/** Where a running `npm start` says where its local cloud is (git-ignored, owner-only). */
export const LOCAL_CLOUD_FILE = path.join(REPO_ROOT, '.windowpane', 'local-cloud.json');

/** The stack outputs the alarms CLI reads (infra/windowpane-stack.ts `outputs()`). */
export const ALARMS_STACK_OUTPUTS = { stream: 'StreamName', alarmsTable: 'AlarmsTableName' } as const;

export class AlarmsTargetError extends WindowpaneError {}

export interface AlarmsTarget {
  clientOptions: ClientOptions;
  streamName: string;
  alarmsTable: string;
  /** One line for the user: where this is. */
  label: string;
}

interface LocalCloudFile {
  pid: number;
  region: string;
  endpoints: NonNullable<ClientOptions['endpoints']>;
  streamName: string;
  alarmsTable?: string;
}

/** Written by `npm start` once its pipeline runs; the emulators take the local credentials. */
export function writeLocalCloudFile(info: Omit<LocalCloudFile, 'pid'>, file = LOCAL_CLOUD_FILE): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify({ pid: process.pid, ...info }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Removed by `npm start` when it stops, only if it is still its own. */
export function removeLocalCloudFile(file = LOCAL_CLOUD_FILE): void {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as LocalCloudFile;
    if (info.pid === process.pid) rmSync(file, { force: true });
  } catch {
    // No file, or not ours to remove.
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function localCloudTarget(file = LOCAL_CLOUD_FILE): AlarmsTarget {
  let info: LocalCloudFile;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as LocalCloudFile;
  } catch {
    throw new AlarmsTargetError(
      'no running `npm start` found: start one, or give --endpoint URL or --stack NAME',
    );
  }
  if (!isRunning(info.pid)) {
    throw new AlarmsTargetError(
      `the \`npm start\` that wrote ${file} (pid ${info.pid}) is not running: start it again, or give --endpoint URL or --stack NAME`,
    );
  }
  if (!info.alarmsTable)
    throw new AlarmsTargetError(
      `the running \`npm start\` (pid ${info.pid}) has no alarms table: its resources come from a template ` +
        'in cdk.out/ made before the alarms projection; run `npm run synth` and start it again',
    );
  return {
    clientOptions: {
      region: info.region,
      endpoints: info.endpoints,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    },
    streamName: info.streamName,
    alarmsTable: info.alarmsTable,
    label: `the local cloud of npm start (pid ${info.pid})`,
  };
}

/** The local cloud's names for `prefix` on an endpoint (what `npm start`/replay provision there). */
export function prefixTarget(clientOptions: ClientOptions, prefix: string): AlarmsTarget {
  const plan = planFromConfig(DEFAULT_CONFIG, { prefix });
  return {
    clientOptions,
    streamName: plan.stream.name,
    alarmsTable: plan.tables.find((t) => t.def.id === ALARMS_TABLE.id)!.name,
    label: `prefix ${prefix} on ${clientOptions.endpoints?.kinesis}`,
  };
}

export async function stackTarget(clientOptions: ClientOptions, stackName: string): Promise<AlarmsTarget> {
  const endpoint = process.env.AWS_ENDPOINT_URL_CLOUDFORMATION ?? clientOptions.endpoints?.cloudformation;
  const cfn = new CloudFormationClient({
    ...(clientOptions.region ? { region: clientOptions.region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(clientOptions.credentials ? { credentials: clientOptions.credentials } : {}),
  });
  try {
    let outputs: Record<string, string>;
    try {
      const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
      outputs = Object.fromEntries(
        (out.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
      );
    } catch (err) {
      throw new AlarmsTargetError(`cannot describe stack ${stackName}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const streamName = outputs[ALARMS_STACK_OUTPUTS.stream];
    const alarmsTable = outputs[ALARMS_STACK_OUTPUTS.alarmsTable];
    if (!streamName || !alarmsTable) {
      const missing = [
        !streamName && ALARMS_STACK_OUTPUTS.stream,
        !alarmsTable && ALARMS_STACK_OUTPUTS.alarmsTable,
      ]
        .filter(Boolean)
        .join(', ');
      throw new AlarmsTargetError(
        `stack ${stackName} lacks the output(s) ${missing}: deploy this version of windowpane`,
      );
    }
    return { clientOptions, streamName, alarmsTable, label: `stack ${stackName}` };
  } finally {
    cfn.destroy();
  }
}
