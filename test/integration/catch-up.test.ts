/**
 * The catch-up of claimed sensors (docs/SEMANTICS.md "Carried state" CS5, CS6) against
 * kinesis-local: which records each sensor gets back, in which order, read page by page;
 * and a shard that cannot be read fails only the sensors that need it. The failure is
 * injected by wrapping the client (the emulator cannot refuse one shard's reads).
 */
import type { _Record, KinesisClient } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { compareSequence } from '../../functions/domain/sequence.js';
import { newSensorState, type SensorState } from '../../functions/domain/state.js';
import { readClaimedRecords } from '../../functions/pipeline/catch-up.js';
import { createTestPipeline, putRecords, readAllRecords, type TestPipeline } from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const T0 = Date.UTC(2026, 0, 1);
const SENSORS = Array.from({ length: 8 }, (_, i) => `sensor-${i + 1}`);

type Shard = { shardId: string; records: _Record[] };

function sensorsOn(shard: Shard): string[] {
  return [...new Set(shard.records.map(sensorOf))].sort();
}

function sensorOf(r: _Record): string {
  return (JSON.parse(Buffer.from(r.Data!).toString()) as { sensorId: string }).sensorId;
}

function claimed(sensorId: string, shardId: string, from: string): SensorState {
  return { ...newSensorState(sensorId), claim: { by: `${shardId}/lost`, shardId, from, until: 0 } };
}

/** The sequences of `sensorId` on `shard` from `from` on (inclusive) and before `before`. */
function expected(shard: Shard, sensorId: string, from?: string, before?: string): string[] {
  return shard.records
    .filter((r) => sensorOf(r) === sensorId)
    .map((r) => r.SequenceNumber!)
    .filter((s) => from === undefined || compareSequence(s, from) >= 0)
    .filter((s) => before === undefined || compareSequence(s, before) < 0);
}

describe('Catch-up of claimed sensors (SEMANTICS.md CS5, CS6)', () => {
  let p: TestPipeline;
  let shards: Shard[];

  beforeAll(async () => {
    p = await createTestPipeline(endpoints, parseConfig({ stream: { shardCount: 2 } }), 'catch-up');
    const records = [];
    for (let i = 0; i < 60; i++) {
      for (const [k, key] of SENSORS.entries()) {
        // Each sensor's readings go under every partition key: it has records on both shards.
        const sensorId = SENSORS[(k + i) % SENSORS.length]!;
        records.push({
          partitionKey: key,
          data: Buffer.from(
            JSON.stringify({ sensorId, timestamp: T0 + i * 1_000, temperature: 20 + (i % 7) }),
          ),
        });
      }
    }
    await putRecords(p.clients, p.streamName, records);
    shards = (await readAllRecords(p.clients, p.streamName)).filter((s) => s.records.length > 0);
    // Both shards hold every sensor, so one can stand for a parent of the other.
    expect(shards).toHaveLength(2);
    for (const shard of shards) expect(sensorsOn(shard)).toEqual([...SENSORS].sort());
  }, 60_000);

  afterAll(() => p?.destroy());

  it('CS5: a sensor claimed on this shard gets its records from its claim to the batch; one claimed on another shard (a parent) gets that shard from its claim, then all of this one before the batch, in that order; read 7 records a page', async () => {
    const [parent, here] = shards as [Shard, Shard];
    const deps = { ...p.handler().deps, catchUpPageLimit: 7 };
    const [onParent, onHere] = SENSORS;
    const parentFrom = expected(parent, onParent!)[10]!;
    const hereFrom = expected(here, onHere!)[5]!;
    const before = here.records[here.records.length - 30]!.SequenceNumber!;
    const out = await readClaimedRecords(
      deps,
      [claimed(onParent!, parent.shardId, parentFrom), claimed(onHere!, here.shardId, hereFrom)],
      { streamArn: p.streamArn, here: { shardId: here.shardId, before } },
    );
    expect(out.failed.size).toBe(0);
    const got = (id: string) => (out.records.get(id) ?? []).map((r) => `${r.shardId}:${r.sequence}`);
    expect(got(onParent!)).toEqual([
      ...expected(parent, onParent!, parentFrom).map((s) => `${parent.shardId}:${s}`),
      ...expected(here, onParent!, undefined, before).map((s) => `${here.shardId}:${s}`),
    ]);
    expect(got(onHere!)).toEqual(
      expected(here, onHere!, hereFrom, before).map((s) => `${here.shardId}:${s}`),
    );
    // Only claimed sensors' records are kept, though both shards were read past them.
    expect([...out.records.keys()].sort()).toEqual([onParent!, onHere!].sort());
    expect(out.read).toBeGreaterThan(got(onParent!).length + got(onHere!).length);
  });

  it('CS6: a shard that cannot be read fails only the sensors claimed on it; the others get their records', async () => {
    const [broken, fine] = shards as [Shard, Shard];
    const base = p.handler().deps;
    const real = base.kinesis!;
    const refusing = {
      send: (command: { input: { ShardId?: string } }) => {
        if (command.input.ShardId === broken.shardId) {
          const err = new Error(`shard ${broken.shardId} refused`);
          err.name = 'AccessDeniedException';
          return Promise.reject(err);
        }
        return real.send(command as never);
      },
    } as unknown as KinesisClient;
    const deps = { ...base, kinesis: refusing };
    const onBroken = SENSORS.slice(0, 4);
    const onFine = SENSORS.slice(4);
    const states = [
      ...onBroken.map((id) => claimed(id, broken.shardId, expected(broken, id)[0]!)),
      ...onFine.map((id) => claimed(id, fine.shardId, expected(fine, id)[3]!)),
    ];
    const out = await readClaimedRecords(deps, states, { streamName: p.streamName });
    expect([...out.failed.keys()].sort()).toEqual(onBroken);
    expect([...out.failed.values()].every((e) => e.name === 'AccessDeniedException')).toBe(true);
    for (const id of onFine) {
      expect((out.records.get(id) ?? []).map((r) => r.sequence)).toEqual(
        expected(fine, id, expected(fine, id)[3]!),
      );
    }
    for (const id of onBroken) expect(out.records.has(id)).toBe(false);
  });
});
