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

/** No record was processed or discarded for `stallMs` while records were still pending. */
export class DrainStalledError extends WindowpaneError {
  constructor(
    stallMs: number,
    readonly stats: MappingStats,
    /** The mapping's last log lines (failed invocations, retries, read errors). */
    readonly recentLog: readonly string[] = [],
  ) {
    const shards = stats.shards.map((s) => `${s.shardId}=${s.state}`).join(', ');
    const lines = recentLog.length > 0 ? `; its last log lines:\n  ${recentLog.join('\n  ')}` : '';
    super(
      `the event source mapping made no progress for ${stallMs} ms: no record was processed or ` +
        `discarded (in flight ${stats.inFlight}, shards ${shards}, processed ${stats.records}, ` +
        `errors ${stats.errors}, retries ${stats.retries})${lines}`,
    );
  }
}

export class MappingStateError extends WindowpaneError {}

/**
 * A closed parent shard that GetRecords never ends, so its children can never start. Kinesis
 * ends a closed shard read to its end with no NextShardIterator (GetRecords API reference:
 * "If set to null, the shard has been closed and the requested iterator does not return any
 * more data"); an endpoint that does not (moto 5) would otherwise hang the drain.
 */
export class UnendedParentShardError extends WindowpaneError {
  readonly shardId: string;
  readonly children: readonly string[];

  constructor(opts: {
    streamName: string;
    shardId: string;
    endingSequenceNumber: string;
    children: readonly string[];
    waitedMs: number;
  }) {
    super(
      `shard ${opts.shardId} of stream ${opts.streamName} never ends: ListShards reports it closed ` +
        `(EndingSequenceNumber ${opts.endingSequenceNumber}) and it was read to its tip, but GetRecords ` +
        `still returns a NextShardIterator after ${opts.waitedMs} ms, so its child shard(s) ` +
        `${opts.children.join(', ')} cannot start. Kinesis ends a closed shard with no NextShardIterator; ` +
        'this endpoint does not (moto 5 never does, see local/chaos/reshard.ts)',
    );
    this.shardId = opts.shardId;
    this.children = opts.children;
  }
}

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
