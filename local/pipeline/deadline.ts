/**
 * Deadlines for a local pipeline's set-up. Each SDK request already has a timeout
 * (functions/lib/clients.ts), but a set-up step is many requests, retries and polls
 * (creating resources, waiting for ACTIVE), so the steps share one overall budget. A step
 * that fails or runs out of time says which step it was and on which endpoint.
 */
import { errorText, WindowpaneError } from '../../functions/domain/errors.js';

export class SetupError extends WindowpaneError {}

/** The set-up budget ran out; `step` is what was still going on. */
export class SetupTimeoutError extends SetupError {
  constructor(
    message: string,
    readonly step: string,
  ) {
    super(message);
  }
}

/** Default budget for the whole set-up: provisioning, waiting for ACTIVE, opening the stream. */
export const DEFAULT_SETUP_TIMEOUT_MS = 60_000;

export interface SetupDeadlineOptions {
  timeoutMs: number;
  /** The endpoint(s), for messages. */
  where: string;
  /** Runs when the budget runs out, before the step's error is thrown (close the clients). */
  onTimeout?: () => void;
  /** Appended to a timeout's message (e.g. the flag that sets the budget). */
  hint?: string;
}

/** One budget, shared by the steps run through `step`, in order. */
export class SetupDeadline {
  private readonly endsAt: number;

  constructor(private readonly opts: SetupDeadlineOptions) {
    this.endsAt = Date.now() + opts.timeoutMs;
  }

  /** Runs `run` within what is left of the budget; `what` names the step ("creating ..."). */
  async step<T>(what: string, run: () => Promise<T>): Promise<T> {
    const { timeoutMs, where } = this.opts;
    let timer: NodeJS.Timeout | undefined;
    const work = run();
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          // The step's requests fail once the clients close; nobody is waiting for them.
          work.catch(() => {});
          this.opts.onTimeout?.();
          reject(
            new SetupTimeoutError(
              `set-up did not finish within ${timeoutMs / 1000} s: still ${what} on ${where} ` +
                `(the endpoint is not answering, or too slowly)${this.opts.hint ? `; ${this.opts.hint}` : ''}`,
              what,
            ),
          );
        },
        Math.max(0, this.endsAt - Date.now()),
      );
    });
    try {
      return await Promise.race([work, expired]);
    } catch (err) {
      if (err instanceof SetupTimeoutError) throw err;
      throw new SetupError(`${what} on ${where} failed: ${errorText(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}
