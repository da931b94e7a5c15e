/**
 * CS3 against the embedded emulators: with carried state, an alert and an alarm
 * transition still come from a committed outbox. The SNS publish is made to fail (a
 * failure the emulator cannot produce on demand, so a client middleware injects it): the
 * invocation fails, and the sensor's item must already hold the alert and the transition.
 * Lambda retries the batch with the state from before; the retry publishes each of them
 * once, and the outputs are those of the same records without carried state (CS1).
 */
import type { _Record } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import type { ClientOptions } from '../../functions/lib/clients.js';
import { fromBody } from '../../functions/lib/state-store.js';
import type { TumblingWindowEvent } from '../../functions/window-handler/process-carried.js';
import { drainQueue } from '../../local/cloud/index.js';
import {
  createTestPipeline,
  kinesisEvent,
  lambdaContext,
  putRecords,
  readAllRecords,
  scanAll,
  type TestPipeline,
} from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const T0 = Date.UTC(2026, 0, 1);
const SENSOR = 'sensor-hot';
const TEMPERATURES = [20, 21, 40, 22, 23, 41, 24, 25];
const WINDOW = { start: '2026-12-02T00:00:00Z', end: '2026-12-02T00:05:00Z' };
const RULES = [
  { name: 'hot', type: 'threshold', metric: 'temperature', above: 35 },
  { name: 'too-hot', type: 'threshold', metric: 'temperature', above: 35, mode: 'alarm' },
];

function records(): { partitionKey: string; data: Uint8Array }[] {
  return TEMPERATURES.map((temperature, i) => ({
    partitionKey: SENSOR,
    data: Buffer.from(JSON.stringify({ sensorId: SENSOR, timestamp: T0 + i * 1_000, temperature })),
  }));
}

/** Fails every SNS publish while `failing` is set, before the SDK's own retries see it. */
class PublishFault {
  failing = false;
  readonly decorate: NonNullable<ClientOptions['decorate']> = (client) => {
    const stack = client.middlewareStack as {
      add(mw: unknown, opts: { step: string; name: string }): void;
    };
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: unknown) => {
          if (this.failing && context.commandName?.startsWith('Publish')) {
            throw new Error('injected: SNS unavailable');
          }
          return next(args);
        },
      { step: 'initialize', name: 'publishFault' },
    );
    return client;
  };
}

/** Messages the alerts tap received, repeats included, as alerts or transitions. */
async function published(p: TestPipeline) {
  const messages = await drainQueue(p.clients, p.queues.alertsTap, { waitMs: 300 });
  const bodies = messages.map(
    (m) => JSON.parse((m.body as { Message: string }).Message) as Record<string, unknown>,
  );
  const key = (b: Record<string, unknown>) => String(b.transitionId ?? b.alertId ?? JSON.stringify(b));
  return {
    alerts: bodies
      .filter((b) => b.transitionId === undefined)
      .map(key)
      .sort(),
    transitions: bodies
      .filter((b) => b.transitionId !== undefined)
      .map(key)
      .sort(),
  };
}

async function results(p: TestPipeline) {
  return (await scanAll(p.clients, p.tables.results))
    .map(({ finalisedAt: _f, ...rest }) => rest)
    .sort((a, b) => String(a.windowKey).localeCompare(String(b.windowKey)));
}

function windowEvent(p: TestPipeline, shardId: string, recs: _Record[], state: unknown, final = false) {
  const base = kinesisEvent(shardId, recs, p.streamArn);
  const event: TumblingWindowEvent = {
    ...base,
    window: WINDOW,
    state,
    shardId,
    eventSourceARN: p.streamArn,
    isFinalInvokeForWindow: final,
    isWindowTerminatedEarly: false,
  };
  return event;
}

