/** The local event source mapping's errors, under windowpane's common base. */
import { WindowpaneError } from '../../functions/domain/errors.js';
import type { MappingStats } from './mapping.js';

export class DrainTimeoutError extends WindowpaneError {
  constructor(
    timeoutMs: number,
    readonly stats: MappingStats,
  ) {
    const shards = stats.shards.map((s) => `${s.shardId}=${s.state}`).join(', ');
    super(
      `the event source mapping did not drain within ${timeoutMs} ms ` +
        `(in flight ${stats.inFlight}, shards ${shards}, processed ${stats.records}, errors ${stats.errors})`,
    );
  }
}

export class MappingStateError extends WindowpaneError {}

/** Thrown inside a lane to unwind it when the mapping stops mid-step. */
export class MappingStoppedSignal extends WindowpaneError {
  constructor() {
    super('the event source mapping is stopping');
  }
}

/** An invocation that outlived the function's timeout, worded as Lambda reports it. */
export class InvocationTimeoutError extends WindowpaneError {
  constructor(ms: number) {
    super(`Task timed out after ${(ms / 1000).toFixed(2)} seconds`);
  }
}
