/**
 * Upgrading in place (issue 14): state items written by the previous release (the state
 * as a JSON object in `body`, `lastSequence` padded to 129 digits) are read, folded into
 * and committed by this one, which writes them in body format 2 (state-codec.ts) with an
 * unpadded `lastSequence`; the outputs are those of a run that never saw the old form.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { padPosition, parsePosition } from '../../functions/domain/record-position.js';
import type { SensorState } from '../../functions/domain/state.js';
import { flushOpenWindows } from '../../functions/pipeline/flush.js';
import {
  createTestPipeline,
  kinesisEvent,
  lambdaContext,
  putRecords,
  readAllRecords,
  scanAll,
  snapshot,
  stateOfItem,
  type TestPipeline,
} from './pipeline-helpers.js';

const config = parseConfig({ stream: { shardCount: 1 } });
const endpoints = inject('endpoints');
const T0 = Date.UTC(2026, 0, 1);
const SENSORS = ['u1', 'u2', 'u3'];

/** 1 Hz over 3 minutes, the sensors interleaved; some hot readings, so alerts fire on both sides of the upgrade. */
const records = Array.from({ length: 180 }, (_, i) =>
  SENSORS.map((sensorId, s) => ({
    partitionKey: sensorId,
    data: Buffer.from(
      JSON.stringify({
        sensorId,
        timestamp: T0 + i * 1000,
        temperature: i % 50 === 3 + s ? 40 : 20 + (i % 7),
      }),
    ),
  })),
).flat();

/** The previous release's item attributes for a state: bounds.ts stateBody and state-store latestSequence as they were. */
function previousRelease(state: SensorState): { body: string; lastSequence: string } {
  const { sensorId: _s, version: _v, updatedAt: _u, claim: _c, ...rest } = state;
  const shards = Object.keys(state.applied);
  const last = shards[shards.length - 1]!;
  return {
    body: JSON.stringify(rest),
    lastSequence: `${last}:${padPosition(parsePosition(state.applied[last]!))}`,
  };
}

async function run(label: string, downgradeBetween: boolean) {
  const p = await createTestPipeline(endpoints, config, label);
  pipelines.push(p);
  await putRecords(p.clients, p.streamName, records);
  const [shard] = await readAllRecords(p.clients, p.streamName);
  const half = Math.floor(shard!.records.length / 2);
  const first = await p.handler()(
    kinesisEvent(shard!.shardId, shard!.records.slice(0, half), p.streamArn),
    lambdaContext(),
  );
  expect(first.batchItemFailures).toEqual([]);
  const rewritten: Record<string, unknown>[] = [];
  if (downgradeBetween) {
    for (const item of await scanAll(p.clients, p.tables.state)) {
      const old = { ...item, ...previousRelease(stateOfItem(item)) };
      await p.clients.doc.send(new PutCommand({ TableName: p.tables.state, Item: old }));
      rewritten.push(old);
    }
  }
  const h = p.handler();
  const second = await h(
    kinesisEvent(shard!.shardId, shard!.records.slice(half), p.streamArn),
    lambdaContext(),
  );
  expect(second.batchItemFailures).toEqual([]);
  const items = await scanAll(p.clients, p.tables.state);
  await flushOpenWindows(h.deps, SENSORS);
  const snap = await snapshot(p);
  return {
    rewritten,
    items,
    results: snap.results,
    alerts: snap.alerts
      .map((a) => a.alert)
      .sort((a, b) => String(a.alertId).localeCompare(String(b.alertId))),
  };
}

const pipelines: TestPipeline[] = [];
let fresh: Awaited<ReturnType<typeof run>>;
let upgraded: Awaited<ReturnType<typeof run>>;

beforeAll(async () => {
  fresh = await run('upgrade-fresh', false);
  upgraded = await run('upgrade-old', true);
}, 120_000);

afterAll(() => {
  for (const p of pipelines) p.destroy();
});

describe('state items of the previous release, upgraded in place', () => {
  it('the items were rewritten in the previous release form before the second batch', () => {
    expect(upgraded.rewritten).toHaveLength(SENSORS.length);
    for (const item of upgraded.rewritten) {
      expect(String(item.body).startsWith('{"watermark":')).toBe(true);
      expect(String(item.lastSequence)).toMatch(/^shardId-\d{12}:0{70,}\d+$/);
    }
  });

  it('are folded into and committed by this release (the condition accepts the padded lastSequence)', () => {
    for (const item of upgraded.items) {
      const before = upgraded.rewritten.find((r) => r.sensorId === item.sensorId)!;
      expect(Number(item.version)).toBeGreaterThan(Number(before.version));
      expect(String(item.body).startsWith('[2,')).toBe(true);
      const state = stateOfItem(item);
      const shard = Object.keys(state.applied).at(-1)!;
      expect(item.lastSequence).toBe(`${shard}:${state.applied[shard]}`);
    }
  });

  it('give the outputs of a run that never saw the old form', () => {
    expect(fresh.results.length).toBeGreaterThanOrEqual(SENSORS.length * 3);
    expect(fresh.alerts.length).toBeGreaterThan(SENSORS.length);
    expect(upgraded.results).toEqual(fresh.results);
    expect(upgraded.alerts).toEqual(fresh.alerts);
  });
});
