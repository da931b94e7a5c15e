/**
 * Shard lineage by the documented contract, on whichever backend runs it: after
 * UpdateShardCount the children are read once their parent ends (GetRecords without a
 * NextShardIterator). The embedded kinesis-local honours the contract and the mapping
 * drains with every key in order; moto 5 never ends a closed parent (local/chaos/reshard.ts
 * cites its source), and the drain must then fail soon, naming that parent, not hang.
 */
import { UpdateShardCountCommand } from '@aws-sdk/client-kinesis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { LocalEventSourceMapping, UnendedParentShardError } from '../../local/esm/index.js';
import {
  createTestStream,
  esmSettings,
  interleaved,
  listShards,
  perKey,
  Recorder,
  range,
  waitForStreamActive,
} from './esm-helpers.js';
import { putRecords } from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const backend = inject('backend');
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const DRAIN_TIMEOUT_MS = 30_000;
const GRACE_MS = 1_500;

describe('LocalEventSourceMapping: shard lineage after UpdateShardCount', () => {
  it(`${backend}: children start only after their parent ends; a parent that never ends is named within the drain timeout`, async () => {
    const s = await createTestStream(endpoints, { shardCount: 1, label: 'esm-lineage' });
    cleanup.push(() => s.destroy());
    const KEYS = 6;
    await putRecords(s.clients, s.streamName, interleaved(KEYS, 5, 0));
    const recorder = new Recorder();
    const m = new LocalEventSourceMapping({
      clients: s.clients,
      streamName: s.streamName,
      settings: esmSettings({ batchSize: 10 }),
      handler: recorder.handler,
      idlePollMs: 50,
      shardRefreshMs: 100,
      closedShardGraceMs: GRACE_MS,
    });
    cleanup.push(() => m.stop());
    m.start();
    await m.drain({ timeoutMs: DRAIN_TIMEOUT_MS });

    const [parent] = await listShards(s.clients, s.streamName);
    await s.clients.kinesis.send(
      new UpdateShardCountCommand({
        StreamName: s.streamName,
        TargetShardCount: 2,
        ScalingType: 'UNIFORM_SCALING',
      }),
    );
    await waitForStreamActive(s.clients, s.streamName);
    await putRecords(s.clients, s.streamName, interleaved(KEYS, 5, 5));
    const shards = await listShards(s.clients, s.streamName);
    const children = shards.filter((x) => x.ParentShardId === parent!.ShardId).map((x) => x.ShardId!);
    expect(children).toHaveLength(2);
    expect(
      shards.find((x) => x.ShardId === parent!.ShardId)?.SequenceNumberRange?.EndingSequenceNumber,
    ).toBeDefined();

    const started = Date.now();
    const drained = m.drain({ timeoutMs: DRAIN_TIMEOUT_MS });
    if (backend === 'moto') {
      // moto routes the new records to the closed parent and never ends it.
      const err = await drained.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UnendedParentShardError);
      expect((err as UnendedParentShardError).shardId).toBe(parent!.ShardId);
      expect([...(err as UnendedParentShardError).children].sort()).toEqual([...children].sort());
      expect((err as Error).message).toContain(
        `shard ${parent!.ShardId} of stream ${s.streamName} never ends`,
      );
      expect(Date.now() - started).toBeLessThan(DRAIN_TIMEOUT_MS);
      expect(
        m
          .stats()
          .shards.filter((x) => x.state === 'waiting-for-parents')
          .map((x) => x.shardId)
          .sort(),
      ).toEqual([...children].sort());
    } else {
      await drained;
      const states = Object.fromEntries(m.stats().shards.map((x) => [x.shardId, x.state]));
      expect(states[parent!.ShardId!]).toBe('drained');
      // Every key's records once each, in order, across parent and child.
      const keys = perKey(recorder.invocations);
      for (let k = 0; k < KEYS; k++) expect(keys.get(`key-${k}`)).toEqual(range(0, 10));
      const childInvocations = recorder.invocations.filter((i) => children.includes(i.shardId));
      expect(childInvocations.length).toBeGreaterThan(0);
    }
  });
});
