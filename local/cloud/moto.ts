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
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import type { EmulatorEndpoints } from './emulators.js';
import { findMotoServer, MOTO_INSTALL_HINT } from './moto-locate.js';
import { isRunning, killAndWait, registerChild, trackRunning } from './processes.js';
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
  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  for (let attempt = 1; ; attempt++) {
    const [port] = (await freePorts(1)) as [number];
    const endpoint = `http://127.0.0.1:${port}`;
    const tail = new OutputTail(opts.log && ((line) => opts.log?.(`[moto_server] ${line}`)));
    const child: ChildProcess = spawn(
      process.execPath,
      [SUPERVISOR, executable, '-H', '127.0.0.1', '-p', String(port)],
      {
        env: childEnv(),
        // stdin is the watchdog's lifeline: only this process holds its write end.
        stdio: ['pipe', 'pipe', 'pipe'],
        // Its own process group, which the watchdog and the exit hook kill as a whole.
        detached: true,
      },
    );
    registerChild(child, { group: true });
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });
    child.stdout?.on('data', (chunk: Buffer) => tail.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => tail.push(chunk));
    child.stdin?.on('error', () => {});

    const clients = probeClients({ kinesis: endpoint });
    try {
      await waitUntilAnswering(
        'moto_server',
        'ListStreams',
        (abortSignal) => clients.kinesis.send(new ListStreamsCommand({}), { abortSignal }),
        { timeoutMs, exited: () => exitReason(child, () => spawnError), tail: () => tail.snapshot() },
      );
    } catch (err) {
      await killAndWait(child);
      const addressInUse = tail.snapshot().some((line) => /address already in use/i.test(line));
      if (addressInUse && attempt < 3) continue;
      throw err;
    } finally {
      destroyClients(clients);
    }
    if (child.pid === undefined) throw new EmulatorStartError('moto_server', 'spawned without a pid');
    let stopping: Promise<void> | undefined;
    let forget: () => void = () => {};
    const server: MotoServer = {
      endpoint,
      pid: child.pid,
      stop() {
        stopping ??= stopSupervised(child).finally(() => forget());
        return stopping;
      },
    };
    forget = trackRunning(server);
    return server;
  }
}
