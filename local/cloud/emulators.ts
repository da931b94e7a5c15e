/**
 * Starts and stops the embedded emulators behind the local cloud, on ports the OS picks:
 *
 * - kinesis-local (Kinesis) as a child process: `node main.js` in its package folder;
 * - dynalite (DynamoDB) in-process, in memory;
 * - fauxqs (SNS, SQS, S3) in-process.
 *
 * `startEmulators()` resolves once each emulator has answered a real SDK call, and fails
 * with an `EmulatorStartError` naming the emulator (with kinesis-local's output tail).
 *
 * Process hygiene. No kinesis-local may outlive the process that started it:
 * - Every child is registered (`registerChild`; kinesis-local always is). On `exit`, which
 *   Node also emits after an uncaught exception or unhandled rejection, registered children
 *   are SIGKILLed synchronously.
 * - SIGINT / SIGTERM: if nothing else listens for the signal, the handler installed here
 *   runs the `onShutdown` hooks (newest first, bounded by SHUTDOWN_GRACE_MS), stops every
 *   running emulator set and exits with 130 / 143; a second signal forces the exit. A host
 *   that installs its own handler for the signal owns the shutdown instead: the handler
 *   here then does nothing, and the host calls `stop()` (the `exit` hook remains the
 *   safety net). The CLI should prefer `onShutdown(fn)` for its graceful steps.
 * - If the parent dies without running any handler (SIGKILL, OOM), kinesis-local kills
 *   itself: `parent-watchdog.cjs` is preloaded into it and watches its stdin pipe (closed
 *   by the kernel when the parent dies) and polls the parent pid.
 *
 * SQS queue URLs. fauxqs names queues `http://sqs.<region>.localhost:<port>/<account>/<name>`
 * and only accepts those exact strings, but `*.localhost` does not resolve here and the
 * SDK, given the endpoint through `AWS_ENDPOINT_URL_SQS`, sends requests to the queue
 * URL's host. So the SQS API is served with the URLs rewritten to the endpoint we know,
 * `<sqs endpoint>/<account>/<name>`, in both directions (see `serveFauxqs`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { ListTopicsCommand } from '@aws-sdk/client-sns';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import {
  type AwsClients,
  type ClientOptions,
  createClients,
  localClientOptions,
} from '../../functions/lib/clients.js';

export interface EmulatorEndpoints {
  kinesis: string;
  dynamodb: string;
  sns: string;
  sqs: string;
  s3: string;
}

export interface Emulators {
  endpoints: EmulatorEndpoints;
  /** Pid of the kinesis-local child (for diagnostics and the hygiene tests). */
  kinesisPid: number;
  /** SIGKILLs kinesis-local (awaiting its exit) and closes the in-process servers; idempotent. */
  stop(): Promise<void>;
}

