/**
 * The local MQTT bridge (local/mqtt/mqtt-bridge.ts) over real sockets into kinesis-local:
 * publishes from mqtt.js and from mosquitto_pub land on the stream, keyed by the topic's
 * sensor id, mapped as the IoT rule would, every payload forwarded; a slow stream holds
 * publishers instead of dropping; close() delivers everything buffered.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { _Record } from '@aws-sdk/client-kinesis';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeReading } from '../../functions/domain/reading.js';
import { MqttBridge } from '../../local/mqtt/mqtt-bridge.js';
import { createTestStream, type TestStream } from './esm-helpers.js';
import { readAllRecords } from './pipeline-helpers.js';

const run = promisify(execFile);
const T0 = Date.parse('2026-01-01T00:00:00Z');
const endpoints = inject('endpoints');

async function connect(url: string): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

async function streamRecords(stream: TestStream): Promise<_Record[]> {
  return (await readAllRecords(stream.clients, stream.streamName)).flatMap((s) => s.records);
}

const textOf = (r: _Record) => Buffer.from(r.Data!).toString('utf8');

async function mosquittoPubAvailable(): Promise<boolean> {
  try {
    await run('mosquitto_pub', ['--help']);
    return true;
  } catch (err) {
    // mosquitto_pub --help exits 1 after printing its usage.
    return (err as { code?: unknown }).code === 1;
  }
}

describe('MQTT bridge', () => {
  let stream: TestStream;
  beforeAll(async () => {
    stream = await createTestStream(endpoints, { shardCount: 2, label: 'mqtt' });
  });
  afterAll(() => stream?.destroy());

  it('forwards mqtt.js publishes, mapped as the IoT rule does, and delivers all on close', async () => {
    const bridge = await MqttBridge.start({ kinesis: stream.clients.kinesis, streamName: stream.streamName });
    expect(bridge.url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    const client = await connect(bridge.url);
    const publish = (topic: string, payload: string | Buffer) =>
      client.publishAsync(topic, payload, { qos: 1 });
    await publish('windowpane/s-1/telemetry', JSON.stringify({ timestamp: T0, temperature: 20 }));
    await publish(
      'windowpane/s-1/telemetry',
      JSON.stringify({ sensorId: 's-1', timestamp: T0 + 1000, temperature: 21 }),
    );
    await publish(
      'windowpane/s-2/telemetry',
      JSON.stringify({ sensorId: 's-9', timestamp: T0, temperature: 22 }),
    );
    await publish('windowpane/s-2/telemetry', 'not json');
    await publish('windowpane/s-2/telemetry', Buffer.from([0x03, 0x00, 0xff]));
    await publish('windowpane/s-2/telemetry/bin', Buffer.from([0xf3, 0x89, 0x9a, 0xc2, 0x00]));
    await publish('windowpane/s-1/status', 'online');
    await client.endAsync();
    await bridge.close();

    const records = await streamRecords(stream);
    const s1 = records
      .filter((r) => r.PartitionKey === 's-1')
      .map((r) => decodeReading(r.Data!, ['temperature']));
    expect(s1).toEqual([
      { ok: true, reading: { sensorId: 's-1', timestamp: T0, values: { temperature: 20 } } },
      { ok: true, reading: { sensorId: 's-1', timestamp: T0 + 1000, values: { temperature: 21 } } },
    ]);
    const s2 = records.filter((r) => r.PartitionKey === 's-2');
    expect(s2).toHaveLength(4);
    expect(decodeReading(s2[0]!.Data!, ['temperature'])).toMatchObject({
      ok: false,
      reason: 'conflicting-sensor-id',
    });
    expect(textOf(s2[1]!)).toBe('not json');
    expect(Buffer.from(s2[2]!.Data!).equals(Buffer.from([0x03, 0x00, 0xff]))).toBe(true);
    expect(Buffer.from(s2[3]!.Data!).equals(Buffer.from([0xf3, 0x89, 0x9a, 0xc2, 0x00]))).toBe(true);
    expect(records).toHaveLength(6);
    expect(bridge.stats).toMatchObject({
      forwarded: 6,
      ignored: 1,
      buffered: 0,
      byDisposition: { unchanged: 4, 'sensor-id-added': 1, 'sensor-id-conflict': 1 },
    });
  });

  it('forwards mosquitto_pub publishes (Debian mosquitto-clients)', async (ctx) => {
    if (!(await mosquittoPubAvailable())) {
      // Skipped only on a machine without the package; in CI (which installs it) a missing
      // mosquitto_pub is a failure, not a skip.
      const reason = 'mosquitto_pub not found: apt-get install -y mosquitto-clients';
      if (process.env.CI) throw new Error(reason);
      console.warn(reason);
      ctx.skip();
    }
    const other = await createTestStream(endpoints, { shardCount: 1, label: 'mosq' });
    const bridge = await MqttBridge.start({ kinesis: other.clients.kinesis, streamName: other.streamName });
    try {
      const payload = JSON.stringify({ timestamp: T0, temperature: 19.5 });
      const pub = (message: string) =>
        run('mosquitto_pub', [
          '-h',
          '127.0.0.1',
          '-p',
          String(bridge.port),
          '-q',
          '1',
          '-t',
          'windowpane/mosq-1/telemetry',
          '-m',
          message,
        ]);
      await pub(payload);
      await pub('{"sensorId":"mosq-1","timestamp":1,"temperature":1}');
      await bridge.close();
      const records = await streamRecords(other);
      expect(records.map((r) => [r.PartitionKey, textOf(r)])).toEqual([
        ['mosq-1', `{"sensor_id":"mosq-1",${payload.slice(1)}`],
        ['mosq-1', '{"sensorId":"mosq-1","timestamp":1,"temperature":1}'],
      ]);
    } finally {
      await bridge.close();
      other.destroy();
    }
  });

  it('holds publishers while the stream is slow, and loses nothing', async () => {
    const slow = await createTestStream(endpoints, {
      shardCount: 1,
      label: 'mqtt-slow',
      // Every PutRecords takes 150 ms longer: the forwarder's buffer fills.
      decorate: (client) => {
        (client.middlewareStack as { add: (mw: unknown, opts: unknown) => void }).add(
          (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
            await new Promise((r) => setTimeout(r, 150));
            return next(args);
          },
          { step: 'initialize', name: 'slowStream' },
        );
        return client;
      },
    });
    const bridge = await MqttBridge.start({
      kinesis: slow.clients.kinesis,
      streamName: slow.streamName,
      maxBuffered: 20,
      lingerMs: 5,
    });
    try {
      const client = await connect(bridge.url);
      const n = 300;
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          client.publishAsync(
            'windowpane/busy/telemetry',
            JSON.stringify({ timestamp: T0 + i, temperature: i }),
            { qos: 1 },
          ),
        ),
      );
      await client.endAsync();
      await bridge.close();
      // The buffer filled (the stream was the bottleneck) and never grew past its bound.
      expect(bridge.stats.maxBuffered).toBe(20);
      const records = await streamRecords(slow);
      expect(records.map((r) => JSON.parse(textOf(r)).temperature)).toEqual(
        Array.from({ length: n }, (_, i) => i),
      );
    } finally {
      await bridge.close();
      slow.destroy();
    }
  });
});
