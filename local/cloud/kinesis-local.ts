/**
 * kinesis-local (Kinesis) as a child process: `node main.js` in its package folder, on
 * two free ports, with the parent watchdog preloaded so it dies with us whatever happens.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { killAndWait, registerChild } from './processes.js';
import {
  destroyClients,
  EmulatorStartError,
  exitReason,
  freePorts,
  OutputTail,
  probeClients,
  type RunningService,
  waitUntilAnswering,
} from './startup.js';

export interface KinesisLocalOptions {
  /** kinesis-local's SHARD_LIMIT. */
  shardLimit: number;
  /** kinesis-local's own LOG_LEVEL; its output lines are passed to `log`. */
  logLevel: 'ERROR' | 'WARN' | 'INFO' | 'DEBUG';
  startTimeoutMs: number;
  region: string;
  accountId: string;
  log?: (line: string) => void;
}

const KINESIS_LOCAL_DIR = path.dirname(createRequire(import.meta.url).resolve('kinesis-local/package.json'));
const WATCHDOG = fileURLToPath(new URL('./parent-watchdog.cjs', import.meta.url));

// Every `*_DURATION` kinesis-local reads (server README "Service Configuration", checked
// against the names in main.js): the simulated CREATING/UPDATING delays, all 500 ms by default.
const KINESIS_DURATION_VARS = [
  'CREATE_STREAM_DURATION',
  'DELETE_STREAM_DURATION',
  'REGISTER_STREAM_CONSUMER_DURATION',
  'DEREGISTER_STREAM_CONSUMER_DURATION',
  'START_STREAM_ENCRYPTION_DURATION',
  'STOP_STREAM_ENCRYPTION_DURATION',
  'MERGE_SHARDS_DURATION',
  'SPLIT_SHARD_DURATION',
  'UPDATE_SHARD_COUNT_DURATION',
  'UPDATE_STREAM_MODE_DURATION',
] as const;

export async function startKinesisLocal(
  opts: KinesisLocalOptions,
): Promise<RunningService & { pid: number }> {
  // The ports are free when probed but could be taken before the child binds them:
  // retry with new ports when that race is lost.
  for (let attempt = 1; ; attempt++) {
    const [plainPort, tlsPort] = (await freePorts(2)) as [number, number];
    const endpoint = `http://127.0.0.1:${plainPort}`;
    const tail = new OutputTail(opts.log && ((line) => opts.log?.(`[kinesis-local] ${line}`)));
    const env: NodeJS.ProcessEnv = {
      // A minimal environment: the parent's NODE_OPTIONS (a tsx or vitest loader) and AWS_*
      // settings must not leak into the emulator.
      PATH: process.env.PATH,
      KINESIS_MOCK_PLAIN_PORT: String(plainPort),
      KINESIS_MOCK_TLS_PORT: String(tlsPort),
      SHARD_LIMIT: String(opts.shardLimit),
      AWS_REGION: opts.region,
      AWS_ACCOUNT_ID: opts.accountId,
      LOG_LEVEL: opts.logLevel,
      SHOULD_PERSIST_DATA: 'false',
      LOAD_DATA_IF_EXISTS: 'false',
      WINDOWPANE_PARENT_PID: String(process.pid),
    };
    for (const name of KINESIS_DURATION_VARS) env[name] = '0ms';

    const child = spawn(process.execPath, ['--require', WATCHDOG, 'main.js'], {
      cwd: KINESIS_LOCAL_DIR,
      env,
      // stdin is the watchdog's lifeline: only this process holds its write end.
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a terminal's Ctrl-C goes to the whole foreground group and
      // would stop kinesis-local while the pipeline still needs it to shut down cleanly
      // (in-flight PutRecords would hang). Its lifetime is ours: exit hook and watchdog.
      detached: true,
    });
    registerChild(child);
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });
    child.stdout?.on('data', (chunk: Buffer) => tail.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => tail.push(chunk));
    // Writing to the pipe is never needed; ignore EPIPE once the child is gone.
    child.stdin?.on('error', () => {});

    const clients = probeClients({ kinesis: endpoint });
    try {
      await waitUntilAnswering(
        'kinesis-local',
        'ListStreams',
        (abortSignal) => clients.kinesis.send(new ListStreamsCommand({}), { abortSignal }),
        {
          timeoutMs: opts.startTimeoutMs,
          exited: () => exitReason(child, () => spawnError),
          tail: () => tail.snapshot(),
        },
      );
    } catch (err) {
      await killAndWait(child);
      const addressInUse = tail.snapshot().some((line) => /EADDRINUSE|address already in use/i.test(line));
      if (addressInUse && attempt < 3) continue;
      throw err;
    } finally {
      destroyClients(clients);
    }
    if (child.pid === undefined) throw new EmulatorStartError('kinesis-local', 'spawned without a pid');
    return { endpoint, pid: child.pid, stop: () => killAndWait(child) };
  }
}
