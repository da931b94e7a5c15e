/**
 * Tumbling windows under the local event source mapping (tumbling.ts), against
 * kinesis-local with a recording handler that counts records in its state: batches cut at
 * window boundaries, the state handed from invocation to invocation, one final invocation
 * per window with no records, failures retried with the state from before, a state over
 * 1 MB ending the window early, drain() waiting for due final invocations, no final
 * invocation for a closed parent's last window, and the windowStateFault hook.
 */
import { UpdateShardCountCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse } from 'aws-lambda';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { EventSourceConfig } from '../../functions/domain/config.js';
import {
  LocalEventSourceMapping,
  type LocalMappingOptions,
  type MappingHandler,
  type TimeWindowEvent,
  windowStartMs,
} from '../../local/esm/index.js';
import {
  createTestStream,
  esmSettings,
  interleaved,
  listShards,
  type TestStream,
  untag,
  waitForStreamActive,
} from './esm-helpers.js';
import { putRecords } from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The handler's state: how many records the window has seen, and the last one's tag. */
interface Count {
  count?: number;
  last?: string;
  pad?: string;
}

/** One invocation as the handler saw it (the event's state before the handler ran). */
interface Seen {
  event: TimeWindowEvent;
  state: Count;
  keys: string[];
  arrivals: number[];
}

type Behaviour = (seen: Seen, call: number) => unknown;

/** Counts records in the window's state, or does what `behaviour` returns or throws instead. */
function counter(behaviour: Behaviour = () => undefined) {
  const seen: Seen[] = [];
  const handler: MappingHandler = async (e) => {
    const event = e as TimeWindowEvent;
    const state = structuredClone(event.state) as Count;
    const s: Seen = {
      event,
      state,
      keys: event.Records.map((r) => `${untag(r).key}#${untag(r).n}`),
      arrivals: event.Records.map((r) => Math.round(r.kinesis.approximateArrivalTimestamp * 1000)),
    };
    seen.push(s);
    const instead = await behaviour(s, seen.length - 1);
    if (instead !== undefined) return instead as KinesisStreamBatchResponse;
    const next: Count = event.isFinalInvokeForWindow
      ? {}
      : { count: (state.count ?? 0) + event.Records.length, last: s.keys.at(-1) ?? state.last };
    const response = { state: next, batchItemFailures: [] };
    return response;
  };
  return { seen, handler };
}

async function stream(shardCount: number, label: string): Promise<TestStream> {
  const s = await createTestStream(endpoints, { shardCount, label });
  cleanup.push(() => s.destroy());
  return s;
}

function mapping(
  s: TestStream,
  handler: LocalMappingOptions['handler'],
  settings: Partial<EventSourceConfig>,
  opts: Partial<LocalMappingOptions> = {},
) {
  const m = new LocalEventSourceMapping({
    clients: s.clients,
    streamName: s.streamName,
    settings: esmSettings({ batchSize: 5, ...settings }),
    handler,
    onFailureQueueUrl: s.dlqUrl,
    idlePollMs: 50,
    shardRefreshMs: 100,
    retryBaseDelayMs: 10,
    retryMaxDelayMs: 50,
    ...opts,
  });
  cleanup.push(() => m.stop());
  return m;
}

const batches = (seen: Seen[]) => seen.filter((s) => !s.event.isFinalInvokeForWindow);
const finals = (seen: Seen[]) => seen.filter((s) => s.event.isFinalInvokeForWindow);

