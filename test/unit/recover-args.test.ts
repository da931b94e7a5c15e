import type { Shard } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../local/cli/flags.js';
import {
  parseRecoverArgs,
  REQUIRED_TARGETS,
  resolveTargets,
  TARGET_FLAGS,
} from '../../local/cli/recover-args.js';
import { orderShards } from '../../local/recovery/index.js';

const usage = (argv: string[]) => () => parseRecoverArgs(argv);

describe('parseRecoverArgs', () => {
  it.each([
    [['dlq', 'list'], 'dlq list'],
    [['dlq', 'redrive', '--apply'], 'dlq redrive'],
    [['invalid', 'list', '--examples', '3'], 'invalid list'],
    [['invalid', 'redrive', '--reason', 'not-json'], 'invalid redrive'],
    [['backfill', '--from-timestamp', '2026-01-01T00:00:00Z'], 'backfill'],
  ])('%j is %s', (argv, command) => {
    expect(parseRecoverArgs(argv).command).toBe(command);
  });

  it('is a dry run unless --apply is given', () => {
    expect(parseRecoverArgs(['dlq', 'redrive']).apply).toBe(false);
    expect(parseRecoverArgs(['dlq', 'redrive', '--apply']).apply).toBe(true);
  });

  it('reads the options of each command', () => {
    expect(
      parseRecoverArgs(['invalid', 'redrive', '--apply', '--reason', 'not-json', '--json']),
    ).toMatchObject({
      apply: true,
      reason: 'not-json',
      json: true,
    });
    expect(parseRecoverArgs(['invalid', 'list', '--examples=3']).examples).toBe(3);
    const bf = parseRecoverArgs([
      'backfill',
      '--from-sequence',
      'shardId-000000000001:49650000000000000000000000000000000000000000000000000002',
      '--to-timestamp',
      '2026-01-02T00:00:00+01:00',
      '--batch-size',
      '100',
    ]);
    expect(bf.from).toEqual({
      kind: 'sequence',
      shardId: 'shardId-000000000001',
      sequenceNumber: '49650000000000000000000000000000000000000000000000000002',
    });
    expect(bf.to?.toISOString()).toBe('2026-01-01T23:00:00.000Z');
    expect(bf.batchSize).toBe(100);
    expect(parseRecoverArgs(['backfill', '--from-timestamp', '2026-01-01T00:00:00.5Z']).from).toEqual({
      kind: 'timestamp',
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 500)),
    });
  });

  it('takes target names as flags, keyed by their environment variable', () => {
    const opts = parseRecoverArgs(['dlq', 'list', '--dlq-url', 'http://q/dlq', '--stream', 'readings']);
    expect(opts.targets).toEqual({ DLQ_URL: 'http://q/dlq', STREAM_NAME: 'readings' });
  });

  it('shows help with or without a command', () => {
    expect(parseRecoverArgs(['--help']).help).toBe(true);
    expect(parseRecoverArgs(['backfill', '-h'])).toMatchObject({ help: true, command: 'backfill' });
  });

  it.each([
    [[], /missing command/],
    [['dlq'], /unknown command "dlq"/],
    [['dlq', 'purge'], /unknown command "dlq purge"/],
    [['dlq', 'list', '--bogus'], /unknown flag --bogus/],
    [['dlq', 'list', '--apply'], /--apply does not apply to "dlq list"/],
    [['invalid', 'list', '--reason', 'x'], /--reason does not apply/],
    [['invalid', 'list', '--examples', '-1'], /--examples must be between 0 and 100/],
    [['backfill'], /exactly one of --from-timestamp/],
    [
      ['backfill', '--from-timestamp', '2026-01-01T00:00:00Z', '--from-sequence', 'shardId-0:1'],
      /exactly one/,
    ],
    [['backfill', '--from-timestamp', '2026-01-01'], /ISO-8601 time with a zone/],
    [['backfill', '--from-timestamp', '2026-13-01T00:00:00Z'], /ISO-8601/],
    [['backfill', '--from-sequence', '12345'], /SHARD:SEQ/],
    [
      ['backfill', '--from-timestamp', '2026-01-02T00:00:00Z', '--to-timestamp', '2026-01-01T00:00:00Z'],
      /--to-timestamp must not be before/,
    ],
    [
      ['backfill', '--from-timestamp', '2026-01-01T00:00:00Z', '--batch-size', '0'],
      /--batch-size must be between/,
    ],
    [['dlq', 'list', '--endpoint', 'localhost:4566'], /--endpoint must be an http\(s\) URL/],
    [['dlq', 'list', '--dlq-url'], /--dlq-url needs a value/],
  ])('%j is a usage error', (argv, message) => {
    expect(usage(argv)).toThrow(UsageError);
    expect(usage(argv)).toThrow(message);
  });
});

