/**
 * How `replay` turns input bytes into records and puts them on the stream: line splitting,
 * partition keys, size limits, and resending only the entries PutRecords reported failed,
 * in their order. The partial failures are produced with aws-sdk-client-mock because the
 * emulator never throttles.
 */
import { KinesisClient, PutRecordsCommand, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { putRecordsInOrder, ReplaySendError } from '../../local/put-in-order.js';
import {
  MAX_RECORD_BYTES,
  partitionKeyOf,
  ReplayInputError,
  type ReplayRecord,
  splitLines,
  toRecords,
  UNPARSED_PARTITION_KEY,
} from '../../local/replay-input.js';

const text = (lines: Buffer[]) => lines.map((l) => l.toString('utf8'));

describe('splitLines', () => {
  it.each([
    ['', []],
    ['a', ['a']],
    ['a\n', ['a']],
    ['a\nb', ['a', 'b']],
    ['a\r\nb\r\n', ['a', 'b']],
    ['a\n\nb\n', ['a', '', 'b']],
    ['\n', ['']],
    ['a\rb\n', ['a\rb']],
  ])('%j -> %j', (input, expected) => {
    expect(text(splitLines(Buffer.from(input)))).toEqual(expected);
  });

  it('keeps bytes that are not UTF-8 as they are', () => {
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]);
    expect(splitLines(bytes)).toEqual([Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]);
  });
});

describe('partitionKeyOf', () => {
  it.each([
    ['{"sensorId":"s-1","temperature":1,"timestamp":0}', 's-1'],
    ['{"sensor_id":"s-2","temperature":1,"timestamp":"2026-01-01T00:00:00Z"}', 's-2'],
    ['\uFEFF{"sensorId":"bom"}', 'bom'],
    ['{"sensorId":"a","sensor_id":"b"}', 'a'],
    ['{"sensorId":5,"sensor_id":"b"}', 'b'],
    ['{"sensor_id": "s", "temperature": NaN}', UNPARSED_PARTITION_KEY],
    ['not json', UNPARSED_PARTITION_KEY],
    ['[1,2]', UNPARSED_PARTITION_KEY],
    ['{"sensorId":""}', UNPARSED_PARTITION_KEY],
    [`{"sensorId":"${'x'.repeat(257)}"}`, UNPARSED_PARTITION_KEY],
    ['', UNPARSED_PARTITION_KEY],
  ])('%j -> %j', (line, key) => {
    expect(partitionKeyOf(Buffer.from(line))).toBe(key);
  });
});

describe('toRecords', () => {
  it('numbers lines from 1', () => {
    const records = toRecords([Buffer.from('{"sensorId":"a"}'), Buffer.from('x')]);
    expect(records.map((r) => [r.line, r.partitionKey])).toEqual([
      [1, 'a'],
      [2, UNPARSED_PARTITION_KEY],
    ]);
  });

  it('refuses a line larger than a Kinesis record, naming it', () => {
    const big = Buffer.alloc(MAX_RECORD_BYTES, 0x61);
    expect(() => toRecords([Buffer.from('ok'), big])).toThrow(ReplayInputError);
    expect(() => toRecords([Buffer.from('ok'), big])).toThrow(/line 2/);
  });
});