export interface StartEmulatorsOptions {
  /** kinesis-local's SHARD_LIMIT (its default, 50, is too low for parallel tests). */
  kinesisShardLimit?: number;
  /** kinesis-local's own LOG_LEVEL; its output lines are passed to `log`. */
  kinesisLogLevel?: 'ERROR' | 'WARN' | 'INFO' | 'DEBUG';
  /** Upper bound for each emulator to answer its first SDK call. */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export class EmulatorStartError extends Error {
  constructor(
    readonly emulator: 'kinesis-local' | 'dynalite' | 'fauxqs',
    message: string,
    /** Last lines kinesis-local wrote (empty for the in-process emulators). */
    readonly outputTail: string[] = [],
  ) {
    super(
      `${emulator}: ${message}` +
        (outputTail.length > 0 ? `\n--- ${emulator} output (tail) ---\n${outputTail.join('\n')}` : ''),
    );
    this.name = 'EmulatorStartError';
  }
}

const REGION = 'us-east-1';
const ACCOUNT_ID = '000000000000';
const DEFAULT_SHARD_LIMIT = 1_000;
const DEFAULT_START_TIMEOUT_MS = 30_000;
/** How long `onShutdown` hooks and `stop()` may take after SIGINT/SIGTERM before we force the exit. */
export const SHUTDOWN_GRACE_MS = 10_000;
const OUTPUT_TAIL_LINES = 40;

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

// ---------------------------------------------------------------------------------------
// Process registry and exit/signal handling
// ---------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
const runningEmulators = new Set<Emulators>();
const shutdownHooks: Array<() => unknown> = [];
let handlersInstalled = false;
let shuttingDown = false;

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function killChildrenNow(): void {
  for (const child of children) {
    if (isRunning(child)) child.kill('SIGKILL');
  }
}

const signalHandlers = {
  SIGINT: () => handleSignal('SIGINT', 130),
  SIGTERM: () => handleSignal('SIGTERM', 143),
};

function handleSignal(signal: keyof typeof signalHandlers, exitCode: number): void {
  // Another listener means the host application handles this signal (and its exit).
  const others = process.listeners(signal).filter((l) => l !== signalHandlers[signal]);
  if (others.length > 0) return;
  if (shuttingDown) {
    killChildrenNow();
    process.exit(exitCode);
  }
  shuttingDown = true;
  void runShutdown().finally(() => process.exit(exitCode));
}

async function runShutdown(): Promise<void> {
  const work = (async () => {
    for (const hook of [...shutdownHooks].reverse()) {
      try {
        await hook();
      } catch (err) {
        // Shutdown goes on (the emulators must still stop), but the failure is shown.
        console.error('windowpane: shutdown hook failed:', err);
      }
    }
    await stopAllEmulators();
  })();
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      console.error(`windowpane: shutdown took longer than ${SHUTDOWN_GRACE_MS} ms, forcing exit`);
      resolve();
    }, SHUTDOWN_GRACE_MS);
  });
  await Promise.race([
    work.catch((err) => console.error('windowpane: stopping emulators failed:', err)),
    grace,
  ]);
  clearTimeout(timer);
  killChildrenNow();
}

function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killChildrenNow);
  process.on('SIGINT', signalHandlers.SIGINT);
  process.on('SIGTERM', signalHandlers.SIGTERM);
}

/**
 * Registers a child process to be SIGKILLed on exit, SIGINT/SIGTERM and uncaught errors.
 * It leaves the registry by itself when it exits.
 */
export function registerChild(child: ChildProcess): void {
  installProcessHandlers();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/**
 * Runs `hook` on SIGINT/SIGTERM before the emulators stop (when no other signal handler is
 * installed): the place for a CLI's graceful steps. Returns a function that unregisters it.
 */
export function onShutdown(hook: () => unknown): () => void {
  installProcessHandlers();
  shutdownHooks.push(hook);
  return () => {
    const i = shutdownHooks.indexOf(hook);
    if (i >= 0) shutdownHooks.splice(i, 1);
  };
}

/** Stops every emulator set started by this process. */
export async function stopAllEmulators(): Promise<void> {
  const results = await Promise.allSettled([...runningEmulators].map((e) => e.stop()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Ports the OS reports free right now, distinct from each other. */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', () => {
              const address = server.address();
              if (address && typeof address === 'object') resolve(address.port);
              else reject(new Error('no port assigned'));
            });
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** Keeps the last lines of a stream and passes each line on. */
class OutputTail {
  readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly onLine?: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    const parts = (this.partial + chunk.toString()).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line);
  }

  snapshot(): string[] {
    return this.partial ? [...this.lines, this.partial] : [...this.lines];
  }

  private add(line: string): void {
    if (line.trim() === '') return;
    this.lines.push(line);
    if (this.lines.length > OUTPUT_TAIL_LINES) this.lines.shift();
    this.onLine?.(line);
  }
}

/**
 * Calls `probe` until it succeeds; fails after `timeoutMs`, or at once when `exited()`
 * reports that the process behind the emulator is gone.
 */
async function waitUntilAnswering(
  emulator: EmulatorStartError['emulator'],
  call: string,
  probe: (signal: AbortSignal) => Promise<unknown>,
  opts: { timeoutMs: number; exited?: () => string | undefined; tail?: () => string[] },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const exit = opts.exited?.();
    if (exit) {
      throw new EmulatorStartError(emulator, `exited (${exit}) before it answered ${call}`, opts.tail?.());
    }
    try {
      // A server that accepts but never answers must not hang the start.
      await probe(AbortSignal.timeout(Math.max(250, Math.min(5_000, deadline - Date.now()))));
      return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const reason =
        lastError instanceof Error ? `${lastError.name}: ${lastError.message}` : String(lastError);
      throw new EmulatorStartError(
        emulator,
        `did not answer ${call} within ${opts.timeoutMs} ms (last error: ${reason})`,
        opts.tail?.(),
      );
    }
    await sleep(100);
  }
}

