/**
 * What both commands share: keeping the handler's own Powertools output (a JSON log line
 * and an EMF blob per batch, meant for CloudWatch) off the console, turning a failure into
 * one clear line and an exit status, and Ctrl-C / SIGTERM handling.
 */
import { ConfigError } from '../../functions/domain/config.js';
import { errorText } from '../../functions/domain/errors.js';
import type { ClientOptions } from '../../functions/lib/clients.js';
import { SHUTDOWN_GRACE_MS, stopAllEmulators } from '../cloud/emulators.js';
import { endpointTarget } from '../pipeline/target.js';
import { USAGE_EXIT_CODE, UsageError } from './flags.js';

/** Quiet defaults a user can still override from the environment. */
export function quietHandlerOutput(env: NodeJS.ProcessEnv = process.env): void {
  env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  // The SDK's notice about future Node versions says nothing about this run.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/**
 * The endpoint a command runs against (`endpointTarget`); a bad `--endpoint` or
 * AWS_ENDPOINT_URL* value is a usage error naming it (exit 2), like a bad flag.
 */
export function commandTarget(endpointFlag: string | undefined): ClientOptions | undefined {
  try {
    return endpointTarget(endpointFlag);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** Prints `err` for a user (its message, not a stack) and returns the exit status. */
export function reportFailure(command: string, err: unknown, helpHint: string): number {
  if (err instanceof UsageError) {
    process.stderr.write(`${command}: ${err.message}\n${helpHint}\n`);
    return USAGE_EXIT_CODE;
  }
  process.stderr.write(`${command}: ${errorText(err)}\n`);
  if (process.env.WINDOWPANE_DEBUG && err instanceof Error && err.stack) {
    process.stderr.write(`${err.stack}\n`);
  }
  return 1;
}

export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
export type ShutdownSignal = keyof typeof SIGNAL_EXIT_CODES;

/**
 * A signal repeated within this time is the same request. One Ctrl-C in a terminal reaches
 * every process of the foreground group, and `npm start` (npm forwards it to its script)
 * and tsx (it relays what it receives to the script's process) deliver it again within
 * milliseconds; counting those as a second, "force it" signal would skip the clean stop.
 */
export const DUPLICATE_SIGNAL_MS = 1_500;

/**
 * Installs this command's SIGINT / SIGTERM handlers (local/cloud/emulators.ts then leaves
 * the signals to us, and still SIGKILLs kinesis-local on exit as a safety net). The first
 * signal runs `shutdown`, bounded by SHUTDOWN_GRACE_MS, stops any emulators still running
 * and exits 130 / 143; a signal after DUPLICATE_SIGNAL_MS exits at once.
 */
let first: { signal: ShutdownSignal; at: number } | undefined;

/**
 * True once a signal started the shutdown: the command's main flow, which fails as the
 * emulators go away under it, must then leave the exit (and its status) to the signal.
 */
export function signalShutdownStarted(): boolean {
  return first !== undefined;
}

/** `process.exit(code)` unless a signal owns the exit. */
export function exitUnlessSignalled(code: number): void {
  if (!signalShutdownStarted()) process.exit(code);
}

export function handleShutdownSignals(shutdown: (signal: ShutdownSignal) => Promise<void>): void {
  const onSignal = (signal: ShutdownSignal) => {
    if (first) {
      if (Date.now() - first.at < DUPLICATE_SIGNAL_MS) return;
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(SIGNAL_EXIT_CODES[first.signal]);
    }
    first = { signal, at: Date.now() };
    const code = SIGNAL_EXIT_CODES[signal];
    const timer = setTimeout(() => {
      process.stderr.write(`shutdown took longer than ${SHUTDOWN_GRACE_MS} ms; exiting now\n`);
      process.exit(code);
    }, SHUTDOWN_GRACE_MS);
    timer.unref();
    void shutdown(signal)
      .catch((err: unknown) => {
        process.stderr.write(`shutdown: ${err instanceof Error ? err.message : String(err)}\n`);
      })
      .then(() => stopAllEmulators())
      .catch(() => {})
      .finally(() => process.exit(code));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}
