/**
 * The sample data in events/: it is what the generator produces today (no drift), it
 * shows what it claims to show, and the Kinesis event helper builds Lambda's shape.
 */
import { readFileSync } from 'node:fs';
import type { KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { kinesisBatch, SMALL_READINGS_OPTIONS, smallReadings, toJsonl } from '../../events/generate.js';
import {
  buildKinesisEvent,
  DEFAULT_STREAM_ARN,
  fakeSequenceNumber,
  InvalidStreamArnError,
} from '../../events/kinesis-event.js';
import { decodeReading } from '../../functions/domain/reading.js';

const METRICS = ['temperature'];
const read = (name: string) => readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8');
const encoder = new TextEncoder();

describe('events/readings-small.jsonl', () => {
  const text = read('readings-small.jsonl');
  const lines = text.split('\n').slice(0, -1);

  it('is what `npx tsx events/generate.ts` produces from the current simulator', () => {
    expect(text).toBe(toJsonl(smallReadings()));
  });

  it('holds 3 sensors × 5 minutes at 1 Hz plus late extras, one record per line', () => {
    expect(text.endsWith('\n')).toBe(true);
    const ticks = 3 * 300;
    const late = smallReadings().filter((r) => r.kind === 'late').length;
    expect(lines).toHaveLength(ticks + late);
  });

  it('has valid readings, invalid records and every default rule firing', () => {
    const results = lines.map((line) => decodeReading(encoder.encode(line), METRICS));
    const invalid = results.filter((r) => !r.ok);
    expect(invalid.length).toBeGreaterThanOrEqual(2);
    const valid = results.flatMap((r) => (r.ok ? [r.reading] : []));
    const temps = valid.map((r) => r.values.temperature!);
    expect(temps.some((t) => t > 35)).toBe(true);
    expect(temps.some((t) => t < 5)).toBe(true);
    const previous = new Map<string, number>();
    let jumps = 0;
    for (const r of valid) {
      const last = previous.get(r.sensorId);
      if (last !== undefined && Math.abs(r.values.temperature! - last) > 5) jumps++;
      previous.set(r.sensorId, r.values.temperature!);
    }
    expect(jumps).toBeGreaterThan(0);
    expect(new Set(valid.map((r) => r.sensorId))).toEqual(new Set(['sensor_1', 'sensor_2', 'sensor_3']));
    expect(Math.min(...valid.map((r) => r.timestamp))).toBe(SMALL_READINGS_OPTIONS.startMs);
  });
});

describe('events/kinesis-batch.json', () => {
  const event = JSON.parse(read('kinesis-batch.json')) as KinesisStreamEvent;

  it('is what the generator produces', () => {
    expect(event).toEqual(kinesisBatch());
  });

  it('carries 21 records of 3 sensors in Lambda shape, exactly one of them invalid', () => {
    expect(event.Records).toHaveLength(21);
    const reasons = event.Records.map((r) => {
      expect(r.eventID).toBe(`shardId-000000000000:${r.kinesis.sequenceNumber}`);
      expect(r.eventSource).toBe('aws:kinesis');
      expect(r.eventName).toBe('aws:kinesis:record');
      const result = decodeReading(Buffer.from(r.kinesis.data, 'base64'), METRICS);
      if (result.ok) expect(result.reading.sensorId).toBe(r.kinesis.partitionKey);
      return result.ok ? 'ok' : result.reason;
    });
    expect(reasons.filter((r) => r !== 'ok')).toEqual(['non-finite-number']);
    expect(new Set(event.Records.map((r) => r.kinesis.partitionKey)).size).toBe(3);
    const sequences = event.Records.map((r) => BigInt(r.kinesis.sequenceNumber));
    expect([...sequences].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequences);
  });
});

describe('buildKinesisEvent', () => {
  const data = encoder.encode('{"sensorId":"s","timestamp":0,"temperature":1}');

  it('builds a Lambda Kinesis record with base64 data and the shard in the event id', () => {
    const arrival = new Date('2026-01-01T00:00:01.250Z');
    const event = buildKinesisEvent(
      [
        {
          partitionKey: 's',
          data,
          sequenceNumber: '4955',
          shardId: 'shardId-000000000003',
          approximateArrivalTimestamp: arrival,
        },
      ],
      { streamArn: 'arn:aws:kinesis:eu-central-1:111122223333:stream/readings' },
    );
    expect(event.Records).toEqual([
      {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: 's',
          sequenceNumber: '4955',
          data: Buffer.from(data).toString('base64'),
          approximateArrivalTimestamp: 1767225601.25,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: 'shardId-000000000003:4955',
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: expect.stringMatching(/^arn:aws:iam::\d{12}:role\//),
        awsRegion: 'eu-central-1',
        eventSourceARN: 'arn:aws:kinesis:eu-central-1:111122223333:stream/readings',
      },
    ]);
    expect(Buffer.from(event.Records[0]!.kinesis.data, 'base64')).toEqual(Buffer.from(data));
  });

  it('encodes only the view of a subarray, and defaults shard, stream and arrival time', () => {
    const before = Date.now() / 1000;
    const backing = encoder.encode(`xx${new TextDecoder().decode(data)}yy`);
    const [record] = buildKinesisEvent([
      { partitionKey: 's', data: backing.subarray(2, backing.length - 2), sequenceNumber: '1' },
    ]).Records;
    expect(Buffer.from(record!.kinesis.data, 'base64').toString()).toBe(new TextDecoder().decode(data));
    expect(record!.eventID).toBe('shardId-000000000000:1');
    expect(record!.eventSourceARN).toBe(DEFAULT_STREAM_ARN);
    expect(record!.awsRegion).toBe('us-east-1');
    expect(record!.kinesis.approximateArrivalTimestamp).toBeGreaterThanOrEqual(before);
    expect(record!.kinesis.approximateArrivalTimestamp).toBeLessThanOrEqual(Date.now() / 1000);
  });

  it('rejects a stream ARN it cannot take the region from', () => {
    expect(() => buildKinesisEvent([], { streamArn: 'arn:aws:sqs:us-east-1:123456789012:q' })).toThrow(
      InvalidStreamArnError,
    );
  });
});

describe('fakeSequenceNumber', () => {
  it('is 56 digits and orders like its index, as a string and as a number', () => {
    const indexes = [0, 1, 9, 10, 999, Number.MAX_SAFE_INTEGER, 10n ** 40n];
    const sequences = indexes.map((n) => fakeSequenceNumber(n));
    for (const s of sequences) expect(s).toMatch(/^49\d{54}$/);
    expect([...sequences].sort()).toEqual(sequences);
    expect(sequences.map((s) => BigInt(s) - 49n * 10n ** 54n)).toEqual(indexes.map((n) => BigInt(n)));
  });

  it('rejects negative indexes', () => {
    expect(() => fakeSequenceNumber(-1)).toThrow(RangeError);
  });
});
