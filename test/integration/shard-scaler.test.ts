/**
 * The shard scaler against kinesis-local (started by the integration globalSetup): real
 * SDK calls for DescribeStreamSummary, the history tag and UpdateShardCount. Each test
 * uses its own stream; time is injected so cooldowns and the daily window are exact.
 */
import { randomUUID } from 'node:crypto';
import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ListTagsForStreamCommand,
} from '@aws-sdk/client-kinesis';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClients, localClientOptions } from '../../functions/lib/clients.js';
import { DEFAULT_SCALING_LIMITS, type SignalKind } from '../../functions/shard-scaler/decide.js';
import { SCALER_ENV } from '../../functions/shard-scaler/env.js';
import { HISTORY_TAG_KEY, parseHistory } from '../../functions/shard-scaler/history.js';
import {
  handleAlarm,
  type ScalerDeps,
  StreamNotProvisionedError,
} from '../../functions/shard-scaler/scaler.js';

const SIGNALS: Record<string, SignalKind> = {
  'it-bytes-high': 'bytes-high',
  'it-records-high': 'records-high',
  'it-throttled': 'write-throttled',
  'it-idle': 'idle',
};
const MIB = 1_048_576;
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const MINUTE = 60_000;

function alarm(name: string, recentDatapoints?: number[]) {
  return {
    source: 'aws.cloudwatch',
    alarmArn: `arn:aws:cloudwatch:us-east-1:000000000000:alarm:${name}`,
    alarmData: {
      alarmName: name,
      state: {
        value: 'ALARM',
        reason: 'Threshold Crossed',
        ...(recentDatapoints ? { reasonData: JSON.stringify({ recentDatapoints, period: 60 }) } : {}),
        timestamp: new Date(T0).toISOString(),
      },
    },
  };
}

let kinesis: KinesisClient;
const streams: string[] = [];

async function describe_(name: string) {
  const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  return out.StreamDescriptionSummary!;
}

async function waitActive(name: string): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = await describe_(name);
    if (s.StreamStatus === 'ACTIVE') return s.OpenShardCount ?? 0;
    if (Date.now() > deadline) throw new Error(`stream ${name} still ${s.StreamStatus}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function createStream(shards: number | 'ON_DEMAND'): Promise<string> {
  const name = `scaler-it-${randomUUID().slice(0, 8)}`;
  await kinesis.send(
    new CreateStreamCommand(
      shards === 'ON_DEMAND'
        ? { StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }
        : { StreamName: name, ShardCount: shards },
    ),
  );
  streams.push(name);
  await waitActive(name);
  return name;
}

async function history(name: string) {
  const tags = await kinesis.send(new ListTagsForStreamCommand({ StreamName: name }));
  return parseHistory(tags.Tags?.find((t) => t.Key === HISTORY_TAG_KEY)?.Value);
}

function deps(streamName: string, now: number): ScalerDeps {
  return { kinesis, streamName, limits: DEFAULT_SCALING_LIMITS, signals: SIGNALS, now: () => now };
}

beforeAll(() => {
  kinesis = createClients(localClientOptions({ kinesis: inject('endpoints').kinesis })).kinesis;
});

afterAll(async () => {
  for (const name of streams) {
    await kinesis
      .send(new DeleteStreamCommand({ StreamName: name, EnforceConsumerDeletion: true }))
      .catch(() => {});
  }
  kinesis.destroy();
});

describe('shard scaler on kinesis-local', () => {
  it('scales out, records the operation, then honours the cooldown, then scales in', async () => {
    const name = await createStream(2);

    // Hottest shard at 54 MiB/min of 60: 0.9 utilisation on 2 shards -> 4 (200 %).
    const out = await handleAlarm(deps(name, T0), alarm('it-bytes-high', [54 * MIB]));
    expect(out).toMatchObject({ status: 'scaling', decision: { direction: 'out', from: 2, target: 4 } });
    expect(await waitActive(name)).toBe(4);
    expect((await history(name)).operations).toEqual([{ at: T0, from: 2, to: 4 }]);

    // Four minutes later a throttle alarm: still cooling down (5 min), nothing changes.
    const again = await handleAlarm(deps(name, T0 + 4 * MINUTE), alarm('it-throttled'));
    expect(again).toMatchObject({ status: 'unchanged', decision: { reason: 'cooldown' } });
    expect(await waitActive(name)).toBe(4);

    // An hour later the stream is idle: 4 -> 2, the second recorded operation.
    const idle = await handleAlarm(deps(name, T0 + 61 * MINUTE), alarm('it-idle'));
    expect(idle).toMatchObject({ status: 'scaling', decision: { direction: 'in', from: 4, target: 2 } });
    expect(await waitActive(name)).toBe(2);
    expect((await history(name)).operations).toEqual([
      { at: T0, from: 2, to: 4 },
      { at: T0 + 61 * MINUTE, from: 4, to: 2 },
    ]);
  });

  it('stops at 10 operations in 24 hours, whatever the load', async () => {
    const name = await createStream(2);
    const ten = Array.from(
      { length: 10 },
      (_, i) => `${Math.floor((T0 - (i + 1) * 60 * MINUTE) / 1_000)}:2:2`,
    );
    await kinesis.send(
      new AddTagsToStreamCommand({ StreamName: name, Tags: { [HISTORY_TAG_KEY]: ten.join(' ') } }),
    );

    const out = await handleAlarm(deps(name, T0), alarm('it-records-high', [59_000]));
    expect(out).toMatchObject({ status: 'unchanged', decision: { reason: 'daily-limit' } });
    expect(await waitActive(name)).toBe(2);

    // A day after the oldest of them, one operation is available again.
    const later = await handleAlarm(deps(name, T0 + 60 * MINUTE * 14), alarm('it-records-high', [59_000]));
    expect(later).toMatchObject({ status: 'scaling', decision: { target: 4 } });
    expect(await waitActive(name)).toBe(4);
  });

  it('ignores alarms that are not its signals, and refuses an on-demand stream', async () => {
    const name = await createStream(1);
    expect(await handleAlarm(deps(name, T0), alarm('someone-elses-alarm'))).toMatchObject({
      status: 'ignored',
    });
    expect(await waitActive(name)).toBe(1);

    const onDemand = await createStream('ON_DEMAND');
    await expect(handleAlarm(deps(onDemand, T0), alarm('it-throttled'))).rejects.toThrow(
      StreamNotProvisionedError,
    );
  });

  it('the Lambda entry point reaches kinesis-local through AWS_ENDPOINT_URL_KINESIS alone', async () => {
    const name = await createStream(2);
    const saved = { ...process.env };
    Object.assign(process.env, {
      [SCALER_ENV.streamName]: name,
      [SCALER_ENV.limits]: JSON.stringify({ maxShards: 3 }),
      [SCALER_ENV.signals]: JSON.stringify(SIGNALS),
      AWS_ENDPOINT_URL_KINESIS: inject('endpoints').kinesis,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    try {
      const { handler } = await import('../../functions/shard-scaler/handler.js');
      const context = {
        functionName: 'shard-scaler',
        awsRequestId: 'it-1',
        getRemainingTimeInMillis: () => 30_000,
      };
      const outcome = await handler(alarm('it-throttled'), context as unknown as Context);
      // Throttled writes ask for 2x; maxShards caps the target at 3.
      expect(outcome).toMatchObject({ status: 'scaling', decision: { from: 2, target: 3 } });
      expect(await waitActive(name)).toBe(3);
    } finally {
      process.env = saved;
    }
  });
});