function probeClients(endpoints: NonNullable<ClientOptions['endpoints']>): AwsClients {
  return createClients({ ...localClientOptions(endpoints), maxAttempts: 1 });
}

function destroyClients(clients: AwsClients): void {
  clients.kinesis.destroy();
  clients.dynamodb.destroy();
  clients.sns.destroy();
  clients.sqs.destroy();
}

// ---------------------------------------------------------------------------------------
// kinesis-local
// ---------------------------------------------------------------------------------------

interface RunningService {
  endpoint: string;
  stop(): Promise<void>;
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

async function startKinesisLocal(
  opts: Required<Pick<StartEmulatorsOptions, 'kinesisShardLimit' | 'kinesisLogLevel' | 'startTimeoutMs'>> &
    Pick<StartEmulatorsOptions, 'log'>,
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
      SHARD_LIMIT: String(opts.kinesisShardLimit),
      AWS_REGION: REGION,
      AWS_ACCOUNT_ID: ACCOUNT_ID,
      LOG_LEVEL: opts.kinesisLogLevel,
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
          exited: () =>
            spawnError
              ? `spawn failed: ${spawnError.message}`
              : isRunning(child)
                ? undefined
                : `code ${child.exitCode}, signal ${child.signalCode}`,
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

// ---------------------------------------------------------------------------------------
// dynalite
// ---------------------------------------------------------------------------------------

interface DynaliteOptions {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}
type Dynalite = (options: DynaliteOptions) => Server;

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      if (address && typeof address === 'object') resolve(address.port);
      else reject(new Error('no port assigned'));
    });
  });
}

async function startDynalite(timeoutMs: number): Promise<RunningService> {
  // dynalite is CommonJS without type declarations.
  const dynalite = createRequire(import.meta.url)('dynalite') as Dynalite;
  // No `path`: an in-memory store. Zero table delays: tables are ACTIVE at once.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  let port: number;
  try {
    port = await listen(server);
  } catch (err) {
    throw new EmulatorStartError('dynalite', `could not listen: ${(err as Error).message}`);
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!server.listening) return;
    // Idle keep-alive sockets of SDK clients would otherwise hold close() open.
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  };
  const clients = probeClients({ dynamodb: endpoint });
  try {
    await waitUntilAnswering(
      'dynalite',
      'ListTables',
      (abortSignal) => clients.dynamodb.send(new ListTablesCommand({}), { abortSignal }),
      { timeoutMs },
    );
  } catch (err) {
    await stop();
    throw err;
  } finally {
    destroyClients(clients);
  }
  return { endpoint, stop };
}

// ---------------------------------------------------------------------------------------
// fauxqs
// ---------------------------------------------------------------------------------------

const SQS_TARGET_PREFIX = 'AmazonSQS.';
/** SQS operations whose responses carry queue URLs. */
const QUEUE_URL_RESPONSES = new Set(['CreateQueue', 'GetQueueUrl', 'ListQueues']);

/**
 * fauxqs built with `buildApp` (its public API; `startFauxqs` is the same plus helpers we do
 * not use), with two hooks that translate queue URLs between fauxqs's own form and
 * `<endpoint>/<account>/<name>`. The table is learnt from responses, so a URL fauxqs never
 * handed out passes through unchanged and fails as it would on AWS.
 */