describe('putRecordsInOrder', () => {
  const kinesisMock = mockClient(KinesisClient);
  afterEach(() => kinesisMock.reset());
  const noWait = { sleep: async () => {} };

  const records = (keys: string[]): ReplayRecord[] =>
    keys.map((k, i) => ({ line: i + 1, partitionKey: k, data: Buffer.from(`r${i + 1}`) }));
  const sentData = (call: number) =>
    (kinesisMock.commandCalls(PutRecordsCommand)[call]!.args[0].input as PutRecordsCommandInput).Records!.map(
      (r) => Buffer.from(r.Data!).toString(),
    );
  let seq = 0;
  const ok = (shard = 'shardId-000000000000') => ({ ShardId: shard, SequenceNumber: String(++seq) });
  const throttled = { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' };

  it('sends at most 500 entries a request, in file order, and maps every line to its record id', async () => {
    kinesisMock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => ({
      Records: input.Records!.map(() => ok()),
      FailedRecordCount: 0,
    }));
    const input = records(Array.from({ length: 1_203 }, (_, i) => `k${i % 7}`));
    const result = await putRecordsInOrder(new KinesisClient({}), 's', input, noWait);
    const calls = kinesisMock.commandCalls(PutRecordsCommand);
    expect(calls.map((c) => c.args[0].input.Records!.length)).toEqual([500, 500, 203]);
    expect([0, 1, 2].flatMap(sentData)).toEqual(input.map((r) => Buffer.from(r.data).toString()));
    expect(new Set(result.ids).size).toBe(1_203);
    expect(result.retried).toBe(0);
  });

  it('sends fewer entries a request while the stream answers slowly, and 500 again once it is quick', async () => {
    // Each answer takes 1 ms per entry on a clock the test controls: 500 entries take 500 ms
    // (quick), and the stream turns slow (30 ms per entry) for the requests after the first.
    let clock = 0;
    let perEntryMs = 1;
    kinesisMock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
      clock += input.Records!.length * perEntryMs;
      perEntryMs = kinesisMock.commandCalls(PutRecordsCommand).length >= 4 ? 1 : 30;
      return { Records: input.Records!.map(() => ok()), FailedRecordCount: 0 };
    });
    const input = records(Array.from({ length: 2_000 }, (_, i) => `k${i % 3}`));
    const result = await putRecordsInOrder(new KinesisClient({}), 's', input, {
      ...noWait,
      now: () => clock,
    });
    const sizes = kinesisMock.commandCalls(PutRecordsCommand).map((c) => c.args[0].input.Records!.length);
    // 500 quick; 500 at 30 ms (15 s: halve); 250 (7.5 s: halve); 125 (3.75 s: keep); then
    // quick again: 125, 250, doubling back towards 500 for the rest.
    expect(sizes).toEqual([500, 500, 250, 125, 125, 250, 250]);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2_000);
    expect([...sizes.keys()].flatMap(sentData)).toEqual(input.map((r) => Buffer.from(r.data).toString()));
    expect(new Set(result.ids).size).toBe(2_000);
  });

  it('resends only the failed entries, in their order, so nothing is on the stream twice', async () => {
    kinesisMock
      .on(PutRecordsCommand)
      .resolvesOnce({ Records: [ok(), throttled, ok(), throttled], FailedRecordCount: 2 })
      .resolvesOnce({ Records: [throttled, ok()], FailedRecordCount: 1 })
      .resolvesOnce({ Records: [ok()], FailedRecordCount: 0 });
    // Keys: the failed entries (2 and 4) are the last of their keys in the request.
    const result = await putRecordsInOrder(new KinesisClient({}), 's', records(['a', 'b', 'a', 'c']), noWait);
    expect([0, 1, 2].map(sentData)).toEqual([['r1', 'r2', 'r3', 'r4'], ['r2', 'r4'], ['r2']]);
    expect(result.retried).toBe(3);
    expect(result.reorderedKeys).toEqual([]);
    expect(result.ids.every((id) => id !== undefined)).toBe(true);
  });

  it('reports a key whose order a partial failure broke', async () => {
    kinesisMock
      .on(PutRecordsCommand)
      .resolvesOnce({ Records: [throttled, ok(), ok()], FailedRecordCount: 1 })
      .resolvesOnce({ Records: [ok()], FailedRecordCount: 0 });
    const result = await putRecordsInOrder(new KinesisClient({}), 's', records(['a', 'b', 'a']), noWait);
    expect(result.reorderedKeys).toEqual(['a']);
  });

  it('gives up after maxAttempts with the failing line and error code', async () => {
    kinesisMock.on(PutRecordsCommand).resolves({ Records: [throttled], FailedRecordCount: 1 });
    await expect(
      putRecordsInOrder(new KinesisClient({}), 's', records(['a']), { ...noWait, maxAttempts: 3 }),
    ).rejects.toThrow(/line 1 still failed after 3 attempts \(ProvisionedThroughputExceededException/);
  });

  it('fails with the line when the whole request fails', async () => {
    kinesisMock.on(PutRecordsCommand).rejects(new Error('connection refused'));
    await expect(putRecordsInOrder(new KinesisClient({}), 's', records(['a']), noWait)).rejects.toThrow(
      ReplaySendError,
    );
  });
});
