/**
 * The MQTT-to-stream mapping (local/mqtt/telemetry-mapping.ts) and the Kinesis forwarder's
 * batching, ordering, retries and backpressure (local/mqtt/kinesis-forwarder.ts), with a
 * scripted Kinesis client for the failures kinesis-local cannot produce (throttled entries).
 */
import type { PutRecordsCommand, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { decodeReading } from '../../functions/domain/reading.js';
import { ForwardError, KinesisForwarder } from '../../local/mqtt/kinesis-forwarder.js';
import { sensorIdOfTopic, telemetryRecord } from '../../local/mqtt/telemetry-mapping.js';

const text = new TextEncoder();
const T0 = Date.parse('2026-01-01T00:00:00Z');
const TOPIC = 'windowpane/sensor-7/telemetry';

function mapped(payload: string | Uint8Array, topic = TOPIC) {
  const record = telemetryRecord(topic, typeof payload === 'string' ? text.encode(payload) : payload);
  if (record === undefined) throw new Error('not forwarded');
  return { ...record, text: Buffer.from(record.data).toString('utf8') };
}

describe('MQTT telemetry: which topics are forwarded', () => {
  it.each([
    ['windowpane/sensor-7/telemetry', 'sensor-7'],
    ['windowpane/sensor-7/telemetry/bin', 'sensor-7'],
    ['windowpane/a b/telemetry', 'a b'],
    ['windowpane//telemetry', undefined],
    ['windowpane/a/b/telemetry', undefined],
    ['windowpane/sensor-7/status', undefined],
    ['windowpane/sensor-7/telemetry/json', undefined],
    ['other/sensor-7/telemetry', undefined],
  ])('%j -> %j', (topic, id) => {
    expect(sensorIdOfTopic(topic)).toBe(id);
    expect(telemetryRecord(topic, text.encode('{}'))?.partitionKey).toBe(id);
  });

  it('the partition key is cut to 256 characters (Kinesis limit); the id in the record is not', () => {
    const long = 'é'.repeat(300);
    const record = mapped('{"timestamp":1}', `windowpane/${long}/telemetry`);
    expect(Array.from(record.partitionKey)).toHaveLength(256);
    expect(JSON.parse(record.text).sensor_id).toBe(long);
  });
});

describe('MQTT telemetry: the sensor id comes from the topic when the payload has none', () => {
  it('adds sensor_id (as the rule does: SELECT *, topic(2) AS sensor_id) in front of the payload, keeping its bytes', () => {
    const record = mapped(`{ "timestamp": ${T0}, "temperature": 21 }`);
    expect(record.disposition).toBe('sensor-id-added');
    expect(record.text).toBe(`{"sensor_id":"sensor-7", "timestamp": ${T0}, "temperature": 21 }`);
    expect(decodeReading(record.data, ['temperature'])).toMatchObject({
      ok: true,
      reading: { sensorId: 'sensor-7' },
    });
  });

  it('an empty object gets no trailing comma', () => {
    expect(mapped('{  }').text).toBe('{"sensor_id":"sensor-7"  }');
  });

  it('keeps what else is wrong with the payload visible to the handler', () => {
    const record = mapped(`{"timestamp":${T0},"temperature":1,"temperature":2}`);
    expect(decodeReading(record.data, ['temperature'])).toMatchObject({ ok: false, reason: 'duplicate-key' });
  });

  it('a payload whose ids agree with the topic is forwarded byte for byte', () => {
    for (const payload of [
      `{"sensorId":"sensor-7","timestamp":${T0},"temperature":1}`,
      `{"sensor_id":"sensor-7","timestamp":${T0},"temperature":1}`,
      `{"sensorId":"sensor-7","sensor_id":"sensor-7","timestamp":${T0},"temperature":1}`,
    ]) {
      const record = mapped(payload);
      expect([record.disposition, record.text]).toEqual(['unchanged', payload]);
    }
  });
});

describe('MQTT telemetry: a payload that names another sensor is refused by the handler', () => {
  it.each([
    [`{"sensorId":"sensor-8","timestamp":${T0},"temperature":1}`, 'conflicting-sensor-id'],
    [`{"sensor_id":"sensor-8","timestamp":${T0},"temperature":1}`, 'conflicting-sensor-id'],
    [
      `{"sensorId":"sensor-8","sensor_id":"sensor-9","timestamp":${T0},"temperature":1}`,
      'conflicting-sensor-id',
    ],
    [`{"sensorId":"sensor-8","sensor_id":"sensor-8","timestamp":${T0},"temperature":1}`, 'duplicate-key'],
    [`{"sensorId":42,"timestamp":${T0},"temperature":1}`, 'conflicting-sensor-id'],
  ])('%s -> %s', (payload, reason) => {
    const record = mapped(payload);
    expect(record.disposition).toBe('sensor-id-conflict');
    const decoded = decodeReading(record.data, ['temperature']);
    expect(decoded).toMatchObject({ ok: false, reason });
  });

  it('the detail names both ids', () => {
    const decoded = decodeReading(mapped(`{"sensorId":"sensor-8","timestamp":${T0},"temperature":1}`).data, [
      'temperature',
    ]);
    expect(decoded.ok ? '' : decoded.detail).toBe('sensorId "sensor-8" and sensor_id "sensor-7" differ');
  });
});

describe('MQTT telemetry: the binary topic passes payloads unchanged (SELECT * FROM .../telemetry/bin)', () => {
  it.each([
    ['a Glue Avro header', Uint8Array.of(0x03, 0x00, 1, 2, 3)],
    ['a KPL aggregate magic', Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2, 0)],
    ['JSON without an id (nothing is added on this topic)', text.encode(`{"timestamp":${T0}}`)],
  ])('%s', (_what, payload) => {
    const record = mapped(payload, 'windowpane/sensor-7/telemetry/bin');
    expect(record.disposition).toBe('unchanged');
    expect(Buffer.from(record.data).equals(Buffer.from(payload))).toBe(true);
    expect(record.partitionKey).toBe('sensor-7');
  });
});

