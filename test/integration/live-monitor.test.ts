/**
 * The live console's open windows with carried state, the default (docs/SEMANTICS.md
 * "Carried state"): the state table holds a carried sensor only as of its claim or last
 * checkpoint, at most a tumbling window (300 s) behind, so the monitor reads the sensors
 * the mapping's tumbling-window state carries from that state. Real emulators, the real
 * handler behind the local event source mapping, as `npm start` runs them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { LiveMonitor } from '../../local/cli/monitor.js';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline/index.js';
import { putRecordsInOrder } from '../../local/put-in-order.js';

const config = parseConfig({ windows: [{ type: 'tumbling', sizeMs: 60_000 }] });
let pipeline: LocalPipeline;

beforeAll(async () => {
  pipeline = await startLocalPipeline({ config, resourceSource: 'config' });
}, 120_000);
afterAll(async () => {
  await pipeline?.stop();
});

async function until(what: string, done: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('live monitor with carried state (the default)', () => {
  it('shows the open windows of carried sensors from the mapping, ahead of the state table', async () => {
    expect(config.eventSource.tumblingWindowSeconds).toBe(300);
    // Readings in the current minute, so their window stays open while the test looks.
    const ts = Math.floor(Date.now() / 60_000) * 60_000;
    const readings = [
      { sensorId: 'm-1', temperature: 20 },
      { sensorId: 'm-1', temperature: 22 },
      { sensorId: 'm-1', temperature: 24 },
      { sensorId: 'm-2', temperature: 10 },
      { sensorId: 'm-2', temperature: 12 },
    ];
    const records = readings.map((r, i) => ({
      line: i + 1,
      partitionKey: r.sensorId,
      data: Buffer.from(JSON.stringify({ ...r, timestamp: ts + i })),
    }));
    await putRecordsInOrder(pipeline.clients.kinesis, pipeline.resources.stream.name, records);
    await until('the mapping to process 5 records', () => pipeline.mapping.stats().records >= 5);

    const carried = pipeline.mapping.windowStates();
    expect(carried.length).toBeGreaterThan(0);
    // The table has the claims only (CS2: the item as it was before the batch).
    const stored = await pipeline.handler.deps.store.loadMany(['m-1', 'm-2']);
    for (const id of ['m-1', 'm-2']) expect(Object.keys(stored.get(id)?.windows ?? {})).toEqual([]);

    const monitor = new LiveMonitor(pipeline, ['m-1', 'm-2']);
    await monitor.poll();
    expect(monitor.snapshot.current.get('m-1')).toMatchObject({
      metric: 'temperature',
      start: ts,
      count: 3,
      mean: 22,
      min: 20,
      max: 24,
    });
    expect(monitor.snapshot.current.get('m-2')).toMatchObject({ start: ts, count: 2, mean: 11 });
  }, 60_000);
});
