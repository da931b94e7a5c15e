/**
 * moto_server (moto 5 with its server extras) as a second backend nobody here wrote: one
 * endpoint for Kinesis, DynamoDB, SNS, SQS, S3, IAM and CloudFormation, on a free
 * 127.0.0.1 port. It runs under supervise.cjs, which carries the parent watchdog, so it
 * dies with this process however this process ends (processes.ts).
 *
 *   const moto = await startMotoServer();
 *   ...clients with localClientOptions(motoEndpoints(moto.endpoint))...
 *   await moto.stop();
 *
 * `findMotoServer()` tells whether it is installed; where it is not, `MOTO_INSTALL_HINT`
 * says how to get it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startChildEmulator } from './child-emulator.js';
import type { EmulatorEndpoints } from './emulators.js';
import { findMotoServer, MOTO_INSTALL_HINT } from './moto-locate.js';
import { expectExit, isRunning, killAndWait, trackRunning } from './processes.js';
import { EmulatorStartError, type RunningService } from './startup.js';

export { findMotoServer, MOTO_INSTALL_HINT };

/** The account moto answers as unless told otherwise (MOTO_ACCOUNT_ID). */
export const MOTO_ACCOUNT_ID = '123456789012';

const SUPERVISOR = fileURLToPath(new URL('./supervise.cjs', import.meta.url));
const DEFAULT_START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 2_000;

export interface MotoServer extends RunningService {
  /** Pid of the supervisor (the leader of the process group moto_server runs in). */
  pid: number;
}

export interface StartMotoOptions {
  /** The moto_server executable (default: found on PATH). */
  executable?: string;
  startTimeoutMs?: number;
  /** moto_server's output lines (its request log). */
  log?: (line: string) => void;
}

/** Every service of the local cloud on the one moto endpoint. */
export function motoEndpoints(endpoint: string): EmulatorEndpoints {
  return { kinesis: endpoint, dynamodb: endpoint, sns: endpoint, sqs: endpoint, s3: endpoint };
}

/**
 * SIGTERM to the supervisor, which SIGKILLs moto_server, reaps it and exits (no zombie is
 * left to a container's init); the whole group is SIGKILLed if that takes too long.
 */
async function stopSupervised(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  const exited = once(child, 'exit');
  expectExit(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => void killAndWait(child), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    // A tsx or vitest loader must not reach the supervisor, nor AWS_* settings moto.
    if (name === 'NODE_OPTIONS' || name.startsWith('AWS_')) continue;
    env[name] = value;
  }
  env.WINDOWPANE_PARENT_PID = String(process.pid);
  env.WINDOWPANE_WATCHDOG_GROUP = '1';
  return env;
}

/** Starts moto_server on a free port; resolves once it answers ListStreams. */
export async function startMotoServer(opts: StartMotoOptions = {}): Promise<MotoServer> {
  const executable = opts.executable ?? findMotoServer();
  if (!executable) {
    throw new EmulatorStartError('moto_server', `not found on PATH; install it with ${MOTO_INSTALL_HINT}`);
  }
  const { child, endpoint, pid } = await startChildEmulator({
    emulator: 'moto_server',
    ports: 1,
    group: true,
    timeoutMs: opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    ...(opts.log ? { log: opts.log } : {}),
    spawn: ([port]) => ({
      child: spawn(process.execPath, [SUPERVISOR, executable, '-H', '127.0.0.1', '-p', String(port)], {
        env: childEnv(),
        // stdin is the watchdog's lifeline: only this process holds its write end.
        stdio: ['pipe', 'pipe', 'pipe'],
        // Its own process group, which the watchdog and the exit hook kill as a whole.
        detached: true,
      }),
      endpoint: `http://127.0.0.1:${port}`,
    }),
  });
  let stopping: Promise<void> | undefined;
  let forget: () => void = () => {};
  const server: MotoServer = {
    endpoint,
    pid,
    stop() {
      stopping ??= stopSupervised(child).finally(() => forget());
      return stopping;
    },
  };
  forget = trackRunning(server);
  return server;
}
