/**
 * MQTT in, windows and alerts out (issue 12): readings published to the local MQTT bridge
 * with mqtt.js and with Debian's mosquitto_pub, on `windowpane/<sensorId>/telemetry`
 * without a sensor id in the payload (the topic names the sensor, as the IoT rule maps
 * it), go through the stream, the local event source mapping and the real handler, and
 * come out as a final window and a too-hot alert for each sensor. Binary payloads on
 * `.../telemetry/bin` (Glue-framed Avro, a KPL aggregate) share the stream with them.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { uniquePrefix } from '../../local/cloud/index.js';
import { aggregate } from '../../local/kpl-aggregator.js';
import { MqttBridge } from '../../local/mqtt/mqtt-bridge.js';
import { type LocalPipeline, type PipelineOutputs, startLocalPipeline } from '../../local/pipeline/index.js';
import { AvroReadingEncoder } from '../../local/registry/avro-producer.js';

const run = promisify(execFile);
const endpoints = inject('endpoints');
const config = parseConfig({ stream: { shardCount: 1 } });
// A recent minute: event times must be within a day of arrival.
const T0 = Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000;
/** Six readings in the first minute (one hot), then one past its end plus the lateness. */
const SERIES = [
  [0, 20],
  [1_000, 21],
  [2_000, 40],
  [3_000, 22],
  [4_000, 20],
  [5_000, 21],
  [75_000, 20],
] as const;
const payload = ([dt, temperature]: readonly [number, number]) =>
  JSON.stringify({ timestamp: T0 + dt, temperature });

let pipeline: LocalPipeline;
let bridge: MqttBridge;
let outputs: PipelineOutputs;

beforeAll(async () => {
  pipeline = await startLocalPipeline({
    config,
    target: localClientOptions(endpoints),
    prefix: uniquePrefix('mqtt-e2e'),
    resourceSource: 'config',
  });
  bridge = await MqttBridge.start({
    kinesis: pipeline.clients.kinesis,
    streamName: pipeline.resources.stream.name,
  });

  const client = await mqtt.connectAsync(bridge.url, { reconnectPeriod: 0, connectTimeout: 10_000 });
  for (const point of SERIES)
    await client.publishAsync('windowpane/m-js/telemetry', payload(point), { qos: 1 });
  // Binary payloads on /telemetry/bin, unchanged: Glue-framed Avro, and one KPL aggregate.
  const avro = new AvroReadingEncoder({ registry: pipeline.schemaRegistry, metrics: config.metrics });
  for (const [dt, temperature] of SERIES) {
    const data = avro.encodeReading({ sensorId: 'm-avro', timestamp: T0 + dt, values: { temperature } })!;
    await client.publishAsync('windowpane/m-avro/telemetry/bin', data, { qos: 1 });
  }
  const users = SERIES.map(([dt, temperature]) => ({
    partitionKey: 'm-kpl',
    data: Buffer.from(JSON.stringify({ sensorId: 'm-kpl', timestamp: T0 + dt, temperature })),
  }));
  await client.publishAsync('windowpane/m-kpl/telemetry/bin', aggregate(users), { qos: 1 });
  await client.endAsync();
  for (const point of SERIES) {
    await run('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(bridge.port), '-q', '1'],
      ...['-t', 'windowpane/m-cli/telemetry', '-m', payload(point)],
    ]);
  }

  await bridge.close();
  await pipeline.mapping.drain({ timeoutMs: 60_000 });
  outputs = await pipeline.collect({ waitMs: 1_000 });
}, 180_000);

afterAll(async () => {
  await bridge?.close();
  await pipeline?.stop();
});

describe('MQTT publish -> a final window and an alert', () => {
  const SENSORS = ['m-js', 'm-cli', 'm-avro', 'm-kpl'];
  it.each(SENSORS)('%s: the first minute is a final window of its six readings', (sensorId) => {
    const windows = outputs.windows.filter((w) => w.sensorId === sensorId);
    expect(windows).toEqual([
      expect.objectContaining({ windowStart: T0, windowEnd: T0 + 60_000, count: 6, max: 40, min: 20 }),
    ]);
  });

  it.each(SENSORS)('%s: the hot reading fired too-hot', (sensorId) => {
    const alerts = outputs.alerts.filter((a) => a.sensorId === sensorId && a.rule === 'too-hot');
    expect(alerts).toEqual([expect.objectContaining({ value: 40, timestamp: T0 + 2_000 })]);
  });

  it('every publish was forwarded and none was invalid', () => {
    expect(bridge.stats.forwarded).toBe(3 * SERIES.length + 1);
    expect(outputs.invalid).toEqual([]);
  });
});
