/**
 * The benchmark's new comparison points: the physical floor, the Powertools peer's
 * request pattern (with its in-memory persistence), and the scale model's arithmetic.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { floorProcessBatch } from '../../bench/floor.js';
import { benchContext, buildPeerHandler, type PeerSinks } from '../../bench/peer.js';
import { MemoryPersistenceLayer } from '../../bench/peer-sinks.js';
import { carriedUnitsPerReading, QUOTAS, type ScaleInputs, scaleModel } from '../../bench/scale.js';
import { buildKinesisEvent, fakeSequenceNumber } from '../../events/kinesis-event.js';
import { DEFAULT_CONFIG } from '../../functions/domain/config.js';

const T0 = Date.UTC(2026, 0, 1);

function eventOf(bodies: readonly string[]): KinesisStreamEvent {
  return buildKinesisEvent(
    bodies.map((body, i) => ({
      partitionKey: `s${i % 2}`,
      data: Buffer.from(body),
      sequenceNumber: fakeSequenceNumber(i + 1),
    })),
  );
}

const reading = (sensorId: string, i: number, v: number) =>
  JSON.stringify({ sensorId, timestamp: T0 + i * 1_000, temperature: v });

describe('physical floor', () => {
  it('folds count and sum per partition key and skips what does not parse', () => {
    const totals = new Map();
    const n = floorProcessBatch(
      eventOf([reading('s0', 0, 20), reading('s1', 1, 21), 'nope', reading('s1', 3, 1)]),
      'temperature',
      totals,
    );
    expect(n).toBe(3);
    expect(totals.get('s0')).toEqual({ count: 1, sum: 20 });
    expect(totals.get('s1')).toEqual({ count: 2, sum: 22 });
  });
});

describe('Powertools peer', () => {
  it('writes each reading once, raises the tutorial alerts, and is idempotent per eventID', async () => {
    const writes: string[] = [];
    const alerts: string[] = [];
    const sinks: PeerSinks = {
      addReading: async (sensorId, windowKey) => {
        writes.push(`${sensorId}#${windowKey}`);
      },
      publish: async (a) => {
        alerts.push(a.rule);
      },
    };
    const persistence = new MemoryPersistenceLayer();
    const handler = buildPeerHandler({ config: DEFAULT_CONFIG, persistence, sinks });
    const event = eventOf([reading('s0', 0, 20), reading('s1', 1, 40), '{not json', reading('s1', 3, 21)]);
    const response = await handler(event, benchContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(handler.counters).toMatchObject({ valid: 3, invalid: 1 });
    expect(writes).toHaveLength(3);
    expect(alerts).toContain('too-hot');
    // Redelivered: Powertools finds every record completed and runs nothing again.
    await handler(event, benchContext());
    expect(writes).toHaveLength(3);
  });
});

describe('scale model', () => {
  it('prices the carried design from results, journal and checkpoints (design section 7)', () => {
    const u = carriedUnitsPerReading(1, 0.0159, 0.0204, 100, 900);
    expect(u.write).toBeCloseTo(0.0159 + (1 - Math.exp(-2.04)) / 100 + 1 / 900, 6);
    expect(u.read).toBeCloseTo((1 - Math.exp(-2.04)) / 100 + 1 / 900, 6);
  });

  it('sizes shards, concurrency and names the first limit each design meets', () => {
    const inputs: ScaleInputs = {
      recordBytes: 100,
      units: {
        perBatch: { '1': { write: 0.25, read: 0.22 }, '0.1': { write: 1.45, read: 1.02 } },
        naive: { '1': { write: 1.05, read: 0 }, '0.1': { write: 1.05, read: 0 } },
        powertools: { '1': { write: 3, read: 0 }, '0.1': { write: 3, read: 0 } },
      },
      rates: { '1': { finals: 0.0159, alerts: 0.0205 }, '0.1': { finals: 0.164, alerts: 0.033 } },
      tumblingWindowSeconds: 900,
    };
    const rows = scaleModel(inputs);
    expect(rows).toHaveLength(6);
    const million = rows.find((r) => r.sensors === 1_000_000 && r.rateHz === 1)!;
    expect(million.recordsPerSecond).toBe(1_000_000);
    expect(million.shardsForThroughput).toBe(1_250);
    expect(million.onDemandFits).toBe(false);
    const naive = million.designs.find((d) => d.design === 'naive')!;
    expect(naive.writeUnitsPerSecond).toBe(1_050_000);
    expect(naive.breaksFirst).toMatch(/shard quota/);
    const small = rows.find((r) => r.sensors === 10_000 && r.rateHz === 0.1)!;
    // 10k sensors at 0.1 Hz: 1,000 records/s on 2 shards, but 10k x 190 B of carried state needs 3.
    expect(small.shardsForThroughput).toBe(2);
    expect(small.shardsForCarriedState).toBe(
      Math.ceil((10_000 * 190) / (QUOTAS.tumblingStateBytesPerShard * 0.85)),
    );
    expect(small.designs.every((d) => d.breaksFirst === 'none')).toBe(true);
    const peer100k = rows
      .find((r) => r.sensors === 100_000 && r.rateHz === 1)!
      .designs.find((d) => d.design === 'powertools')!;
    expect(peer100k.breaksFirst).toMatch(/DynamoDB table writes/);
  });
});