async function serveFauxqs(timeoutMs: number): Promise<RunningService> {
  const app = buildApp({ logger: false, defaultRegion: REGION });
  const toFauxqs = new Map<string, string>();
  let endpoint = '';

  const outward = (url: string) => {
    const local = `${endpoint}${new URL(url).pathname}`;
    toFauxqs.set(local, url);
    return local;
  };

  app.addHook('preHandler', async (request) => {
    const target = request.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith(SQS_TARGET_PREFIX)) return;
    const body = request.body as { QueueUrl?: unknown } | null;
    if (body && typeof body.QueueUrl === 'string') {
      body.QueueUrl = toFauxqs.get(body.QueueUrl) ?? body.QueueUrl;
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const target = request.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith(SQS_TARGET_PREFIX)) return payload;
    if (!QUEUE_URL_RESPONSES.has(target.slice(SQS_TARGET_PREFIX.length))) return payload;
    if (reply.statusCode !== 200 || typeof payload !== 'string') return payload;
    const body = JSON.parse(payload) as { QueueUrl?: string; QueueUrls?: string[] };
    if (body.QueueUrl) body.QueueUrl = outward(body.QueueUrl);
    if (body.QueueUrls) body.QueueUrls = body.QueueUrls.map(outward);
    return JSON.stringify(body);
  });

  let address: string;
  try {
    address = await app.listen({ port: 0, host: '127.0.0.1' });
  } catch (err) {
    throw new EmulatorStartError('fauxqs', `could not listen: ${(err as Error).message}`);
  }
  endpoint = `http://127.0.0.1:${new URL(address).port}`;
  let closed = false;
  const stop = async () => {
    if (closed) return;
    closed = true;
    await app.close();
  };
  const clients = probeClients({ sns: endpoint, sqs: endpoint });
  try {
    await waitUntilAnswering(
      'fauxqs',
      'ListTopics and ListQueues',
      async (abortSignal) => {
        await clients.sns.send(new ListTopicsCommand({}), { abortSignal });
        await clients.sqs.send(new ListQueuesCommand({}), { abortSignal });
      },
      { timeoutMs },
    );
  } catch (err) {
    await stop();
    throw err;
  } finally {
    destroyClients(clients);
  }
  return { endpoint, stop };
}

// ---------------------------------------------------------------------------------------
// All together
// ---------------------------------------------------------------------------------------

/** Starts kinesis-local, dynalite and fauxqs on free ports; resolves when all three answer. */
export async function startEmulators(opts: StartEmulatorsOptions = {}): Promise<Emulators> {
  installProcessHandlers();
  const log = opts.log;
  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const started = Date.now();
  const timed = async <T>(name: string, start: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const result = await start();
    log?.(`${name} ready in ${Date.now() - t0} ms`);
    return result;
  };

  const [kinesis, dynamodb, fauxqs] = await Promise.allSettled([
    timed('kinesis-local', () =>
      startKinesisLocal({
        kinesisShardLimit: opts.kinesisShardLimit ?? DEFAULT_SHARD_LIMIT,
        kinesisLogLevel: opts.kinesisLogLevel ?? 'ERROR',
        startTimeoutMs: timeoutMs,
        log,
      }),
    ),
    timed('dynalite', () => startDynalite(timeoutMs)),
    timed('fauxqs', () => serveFauxqs(timeoutMs)),
  ]);
  if (kinesis.status === 'rejected' || dynamodb.status === 'rejected' || fauxqs.status === 'rejected') {
    // Leave nothing behind: stop what did start, then report the first failure.
    const ok = [kinesis, dynamodb, fauxqs].filter(
      (r): r is PromiseFulfilledResult<RunningService> => r.status === 'fulfilled',
    );
    await Promise.allSettled(ok.map((r) => r.value.stop()));
    const failed = [kinesis, dynamodb, fauxqs].find(
      (r): r is PromiseRejectedResult => r.status === 'rejected',
    );
    throw failed?.reason;
  }

  const services = [kinesis.value, dynamodb.value, fauxqs.value];
  let stopping: Promise<void> | undefined;
  const emulators: Emulators = {
    endpoints: {
      kinesis: kinesis.value.endpoint,
      dynamodb: dynamodb.value.endpoint,
      sns: fauxqs.value.endpoint,
      sqs: fauxqs.value.endpoint,
      s3: fauxqs.value.endpoint,
    },
    kinesisPid: kinesis.value.pid,
    stop() {
      stopping ??= (async () => {
        const results = await Promise.allSettled(services.map((s) => s.stop()));
        runningEmulators.delete(emulators);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return stopping;
    },
  };
  runningEmulators.add(emulators);
  log?.(`emulators ready in ${Date.now() - started} ms: ${JSON.stringify(emulators.endpoints)}`);
  return emulators;
}

/** True while `pid` names a live process (a zombie, exited but not yet reaped, counts as dead). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may contain spaces, so split after ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    // Gone between the two checks, or no procfs (not Linux): then trust kill(0).
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync('/proc/self/stat');
  }
}
