/**
 * Process hygiene of the local cloud: no emulator process may outlive the process that
 * started it.
 *
 * - Every child is registered (`registerChild`; kinesis-local and moto_server always are).
 *   On `exit`, which Node also emits after an uncaught exception or unhandled rejection,
 *   registered children are SIGKILLed synchronously, with their process group when they
 *   lead one (a supervisor and what it runs die together).
 * - SIGINT / SIGTERM: if nothing else listens for the signal, the handler installed here
 *   runs the `onShutdown` hooks (newest first, bounded by SHUTDOWN_GRACE_MS), stops every
 *   running service set (`trackRunning`) and exits with 130 / 143; a second signal forces
 *   the exit. A host that installs its own handler for the signal owns the shutdown
 *   instead: the handler here then does nothing, and the host calls `stop()` (the `exit`
 *   hook remains the safety net). The CLI should prefer `onShutdown(fn)` for its graceful steps.
 * - If the parent dies without running any handler (SIGKILL, OOM), the children kill
 *   themselves: `parent-watchdog.cjs` is preloaded into kinesis-local, and moto_server runs
 *   under `supervise.cjs`, which carries the same watchdog.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';

/** How long `onShutdown` hooks and `stop()` may take after SIGINT/SIGTERM before we force the exit. */
export const SHUTDOWN_GRACE_MS = 10_000;

interface Stoppable {
  stop(): Promise<void>;
}

interface Registered {
  child: ChildProcess;
  /** The child leads its own process group (spawned `detached`): kill the group. */
  group: boolean;
}

const children = new Map<ChildProcess, Registered>();
/** Children this process decided to stop: their exit is expected. */
const stopping = new WeakSet<ChildProcess>();
const running = new Set<Stoppable>();
const shutdownHooks: Array<() => unknown> = [];
let handlersInstalled = false;
let shuttingDown = false;

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function kill(entry: Registered): void {
  const { child, group } = entry;
  if (!isRunning(child)) return;
  stopping.add(child);
  if (group && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
      return;
    } catch {
      // The group is gone already: fall back to the child itself.
    }
  }
  child.kill('SIGKILL');
}

function killChildrenNow(): void {
  for (const entry of children.values()) kill(entry);
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

export function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killChildrenNow);
  process.on('SIGINT', signalHandlers.SIGINT);
  process.on('SIGTERM', signalHandlers.SIGTERM);
}

/**
 * Registers a child process to be SIGKILLed on exit, SIGINT/SIGTERM and uncaught errors
 * (with its process group when `group`: it was spawned `detached`). It leaves the registry
 * by itself when it exits.
 */
export function registerChild(child: ChildProcess, opts: { group?: boolean } = {}): void {
  installProcessHandlers();
  children.set(child, { child, group: opts.group ?? false });
  child.once('exit', () => children.delete(child));
}

/** Says this process is about to stop `child` another way than `killAndWait` (a graceful signal). */
export function expectExit(child: ChildProcess): void {
  stopping.add(child);
}

/** True once this process has set out to stop `child` (its exit is no surprise). */
export function isStopping(child: ChildProcess): boolean {
  return stopping.has(child) || shuttingDown;
}

/** SIGKILLs a registered (or any) child, its group too when registered so, and awaits its exit. */
export async function killAndWait(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  const exited = once(child, 'exit');
  kill(children.get(child) ?? { child, group: false });
  await exited;
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

/** Makes a started service set known to the signal handling; returns the function that forgets it. */
export function trackRunning(service: Stoppable): () => void {
  installProcessHandlers();
  running.add(service);
  return () => {
    running.delete(service);
  };
}

/** Stops every emulator set (embedded emulators, moto_server) started by this process. */
export async function stopAllEmulators(): Promise<void> {
  const results = await Promise.allSettled([...running].map((e) => e.stop()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
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