describe('Carried state and rule-dependent effects (SEMANTICS.md CS3)', () => {
  const pipelines: TestPipeline[] = [];
  let reference: { published: Awaited<ReturnType<typeof published>>; results: unknown[] };

  beforeAll(async () => {
    const plain = await createTestPipeline(
      endpoints,
      parseConfig({ stream: { shardCount: 1 }, rules: RULES }),
      'cs3-ref',
    );
    pipelines.push(plain);
    await putRecords(plain.clients, plain.streamName, records());
    const [shard] = await readAllRecords(plain.clients, plain.streamName);
    const h = plain.handler();
    const res = await h(kinesisEvent(shard!.shardId, shard!.records, plain.streamArn), lambdaContext());
    expect(res.batchItemFailures).toEqual([]);
    reference = { published: await published(plain), results: await results(plain) };
    expect(reference.published.alerts.length).toBeGreaterThan(0);
    expect(reference.published.transitions.length).toBeGreaterThan(0);
  }, 120_000);

  afterAll(() => {
    for (const p of pipelines) p.destroy();
  });

  it('CS3: an alert and a transition are committed before they are published, and published once after a failed publish', async () => {
    const p = await createTestPipeline(
      endpoints,
      parseConfig({ stream: { shardCount: 1 }, eventSource: { tumblingWindowSeconds: 300 }, rules: RULES }),
      'cs3',
    );
    pipelines.push(p);
    await putRecords(p.clients, p.streamName, records());
    const [shard] = await readAllRecords(p.clients, p.streamName);
    const fault = new PublishFault();
    const h = p.handler();
    const faulty = p.handler(fault);

    // The window's first invocation: the publish fails, so the invocation fails.
    fault.failing = true;
    const first = windowEvent(p, shard!.shardId, shard!.records, {});
    await expect(faulty(first, lambdaContext())).rejects.toThrow();
    expect((await published(p)).alerts).toEqual([]);

    // The item already holds what was to be published: committed before delivery.
    const [item] = await scanAll(p.clients, p.tables.state);
    const stored = fromBody(String(item!.sensorId), Number(item!.version), String(item!.body));
    expect(stored.outbox.alerts.length).toBeGreaterThan(0);
    expect(stored.outbox.transitions?.length ?? 0).toBeGreaterThan(0);
    expect(item!.carriedBy).toBeDefined();

    // Lambda retries the batch with the state from before (the window's start: `{}`).
    fault.failing = false;
    const retry = (await h(first, lambdaContext())) as unknown as {
      state: unknown;
      batchItemFailures: unknown[];
    };
    expect(retry.batchItemFailures).toEqual([]);
    const final = (await h(
      windowEvent(p, shard!.shardId, [], retry.state, true),
      lambdaContext(),
    )) as unknown as {
      state: unknown;
    };
    expect(final.state).toEqual({});

    const out = await published(p);
    expect(out).toEqual(reference.published);
    expect(new Set(out.alerts).size).toBe(out.alerts.length);
    expect(new Set(out.transitions).size).toBe(out.transitions.length);
    expect(await results(p)).toEqual(reference.results);
  }, 120_000);

  it('CS3: an alert in a later invocation of the window, on a sensor already carried, is committed before it is published', async () => {
    const p = await createTestPipeline(
      endpoints,
      parseConfig({ stream: { shardCount: 1 }, eventSource: { tumblingWindowSeconds: 300 }, rules: RULES }),
      'cs3-later',
    );
    pipelines.push(p);
    await putRecords(p.clients, p.streamName, records());
    const [shard] = await readAllRecords(p.clients, p.streamName);
    const h = p.handler();
    // Two readings below the threshold, then the rest (the alerts) in the next invocation.
    const first = (await h(
      windowEvent(p, shard!.shardId, shard!.records.slice(0, 2), {}),
      lambdaContext(),
    )) as unknown as {
      state: unknown;
      batchItemFailures: unknown[];
    };
    expect(first.batchItemFailures).toEqual([]);
    expect((await published(p)).alerts).toEqual([]);
    const fault = new PublishFault();
    fault.failing = true;
    const second = windowEvent(p, shard!.shardId, shard!.records.slice(2), first.state);
    await expect(p.handler(fault)(second, lambdaContext())).rejects.toThrow();
    const [item] = await scanAll(p.clients, p.tables.state);
    const stored = fromBody(String(item!.sensorId), Number(item!.version), String(item!.body));
    expect(stored.outbox.alerts.length).toBeGreaterThan(0);
    const retry = (await h(second, lambdaContext())) as unknown as {
      state: unknown;
      batchItemFailures: unknown[];
    };
    expect(retry.batchItemFailures).toEqual([]);
    await h(windowEvent(p, shard!.shardId, [], retry.state, true), lambdaContext());
    expect(await published(p)).toEqual(reference.published);
  }, 120_000);
});