describe('MQTT telemetry: anything else is forwarded unchanged, for the invalid sink to see', () => {
  it.each([
    ['not JSON', text.encode('temperature=21')],
    ['a JSON array', text.encode('[1,2]')],
    ['not UTF-8', Uint8Array.of(0xff, 0xfe, 0x7b)],
    ['binary (Glue Avro header)', Uint8Array.of(0x03, 0x00, 1, 2, 3)],
    ['empty', new Uint8Array(0)],
  ])('%s', (_what, payload) => {
    const record = mapped(payload);
    expect(record.disposition).toBe('unchanged');
    expect(Buffer.from(record.data).equals(Buffer.from(payload))).toBe(true);
    expect(record.partitionKey).toBe('sensor-7');
  });
});

/** A Kinesis client whose PutRecords answers come from a script (entries failed by index). */
class ScriptedKinesis {
  readonly calls: { keys: string[] }[] = [];
  readonly stream: string[] = [];
  constructor(
    private readonly script: (call: number, size: number) => number[] | Error = () => [],
    private readonly delayMs = 0,
  ) {}
  async send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
    const entries = command.input.Records ?? [];
    const call = this.calls.length;
    this.calls.push({ keys: entries.map((e) => Buffer.from(e.Data!).toString()) });
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const failed = this.script(call, entries.length);
    if (failed instanceof Error) throw failed;
    const records = entries.map((e, i) => {
      if (failed.includes(i))
        return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' };
      this.stream.push(Buffer.from(e.Data!).toString());
      return { SequenceNumber: String(this.stream.length), ShardId: 'shardId-000000000000' };
    });
    return { Records: records, FailedRecordCount: failed.length, $metadata: {} };
  }
}

const fast = { baseMs: 1, maxMs: 5, jitter: 'full', maxAttempts: 3 } as const;
const rec = (i: number) => ({ partitionKey: `k${i % 3}`, data: text.encode(String(i)) });
const numbers = (n: number) => Array.from({ length: n }, (_, i) => String(i));