describe('LocalEventSourceMapping: tumbling windows', () => {
  it('cuts batches at window boundaries, hands each window its state, and ends each window with one final invocation', async () => {
    const s = await stream(1, 'esm-tw-cut');
    // Three bursts of 12 records, each in a later 1-second window than the one before.
    for (let burst = 0; burst < 3; burst++) {
      if (burst > 0) await sleep(1_000 - (Date.now() % 1_000) + 50);
      await putRecords(s.clients, s.streamName, interleaved(3, 4, burst * 4));
    }
    const { seen, handler } = counter();
    const m = mapping(s, handler, { tumblingWindowSeconds: 1 });
    m.start();
    // The last window may still be open on the wall clock: the producer being done ends it.
    m.inputComplete();
    await m.drain({ timeoutMs: 30_000 });

    const [shard] = await listShards(s.clients, s.streamName);
    const windows = new Map<string, Seen[]>();
    for (const x of seen) {
      const { start, end } = x.event.window;
      expect(start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Date.parse(end) - Date.parse(start)).toBe(1_000);
      expect(x.event.shardId).toBe(shard!.ShardId);
      expect(x.event.eventSourceARN).toBe(s.streamArn);
      expect(x.event.isWindowTerminatedEarly).toBe(false);
      // Every record of a batch belongs to the event's window.
      for (const a of x.arrivals)
        expect(new Date(windowStartMs(a, 1)).toISOString()).toBe(new Date(start).toISOString());
      windows.set(start, [...(windows.get(start) ?? []), x]);
    }
    expect(windows.size).toBeGreaterThanOrEqual(2);
    expect(batches(seen).flatMap((x) => x.keys)).toHaveLength(36);
    // Window by window, in order: the batches, each handed the count so far, then one final
    // invocation with no records and the window's whole count.
    const order = seen.map((x) => x.event.window.start);
    for (const [start, invs] of windows) {
      const last = invs.at(-1)!;
      expect(last.event.isFinalInvokeForWindow).toBe(true);
      expect(last.event.Records).toEqual([]);
      expect(finals(invs)).toHaveLength(1);
      let count = 0;
      for (const x of batches(invs)) {
        expect(x.state).toEqual(count === 0 ? {} : { count, last: expect.any(String) });
        count += x.keys.length;
      }
      expect(last.state.count).toBe(count);
      // Contiguous: nothing of another window runs between a window's first and last invocation.
      expect(order.lastIndexOf(start) - order.indexOf(start) + 1).toBe(invs.length);
    }
    expect(m.stats().finalInvokes).toBe(windows.size);
  }, 60_000);

  it('a window whose end passed with nothing more read ends on the wall clock, the producer not done', async () => {
    const s = await stream(1, 'esm-tw-clock');
    await putRecords(s.clients, s.streamName, interleaved(2, 3));
    const { seen, handler } = counter();
    const m = mapping(s, handler, { tumblingWindowSeconds: 1 });
    m.start();
    // No inputComplete(): only the window's end on the wall clock can end it.
    while (m.stats().finalInvokes < 1) await sleep(20);
    await m.drain({ timeoutMs: 30_000 });
    const f = finals(seen);
    expect(f).toHaveLength(1);
    expect(f[0]!.state.count).toBe(6);
    expect(f[0]!.event.window).toEqual(seen[0]!.event.window);
    expect(Date.parse(f[0]!.event.window.end)).toBeGreaterThan(Math.max(...seen.flatMap((x) => x.arrivals)));
  }, 60_000);

  it('a response without state and a throw are failures retried with the state from before; a failed final invocation is retried until it succeeds', async () => {
    const s = await stream(1, 'esm-tw-retry');
    await putRecords(s.clients, s.streamName, interleaved(2, 10));
    let finalFailures = 0;
    const { seen, handler } = counter((x, call) => {
      if (call === 1) return { batchItemFailures: [] }; // no state
      if (call === 3) throw new Error('boom');
      if (x.event.isFinalInvokeForWindow && finalFailures++ < 2) throw new Error('final boom');
      return undefined;
    });
    const m = mapping(s, handler, { tumblingWindowSeconds: 900, bisectBatchOnFunctionError: false });
    m.start();
    m.inputComplete();
    await m.drain({ timeoutMs: 30_000 });

    // Attempts 1 and 3 failed: their retries (2 and 4) carry the same records and state.
    expect(seen[2]!.keys).toEqual(seen[1]!.keys);
    expect(seen[2]!.state).toEqual(seen[1]!.state);
    expect(seen[4]!.keys).toEqual(seen[3]!.keys);
    expect(seen[4]!.state).toEqual(seen[3]!.state);
    expect(seen[1]!.state.count).toBe(5);
    // Three final attempts, all with the window's full count, counted once.
    const f = finals(seen);
    expect(f).toHaveLength(3);
    for (const x of f) expect(x.state.count).toBe(20);
    expect(m.stats()).toMatchObject({ finalInvokes: 1, errors: 4, records: 20, discarded: 0 });
  }, 60_000);

  it('a state over 1 MB ends the window early: the next invocation is final, then the same window goes on with {}', async () => {
    const s = await stream(1, 'esm-tw-early');
    await putRecords(s.clients, s.streamName, interleaved(1, 20));
    const pad = 'x'.repeat(1_100_000);
    const { seen, handler } = counter((x, call) =>
      call === 1
        ? { state: { count: (x.state.count ?? 0) + x.keys.length, pad }, batchItemFailures: [] }
        : undefined,
    );
    const m = mapping(s, handler, { tumblingWindowSeconds: 900 });
    m.start();
    m.inputComplete();
    await m.drain({ timeoutMs: 30_000 });

    const flags = seen.map((x) => [x.event.isFinalInvokeForWindow, x.event.isWindowTerminatedEarly]);
    expect(flags).toEqual([
      [false, false],
      [false, false],
      [true, true],
      [false, false],
      [false, false],
      [true, false],
    ]);
    expect(seen[2]!.state).toEqual({ count: 10, pad });
    expect(seen[3]!.state).toEqual({});
    expect(seen[3]!.event.window).toEqual(seen[0]!.event.window);
    expect(seen[5]!.state.count).toBe(10);
    expect(m.stats()).toMatchObject({ finalInvokes: 2, windowsTerminatedEarly: 1, records: 20 });
  }, 60_000);

  it('drain() waits for the final invocations due once the producer is done, and not for a window still open', async () => {
    const s = await stream(2, 'esm-tw-drain');
    await putRecords(s.clients, s.streamName, interleaved(6, 3));
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    cleanup.push(() => release());
    const { seen, handler } = counter(async (x) => {
      if (x.event.isFinalInvokeForWindow) await held;
      return undefined;
    });
    const m = mapping(s, handler, { tumblingWindowSeconds: 900 });
    m.start();
    // A 900 s window that is still open: drained without its final invocation.
    await m.drain({ timeoutMs: 30_000 });
    expect(finals(seen)).toEqual([]);
    const shards = new Set(seen.map((x) => x.event.shardId));

    m.inputComplete();
    let drained = false;
    const draining = m.drain({ timeoutMs: 30_000 }).then(() => {
      drained = true;
    });
    while (finals(seen).length < shards.size) await sleep(10);
    // Every shard's final invocation has started and is held: drain has not returned.
    await sleep(100);
    expect(drained).toBe(false);
    release();
    await draining;
    expect(m.stats().finalInvokes).toBe(shards.size);
    expect(new Set(finals(seen).map((x) => x.event.shardId))).toEqual(shards);
  }, 60_000);

  it("a closed parent's last window gets no final invocation; its children's windows do", async () => {
    const s = await stream(1, 'esm-tw-parent');
    await putRecords(s.clients, s.streamName, interleaved(4, 3, 0));
    const { seen, handler } = counter();
    const m = mapping(s, handler, { tumblingWindowSeconds: 900 });
    m.start();
    await m.drain({ timeoutMs: 30_000 });
    const [parent] = await listShards(s.clients, s.streamName);
    expect(batches(seen).length).toBeGreaterThan(0);

    await s.clients.kinesis.send(
      new UpdateShardCountCommand({
        StreamName: s.streamName,
        TargetShardCount: 2,
        ScalingType: 'UNIFORM_SCALING',
      }),
    );
    await waitForStreamActive(s.clients, s.streamName);
    await putRecords(s.clients, s.streamName, interleaved(4, 3, 3));
    m.inputComplete();
    await m.drain({ timeoutMs: 30_000 });

    expect(m.stats().shards.find((x) => x.shardId === parent!.ShardId)?.state).toBe('drained');
    const parentInvs = seen.filter((x) => x.event.shardId === parent!.ShardId);
    expect(batches(parentInvs).flatMap((x) => x.keys)).toHaveLength(12);
    expect(finals(parentInvs)).toEqual([]);
    const children = new Set(batches(seen).map((x) => x.event.shardId));
    children.delete(parent!.ShardId!);
    expect(children.size).toBeGreaterThan(0);
    expect(new Set(finals(seen).map((x) => x.event.shardId))).toEqual(children);
    expect(batches(seen).flatMap((x) => x.keys)).toHaveLength(24);
  }, 60_000);

  it('the windowStateFault hook hands an invocation {} in the middle of a window; the window goes on from what it returns', async () => {
    const s = await stream(1, 'esm-tw-fault');
    await putRecords(s.clients, s.streamName, interleaved(1, 20));
    const asked: number[] = [];
    const { seen, handler } = counter();
    const m = mapping(
      s,
      handler,
      { tumblingWindowSeconds: 900 },
      {
        faults: {
          windowStateFault: (info) => {
            asked.push(info.invocations);
            return info.invocations === 2;
          },
        },
      },
    );
    m.start();
    m.inputComplete();
    await m.drain({ timeoutMs: 30_000 });

    // Never asked at a window's start; the third batch lost the 10 records before it.
    expect(asked).toEqual([1, 2, 3]);
    expect(batches(seen).map((x) => x.state.count ?? 0)).toEqual([0, 5, 0, 5]);
    expect(finals(seen).map((x) => x.state.count)).toEqual([10]);
    expect(m.stats()).toMatchObject({ windowStatesDropped: 1, finalInvokes: 1, records: 20 });
  }, 60_000);
});
