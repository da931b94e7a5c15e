/**
 * kinesis-local (Kinesis) as a child process: `node main.js` in its package folder, on
 * two free ports, with the parent watchdog preloaded so it dies with us whatever happens.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChildEmulator } from './child-emulator.js';
import { killAndWait } from './processes.js';
import type { RunningService } from './startup.js';

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
  const { child, endpoint, pid } = await startChildEmulator({
    emulator: 'kinesis-local',
    ports: 2,
    timeoutMs: opts.startTimeoutMs,
    ...(opts.log ? { log: opts.log } : {}),
    spawn: ([plainPort, tlsPort]) => {
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
      return { child, endpoint: `http://127.0.0.1:${plainPort}` };
    },
  });
  return { endpoint, pid, stop: () => killAndWait(child) };
}
