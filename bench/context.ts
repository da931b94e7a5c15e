/**
 * What every suite gets from the runner: the mode, a progress line writer (stderr), the
 * embedded emulators (started once, on first use, and stopped by the runner), a scratch
 * directory, and the results of the suites that ran before it.
 */
import { ENV } from '../functions/lib/resources.js';
import type { EmulatorEndpoints } from '../local/cloud/emulators.js';
import type { SuiteName } from './args.js';

export interface BenchContext {
  quick: boolean;
  /** One progress line on stderr. */
  log(line: string): void;
  /** Endpoints of the embedded emulators, started on first call. */
  endpoints(): Promise<EmulatorEndpoints>;
  /** A scratch directory removed when the run ends. */
  tmpDir: string;
  /** Results of the suites already run (the cost suite reads pure and writes). */
  results: Partial<Record<SuiteName, unknown>>;
}

/** A suite that could not produce its numbers (as opposed to numbers that miss a target). */
export class BenchSuiteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchSuiteError';
  }
}

/** One headline number with its target, for the stdout table and the JSON `targets` list. */
export interface Headline {
  suite: SuiteName;
  metric: string;
  value: number;
  unit: string;
  /** Human form of the value, e.g. "231,000 /s". */
  display: string;
  target?: string;
  met?: boolean;
}

/**
 * A local pipeline's handler environment as the stack deploys it by default: the local
 * cloud always provisions the optional output stream of final windows, the stack only
 * when `resultsStream` is enabled (infra/settings.ts, default off), and with it the
 * handler does an extra read and a Kinesis write per final window.
 */
export function defaultDeploymentEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  const { [ENV.resultsStream]: _resultsStream, ...rest } = env;
  return rest;
}
