/**
 * Starts and stops the embedded emulators behind the local cloud, on ports the OS picks:
 *
 * - kinesis-local (Kinesis) as a child process (kinesis-local.ts);
 * - dynalite (DynamoDB) in-process, in memory (dynalite.ts);
 * - fauxqs (SNS, SQS, S3) in-process (fauxqs.ts).
 *
 * `startEmulators()` resolves once each emulator has answered a real SDK call, and fails
 * with an `EmulatorStartError` naming the emulator (with kinesis-local's output tail).
 * No child outlives this process: see processes.ts.
 */
import { startDynalite } from './dynalite.js';
import { startFauxqs } from './fauxqs.js';
import { startKinesisLocal } from './kinesis-local.js';
import { installProcessHandlers, trackRunning } from './processes.js';
import type { RunningService } from './startup.js';

export {
  isProcessAlive,
  onShutdown,
  registerChild,
  SHUTDOWN_GRACE_MS,
  stopAllEmulators,
} from './processes.js';
export { EmulatorStartError } from './startup.js';

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

const REGION = 'us-east-1';
const ACCOUNT_ID = '000000000000';
const DEFAULT_SHARD_LIMIT = 1_000;
const DEFAULT_START_TIMEOUT_MS = 30_000;

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
        shardLimit: opts.kinesisShardLimit ?? DEFAULT_SHARD_LIMIT,
        logLevel: opts.kinesisLogLevel ?? 'ERROR',
        startTimeoutMs: timeoutMs,
        region: REGION,
        accountId: ACCOUNT_ID,
        ...(log ? { log } : {}),
      }),
    ),
    timed('dynalite', () => startDynalite(timeoutMs)),
    timed('fauxqs', () => startFauxqs(timeoutMs, REGION)),
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
  let forget: () => void = () => {};
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
        forget();
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return stopping;
    },
  };
  forget = trackRunning(emulators);
  log?.(`emulators ready in ${Date.now() - started} ms: ${JSON.stringify(emulators.endpoints)}`);
  return emulators;
}