describe('resolveTargets', () => {
  const full = {
    STREAM_NAME: 'readings',
    DLQ_URL: 'http://q/dlq',
    STATE_TABLE_NAME: 'state',
    RESULTS_TABLE_NAME: 'results',
    ALERT_LEDGER_TABLE_NAME: 'ledger',
    ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:1:alerts',
    INVALID_QUEUE_URL: 'http://q/invalid',
    LATE_QUEUE_URL: 'http://q/late',
  };

  it('takes a flag over the environment', () => {
    expect(resolveTargets('dlq list', { DLQ_URL: 'http://flag' }, { DLQ_URL: 'http://env' }).DLQ_URL).toBe(
      'http://flag',
    );
  });

  it.each(Object.keys(REQUIRED_TARGETS) as (keyof typeof REQUIRED_TARGETS)[])(
    '%s resolves from the deployed names',
    (command) => {
      const resolved = resolveTargets(command, {}, { ...full, UNRELATED: 'x' });
      expect(resolved).toEqual(full);
      for (const flag of REQUIRED_TARGETS[command])
        expect(resolved[TARGET_FLAGS[flag]]).toBe(full[TARGET_FLAGS[flag] as keyof typeof full]);
    },
  );

  it('names every missing variable with its flag', () => {
    const call = () => resolveTargets('backfill', {}, { STATE_TABLE_NAME: 'state', STREAM_NAME: '' });
    expect(call).toThrow(UsageError);
    expect(call).toThrow(
      '"backfill" needs STREAM_NAME (--stream), RESULTS_TABLE_NAME (--results-table), ' +
        'ALERT_LEDGER_TABLE_NAME (--alert-ledger-table), ALERT_TOPIC_ARN (--alert-topic-arn), ' +
        'INVALID_QUEUE_URL (--invalid-queue-url), LATE_QUEUE_URL (--late-queue-url)',
    );
  });

  it('asks each command only for what it uses', () => {
    expect(() => resolveTargets('invalid list', {}, { INVALID_QUEUE_URL: 'http://q' })).not.toThrow();
    expect(() => resolveTargets('invalid redrive', {}, { INVALID_QUEUE_URL: 'http://q' })).toThrow(
      /needs STREAM_NAME \(--stream\):/,
    );
  });
});

describe('orderShards', () => {
  it('puts parents before children, whatever the listing order', () => {
    const shards: Shard[] = [
      {
        ShardId: 'shardId-000000000003',
        ParentShardId: 'shardId-000000000001',
        AdjacentParentShardId: 'shardId-000000000002',
      },
      { ShardId: 'shardId-000000000002', ParentShardId: 'shardId-000000000000' },
      { ShardId: 'shardId-000000000001', ParentShardId: 'shardId-000000000000' },
      { ShardId: 'shardId-000000000000' },
      { ShardId: 'shardId-000000000004', ParentShardId: 'shardId-gone' },
    ] as Shard[];
    const order = orderShards(shards).map((s) => s.ShardId);
    expect(order).toHaveLength(5);
    const at = (id: string) => order.indexOf(`shardId-00000000000${id}`);
    expect(at('0')).toBeLessThan(at('1'));
    expect(at('0')).toBeLessThan(at('2'));
    expect(at('1')).toBeLessThan(at('3'));
    expect(at('2')).toBeLessThan(at('3'));
  });
});
