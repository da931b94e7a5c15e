/**
 * "Reading: metric values are 0 or a magnitude from 1e-90 to 1e100" (SEMANTICS.md), end to
 * end: readings at the bounds of the domain go through Kinesis and the handler, their
 * windows are committed and written to the results table, and read back as the same
 * doubles. Against dynalite and against moto (started here on a free port), which enforce
 * DynamoDB's number limits each in its own way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { addValue, emptyAggregate, summarize } from '../../functions/domain/aggregate.js';
import { parseConfig } from '../../functions/domain/config.js';
import { createClients, localClientOptions } from '../../functions/lib/clients.js';
import { drainQueue, type EmulatorEndpoints } from '../../local/cloud/index.js';
import {
  createTestPipeline,
  kinesisEvent,
  lambdaContext,
  putRecords,
  readAllRecords,
  scanAll,
  stateOfItem,
  type TestPipeline,
} from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const config = parseConfig({ stream: { shardCount: 1 } });
const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

function nextUp(x: number): number {
  const bits = new BigInt64Array(new Float64Array([x]).buffer);
  bits[0] = bits[0]! + 1n;
  return new Float64Array(bits.buffer)[0]!;
}

/** One window of values each: the largest and smallest magnitudes, cancellations, -0, 2^53+. */
const WINDOWS: number[][] = [
  [1e100, 1e100, 1e100],
  [-1e100, 1e100],
  [1e-90, nextUp(1e-90)],
  [-1e-90, 1e-90, 1e-90],
  [0, -0],
  [1e16, 1e16 + 2, 2 ** 53 + 2],
  [1e100, 1e-90, -1e100, -1e-90],
  [-1e100 / 3, 21.5],
];

const expected = WINDOWS.map((values) => {
  const agg = emptyAggregate(config.stddev);
  for (const v of values) addValue(agg, v);
  return summarize(agg);
});

async function startMoto(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
  // Its own process group: `moto_server` may be a shim that forks the real server.
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
    detached: true,
  });
  const stop = async () => {
    if (child.pid === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    await exited;
  };
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = createClients({ ...localClientOptions({ dynamodb: endpoint }), maxAttempts: 1 });
  try {
    for (const started = Date.now(); ; ) {
      try {
        await probe.dynamodb.send(new ListTablesCommand({}));
        break;
      } catch (err) {
        if (Date.now() - started > 45_000)
          throw new Error(`moto_server did not answer on ${endpoint}: ${err}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    probe.dynamodb.destroy();
  }
  return { endpoint, stop };
}

let moto: Awaited<ReturnType<typeof startMoto>> | undefined;
beforeAll(async () => {
  moto = await startMoto();
}, 60_000);
afterAll(() => moto?.stop());

describe.each([
  ['dynalite', (): EmulatorEndpoints => endpoints],
  ['moto', (): EmulatorEndpoints => ({ ...endpoints, dynamodb: moto!.endpoint })],
])(
  'Reading: values at the bounds of the numeric domain commit and are written exactly (%s)',
  (_name, target) => {
    let p: TestPipeline;
    let failures: unknown[];
    let invalid: unknown[];

    beforeAll(async () => {
      p = await createTestPipeline(target(), config, 'numeric');
      const records = WINDOWS.flatMap((values, w) =>
        values.map((temperature, i) => ({
          partitionKey: 'edge',
          data: Buffer.from(
            // -0 as JSON.stringify would write it is "0"; send the text a producer may send.
            `{"sensorId":"edge","timestamp":${T0 + w * MINUTE + i * 1_000},"temperature":${Object.is(temperature, -0) ? '-0' : temperature}}`,
          ),
        })),
      );
      // A later reading moves the watermark past every window above, so all of them are final.
      records.push({
        partitionKey: 'edge',
        data: Buffer.from(
          JSON.stringify({
            sensorId: 'edge',
            timestamp: T0 + (WINDOWS.length + 1) * MINUTE,
            temperature: 20,
          }),
        ),
      });
      await putRecords(p.clients, p.streamName, records);
      const [shard] = await readAllRecords(p.clients, p.streamName);
      const res = await p.handler()(
        kinesisEvent(shard!.shardId, shard!.records, p.streamArn),
        lambdaContext(),
      );
      failures = res.batchItemFailures;
      invalid = await drainQueue(p.clients, p.queues.invalid, { waitMs: 300 });
    }, 120_000);

    afterAll(() => p?.destroy());

    it('accepts every reading and fails none', () => {
      expect(invalid).toEqual([]);
      expect(failures).toEqual([]);
    });

    it('writes each final window, and reads back the same doubles', async () => {
      const items = (await scanAll(p.clients, p.tables.results)) as {
        windowStart: number;
        metrics: { temperature: unknown };
      }[];
      items.sort((a, b) => a.windowStart - b.windowStart);
      expect(items.map((i) => i.windowStart)).toEqual(WINDOWS.map((_, w) => T0 + w * MINUTE));
      expect(items.map((i) => i.metrics.temperature)).toEqual(expected);
      // -0 reads as 0, so a window of zeros has min and max +0.
      expect(Object.is((items[4]!.metrics.temperature as { min: number }).min, 0)).toBe(true);
    });

    it("commits the sensor's state, with the open window of the last reading", async () => {
      const [state] = await scanAll(p.clients, p.tables.state);
      expect(state?.sensorId).toBe('edge');
      const body = stateOfItem(state!);
      expect(Object.values(body.windows).map((w) => w.aggs.temperature!.count)).toEqual([1]);
    });
  },
);