describe('Kinesis forwarder: batches, order, retries, backpressure', () => {
  it('sends full batches of 500 at once and the rest after the linger', async () => {
    const kinesis = new ScriptedKinesis();
    const forwarder = new KinesisForwarder({ kinesis, streamName: 's', lingerMs: 20 });
    for (let i = 0; i < 1_100; i++) await forwarder.enqueue(rec(i));
    await new Promise((r) => setTimeout(r, 100));
    expect(kinesis.stream).toEqual(numbers(1_100));
    expect(kinesis.calls.map((c) => c.keys.length)).toEqual([500, 500, 100]);
    await forwarder.close();
  });

  it('sends failed entries again, only them and in order: no second copies', async () => {
    // Call 0: entries 3 and 7 throttled; call 1 (entries 3 and 7 again): entry 3 once more.
    const kinesis = new ScriptedKinesis((call) => (call === 0 ? [3, 7] : call === 1 ? [0] : []));
    const forwarder = new KinesisForwarder({ kinesis, streamName: 's', retry: fast });
    for (let i = 0; i < 10; i++) await forwarder.enqueue(rec(i));
    await forwarder.close();
    expect([...kinesis.stream].sort((a, b) => Number(a) - Number(b))).toEqual(numbers(10));
    expect(kinesis.stream).toEqual(['0', '1', '2', '4', '5', '6', '8', '9', '7', '3']);
    expect(kinesis.calls.map((c) => c.keys)).toEqual([numbers(10), ['3', '7'], ['3']]);
    // Key k0 (0, 3, 6, 9): 3 landed after 6 and 9. Key k1 (1, 4, 7): 7 was its last
    // record, so its order held.
    expect(forwarder.stats).toMatchObject({
      forwarded: 10,
      retriedEntries: 3,
      buffered: 0,
      reorderedKeys: 1,
    });
  });

  it('a request that keeps failing is reported, kept, and sent later: nothing dropped', async () => {
    let down = true;
    const kinesis = new ScriptedKinesis(() => (down ? new Error('connect ECONNREFUSED') : []));
    const errors: ForwardError[] = [];
    const forwarder = new KinesisForwarder({
      kinesis,
      streamName: 's',
      lingerMs: 5,
      retry: fast,
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < 5; i++) await forwarder.enqueue(rec(i));
    await new Promise((r) => setTimeout(r, 50));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toBeInstanceOf(ForwardError);
    expect(forwarder.stats.buffered).toBe(5);
    down = false;
    await forwarder.close();
    expect(kinesis.stream).toEqual(numbers(5));
  });

  it('close rejects, naming the count, when records cannot be put', async () => {
    // The first request takes entries 0 and 1; every later one fails whole.
    const kinesis = new ScriptedKinesis((call, size) =>
      Array.from({ length: size }, (_, i) => i).slice(call === 0 ? 2 : 0),
    );
    const forwarder = new KinesisForwarder({ kinesis, streamName: 's', lingerMs: 1_000, retry: fast });
    for (let i = 0; i < 5; i++) await forwarder.enqueue(rec(i));
    await expect(forwarder.close()).rejects.toThrow(/3 records were not put on s/);
    // The two that got through are on the stream, once each; the three others stay buffered.
    expect(kinesis.stream).toEqual(['0', '1']);
    expect(forwarder.stats).toMatchObject({ forwarded: 2, buffered: 3 });
  });

  it('holds producers while the buffer is full', async () => {
    const kinesis = new ScriptedKinesis(() => [], 30);
    const forwarder = new KinesisForwarder({ kinesis, streamName: 's', lingerMs: 1, maxBuffered: 4 });
    let accepted = 0;
    const producing = (async () => {
      for (let i = 0; i < 40; i++) {
        await forwarder.enqueue(rec(i));
        accepted++;
      }
    })();
    await new Promise((r) => setTimeout(r, 15));
    expect(accepted).toBeLessThanOrEqual(4);
    await producing;
    await forwarder.close();
    expect(kinesis.stream).toEqual(numbers(40));
    expect(forwarder.stats.maxBuffered).toBeLessThanOrEqual(4);
  });
});
