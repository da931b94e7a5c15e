/**
 * An emulator that runs as a child process and speaks Kinesis (kinesis-local, moto_server):
 * spawned on free ports, registered so it cannot outlive us, its output kept for error
 * messages, and started once it answers ListStreams. A lost race for a port (another
 * process took it between the probe and the bind) is retried with new ports.
 */
import type { ChildProcess } from 'node:child_process';
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { destroyClients } from '../../functions/lib/clients.js';
import { isStopping, killAndWait, registerChild } from './processes.js';
import {
  type EmulatorName,
  EmulatorStartError,
  exitReason,
  freePorts,
  OutputTail,
  probeClients,
  waitUntilAnswering,
} from './startup.js';

export interface ChildEmulatorOptions {
  emulator: EmulatorName;
  /** How many free ports `spawn` needs. */
  ports: number;
  /** Spawns the child for these ports (with piped stdio) and says where it will answer. */
  spawn(ports: number[]): { child: ChildProcess; endpoint: string };
  /** The child leads a process group to be killed as a whole (see processes.ts). */
  group?: boolean;
  timeoutMs: number;
  log?: (line: string) => void;
}

const ADDRESS_IN_USE = /EADDRINUSE|address already in use/i;
const PORT_ATTEMPTS = 3;

export async function startChildEmulator(
  opts: ChildEmulatorOptions,
): Promise<{ child: ChildProcess; endpoint: string; pid: number }> {
  for (let attempt = 1; ; attempt++) {
    const { child, endpoint } = opts.spawn(await freePorts(opts.ports));
    registerChild(child, { group: opts.group ?? false });
    const tail = new OutputTail(opts.log && ((line) => opts.log?.(`[${opts.emulator}] ${line}`)));
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
        opts.emulator,
        'ListStreams',
        (abortSignal) => clients.kinesis.send(new ListStreamsCommand({}), { abortSignal }),
        {
          timeoutMs: opts.timeoutMs,
          exited: () => exitReason(child, () => spawnError),
          tail: () => tail.snapshot(),
        },
      );
    } catch (err) {
      await killAndWait(child);
      if (tail.snapshot().some((line) => ADDRESS_IN_USE.test(line)) && attempt < PORT_ATTEMPTS) continue;
      throw err;
    } finally {
      destroyClients(clients);
    }
    if (child.pid === undefined) throw new EmulatorStartError(opts.emulator, 'spawned without a pid');
    reportUnexpectedExit(opts.emulator, child, tail);
    return { child, endpoint, pid: child.pid };
  }
}

/**
 * An emulator that dies while in use leaves its callers with "connection refused" and no
 * why: say on stderr that it exited, how, and what it printed last.
 */
function reportUnexpectedExit(emulator: EmulatorName, child: ChildProcess, tail: OutputTail): void {
  const pid = child.pid;
  child.once('exit', (code, signal) => {
    if (isStopping(child)) return;
    const last = tail.snapshot().slice(-10);
    process.stderr.write(
      `windowpane: ${emulator} (pid ${pid}) exited unexpectedly (code ${code}, signal ${signal})` +
        (last.length > 0 ? `; its last output:\n${last.map((l) => `  ${l}`).join('\n')}\n` : '\n'),
    );
  });
}
