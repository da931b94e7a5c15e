/**
 * Follows the output stream of final windows (RESULTS_STREAM_NAME, see effects.ts) from
 * its newest records on, the way one plain consumer does: a shard iterator per leaf shard,
 * GetRecords at most once a second per shard (Kinesis allows five), and on a closed shard
 * (a reshard) its children from their start. Records are parsed and checked; one that is
 * not a final window is counted and skipped, never shown half.
 */
import {
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { z } from 'zod';
import type { FinalWindow } from '../../../functions/domain/state.js';

const summary = z
  .object({ count: z.number(), mean: z.number(), min: z.number(), max: z.number() })
  .passthrough();
const finalWindowSchema = z
  .object({
    sensorId: z.string().min(1),
    windowKey: z.string(),
    windowType: z.enum(['tumbling', 'sliding', 'session']),
    windowSizeMs: z.number(),
    windowSlideMs: z.number().optional(),
    windowGapMs: z.number().optional(),
    windowStart: z.number(),
    windowEnd: z.number(),
    metrics: z.record(z.string(), summary),
  })
  .passthrough();

/** A final window from its JSON (a results table item or a stream record), or why not. */
export function parseFinalWindow(raw: unknown): { window: FinalWindow } | { error: string } {
  const parsed = finalWindowSchema.safeParse(raw);
  if (parsed.success) return { window: parsed.data as unknown as FinalWindow };
  return {
    error: parsed.error.issues.map((i) => `${i.path.join('.') || 'record'}: ${i.message}`).join('; '),
  };
}

export interface StreamReaderOptions {
  kinesis: KinesisClient;
  streamName: string;
  onWindows: (windows: FinalWindow[]) => void;
  /** A record that is not a final window. */
  onBadRecord: (reason: string) => void;
}

export class ResultsStreamReader {
  /** Shard id to its next iterator. */
  private readonly iterators = new Map<string, string>();
  private readonly lastSequence = new Map<string, string>();
  private readonly finished = new Set<string>();

  constructor(private readonly opts: StreamReaderOptions) {}

  /** Iterators at LATEST on every leaf shard: the reader sees what is written from now on. */
  async open(): Promise<void> {
    const shards = await this.listShards();
    const parents = new Set(shards.flatMap((s) => [s.ParentShardId, s.AdjacentParentShardId]));
    for (const shard of shards) {
      if (parents.has(shard.ShardId)) continue;
      this.iterators.set(
        shard.ShardId!,
        await this.iterator(shard.ShardId!, { ShardIteratorType: 'LATEST' }),
      );
    }
  }

  get shards(): number {
    return this.iterators.size;
  }

  /** One GetRecords per shard; returns how many windows it delivered. */
  async poll(): Promise<number> {
    let delivered = 0;
    for (const [shardId, iterator] of [...this.iterators]) {
      let out: GetRecordsCommandOutput;
      try {
        out = await this.opts.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1_000 }));
      } catch (err) {
        if (!(err instanceof ExpiredIteratorException)) throw err;
        // Idle for five minutes: carry on after the last record read.
        const last = this.lastSequence.get(shardId);
        this.iterators.set(
          shardId,
          await this.iterator(
            shardId,
            last
              ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: last }
              : { ShardIteratorType: 'LATEST' },
          ),
        );
        continue;
      }
      const windows: FinalWindow[] = [];
      for (const record of out.Records ?? []) {
        if (record.SequenceNumber) this.lastSequence.set(shardId, record.SequenceNumber);
        let json: unknown;
        try {
          json = JSON.parse(Buffer.from(record.Data ?? new Uint8Array()).toString('utf8'));
        } catch {
          this.opts.onBadRecord(`record ${record.SequenceNumber} of shard ${shardId} is not JSON`);
          continue;
        }
        const parsed = parseFinalWindow(json);
        if ('error' in parsed)
          this.opts.onBadRecord(`record ${record.SequenceNumber} of shard ${shardId}: ${parsed.error}`);
        else windows.push(parsed.window);
      }
      if (windows.length > 0) this.opts.onWindows(windows);
      delivered += windows.length;
      if (out.NextShardIterator) this.iterators.set(shardId, out.NextShardIterator);
      else await this.closed(shardId);
    }
    return delivered;
  }

  /** A closed shard: its children are read from their first record. */
  private async closed(shardId: string): Promise<void> {
    this.iterators.delete(shardId);
    this.finished.add(shardId);
    for (const shard of await this.listShards()) {
      const id = shard.ShardId!;
      if (this.iterators.has(id) || this.finished.has(id)) continue;
      if (shard.ParentShardId !== shardId && shard.AdjacentParentShardId !== shardId) continue;
      this.iterators.set(id, await this.iterator(id, { ShardIteratorType: 'TRIM_HORIZON' }));
    }
  }

  private async iterator(
    shardId: string,
    position:
      | { ShardIteratorType: 'LATEST' | 'TRIM_HORIZON' }
      | { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER'; StartingSequenceNumber: string },
  ): Promise<string> {
    const out = await this.opts.kinesis.send(
      new GetShardIteratorCommand({ StreamName: this.opts.streamName, ShardId: shardId, ...position }),
    );
    return out.ShardIterator!;
  }

  private async listShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let next: string | undefined;
    do {
      const out = await this.opts.kinesis.send(
        new ListShardsCommand(next ? { NextToken: next } : { StreamName: this.opts.streamName }),
      );
      shards.push(...(out.Shards ?? []));
      next = out.NextToken;
    } while (next);
    return shards;
  }
}
