/**
 * What starting any emulator needs: free ports, the tail of a child's output for error
 * messages, and waiting until the emulator answers a real SDK call (`EmulatorStartError`
 * names the emulator when it does not).
 */
import type { ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { WindowpaneError } from '../../functions/domain/errors.js';
import {
  type AwsClients,
  type ClientOptions,
  createClients,
  destroyClients,
  localClientOptions,
} from '../../functions/lib/clients.js';
import { sleep } from '../../functions/lib/retry.js';
import { isRunning } from './processes.js';

export type EmulatorName = 'kinesis-local' | 'dynalite' | 'fauxqs' | 'moto_server';

export class EmulatorStartError extends WindowpaneError {
  constructor(
    readonly emulator: EmulatorName,
    message: string,
    /** Last lines a child process wrote (empty for the in-process emulators). */
    readonly outputTail: string[] = [],
  ) {
    super(
      `${emulator}: ${message}` +
        (outputTail.length > 0 ? `\n--- ${emulator} output (tail) ---\n${outputTail.join('\n')}` : ''),
    );
  }
}

/** One started emulator: where it answers, and how to stop it (idempotent). */
export interface RunningService {
  endpoint: string;
  stop(): Promise<void>;
}

const OUTPUT_TAIL_LINES = 40;

/** Ports the OS reports free right now, distinct from each other. */
export async function freePorts(count: number): Promise<number[]> {
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

/** Listens on a free 127.0.0.1 port; resolves with the port. */
export function listen(server: Server): Promise<number> {
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

/** Keeps the last lines of a stream and passes each line on. */
export class OutputTail {
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
export async function waitUntilAnswering(
  emulator: EmulatorName,
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

/**
 * An in-process emulator listening at `endpoint`: waits until `probe` (with probe clients
 * for `endpoints`) succeeds, and stops the server when it never does.
 */
export async function answeringOrStopped(
  service: RunningService,
  emulator: EmulatorName,
  call: string,
  endpoints: NonNullable<ClientOptions['endpoints']>,
  probe: (clients: AwsClients, signal: AbortSignal) => Promise<unknown>,
  timeoutMs: number,
): Promise<RunningService> {
  const clients = probeClients(endpoints);
  try {
    await waitUntilAnswering(emulator, call, (signal) => probe(clients, signal), { timeoutMs });
  } catch (err) {
    await service.stop();
    throw err;
  } finally {
    destroyClients(clients);
  }
  return service;
}

/** Clients for start-up probes: one attempt per call, so a probe fails fast and is repeated. */
export function probeClients(endpoints: NonNullable<ClientOptions['endpoints']>): AwsClients {
  return createClients({ ...localClientOptions(endpoints), maxAttempts: 1 });
}

/** `exited()` of a child for `waitUntilAnswering`: why it is gone, or undefined while it runs. */
export function exitReason(child: ChildProcess, spawnError: () => Error | undefined): string | undefined {
  const err = spawnError();
  if (err) return `spawn failed: ${err.message}`;
  return isRunning(child) ? undefined : `code ${child.exitCode}, signal ${child.signalCode}`;
}
