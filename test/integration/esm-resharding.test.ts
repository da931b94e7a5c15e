/**
 * Resharding under the local event source mapping: split 1 -> 2 shards and merge back to 1
 * while records are being processed. Children are read only after their parents are
 * drained, so every partition key keeps its order across parent -> child.
 */
import { MergeShardsCommand, UpdateShardCountCommand } from '@aws-sdk/client-kinesis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { LocalEventSourceMapping } from '../../local/esm/index.js';
import {
  createTestStream,
  esmSettings,
  type Invocation,
  interleaved,
  listShards,
  perKey,
  Recorder,
  range,
  waitForStreamActive,
} from './esm-helpers.js';
import { putRecords } from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('LocalEventSourceMapping: resharding', () => {
  it('split 1 -> 2 and merge 2 -> 1 mid-stream: parents first, every key in order, nothing lost or repeated', async () => {
    const s = await createTestStream(endpoints, { shardCount: 1, label: 'esm-reshard' });
    cleanup.push(() => s.destroy());
    const KEYS = 12;
    const PER_PHASE = 10;
    await putRecords(s.clients, s.streamName, interleaved(KEYS, PER_PHASE, 0));

    // From its third batch on, the handler holds the parent's records until the stream
    // has been split and merged: the reshard surely happens mid-stream.
    let release: () => void = () => undefined;
    const resharded = new Promise<void>((resolve) => {
      release = resolve;
    });
    const recorder = new Recorder((_records, _event, call) =>
      call >= 2 ? resharded.then(() => undefined) : undefined,
    );
    const m = new LocalEventSourceMapping({
      clients: s.clients,
      streamName: s.streamName,
      settings: esmSettings({ batchSize: 10, parallelizationFactor: 2 }),
      handler: recorder.handler,
      idlePollMs: 50,
      shardRefreshMs: 100,
    });
    cleanup.push(() => m.stop());
    cleanup.push(() => release());
    m.start();
    while (recorder.invocations.length < 3) await sleep(10);

    const [parent] = await listShards(s.clients, s.streamName);
    await s.clients.kinesis.send(
      new UpdateShardCountCommand({
        StreamName: s.streamName,
        TargetShardCount: 2,
        ScalingType: 'UNIFORM_SCALING',
      }),
    );
    await waitForStreamActive(s.clients, s.streamName);
    await putRecords(s.clients, s.streamName, interleaved(KEYS, PER_PHASE, PER_PHASE));

    const children = (await listShards(s.clients, s.streamName)).filter(
      (x) => x.ParentShardId === parent!.ShardId,
    );
    expect(children).toHaveLength(2);
    await s.clients.kinesis.send(
      new MergeShardsCommand({
        StreamName: s.streamName,
        ShardToMerge: children[0]!.ShardId!,
        AdjacentShardToMerge: children[1]!.ShardId!,
      }),
    );
    await waitForStreamActive(s.clients, s.streamName);
    await putRecords(s.clients, s.streamName, interleaved(KEYS, PER_PHASE, 2 * PER_PHASE));
    const merged = (await listShards(s.clients, s.streamName)).find(
      (x) => x.ParentShardId === children[0]!.ShardId && x.AdjacentParentShardId === children[1]!.ShardId,
    );
    expect(merged).toBeDefined();

    // Discovered, but held back while the parent still has records in flight.
    while (m.stats().shards.length < 4) await sleep(20);
    expect(Object.fromEntries(m.stats().shards.map((x) => [x.shardId, x.state]))).toEqual({
      [parent!.ShardId!]: 'active',
      [children[0]!.ShardId!]: 'waiting-for-parents',
      [children[1]!.ShardId!]: 'waiting-for-parents',
      [merged!.ShardId!]: 'waiting-for-parents',
    });
    expect(recorder.invocations.every((i) => i.shardId === parent!.ShardId)).toBe(true);
    release();

    await m.drain({ timeoutMs: 30_000 });

    // Every key: 30 records in put order, exactly once, across three generations of shards.
    const byKey = perKey(recorder.invocations);
    expect(byKey.size).toBe(KEYS);
    for (const [key, ns] of byKey) expect(ns, key).toEqual(range(0, 3 * PER_PHASE));

    // Each phase really went to its generation of shards.
    const shardOf = (phase: number) =>
      new Set(
        recorder.invocations
          .filter((inv) => inv.records.some((r) => Math.floor(r.n / PER_PHASE) === phase))
          .map((inv) => inv.shardId),
      );
    expect(shardOf(0)).toEqual(new Set([parent!.ShardId]));
    expect(shardOf(1)).toEqual(new Set(children.map((c) => c.ShardId)));
    expect(shardOf(2)).toEqual(new Set([merged!.ShardId]));

    // A child's first batch started after its parents' last batch ended.
    const of = (shardId: string | undefined) => recorder.invocations.filter((i) => i.shardId === shardId);
    const lastEnd = (invs: Invocation[]) => Math.max(...invs.map((i) => i.endedAt));
    const firstStart = (invs: Invocation[]) => Math.min(...invs.map((i) => i.startedAt));
    for (const child of children) {
      expect(firstStart(of(child.ShardId))).toBeGreaterThanOrEqual(lastEnd(of(parent!.ShardId)));
    }
    expect(firstStart(of(merged!.ShardId))).toBeGreaterThanOrEqual(
      Math.max(...children.map((c) => lastEnd(of(c.ShardId)))),
    );

    expect(
      m
        .stats()
        .shards.map((x) => [x.shardId, x.state])
        .sort(),
    ).toEqual(
      [
        [parent!.ShardId, 'drained'],
        [children[0]!.ShardId, 'drained'],
        [children[1]!.ShardId, 'drained'],
        [merged!.ShardId, 'active'],
      ].sort(),
    );
    expect(m.stats()).toMatchObject({ records: KEYS * PER_PHASE * 3, errors: 0, discarded: 0 });
  });
});
