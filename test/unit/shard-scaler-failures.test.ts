/**
 * Failure paths of one scaling step that kinesis-local cannot produce on demand: another
 * reshard starting between our read and our call, and Kinesis's own limits. Client mocks
 * stand in for Kinesis here only.
 */
import {
  AddTagsToStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  LimitExceededException,
  ListTagsForStreamCommand,
  ResourceInUseException,
  UpdateShardCountCommand,
} from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCALING_LIMITS } from '../../functions/shard-scaler/decide.js';
import { HISTORY_TAG_KEY } from '../../functions/shard-scaler/history.js';
import { handleAlarm } from '../../functions/shard-scaler/scaler.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const kinesis = new KinesisClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
});
const mock = mockClient(kinesis);
const deps = {
  kinesis,
  streamName: 'readings',
  limits: DEFAULT_SCALING_LIMITS,
  signals: { hot: 'write-throttled' as const },
  now: () => NOW,
};
const event = { source: 'aws.cloudwatch', alarmData: { alarmName: 'hot', state: { value: 'ALARM' } } };

beforeEach(() => {
  mock.reset();
  mock.on(DescribeStreamSummaryCommand).resolves({
    StreamDescriptionSummary: {
      StreamName: 'readings',
      StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/readings',
      StreamStatus: 'ACTIVE',
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      OpenShardCount: 4,
      RetentionPeriodHours: 24,
      StreamCreationTimestamp: new Date(NOW - 86_400_000),
      EnhancedMonitoring: [],
    },
  });
  mock.on(ListTagsForStreamCommand).resolves({ Tags: [], HasMoreTags: false });
  mock.on(AddTagsToStreamCommand).resolves({});
});

describe('Shard scaler step: failures', () => {
  it('records the operation in the history tag before resharding (tags need an ACTIVE stream)', async () => {
    mock.on(UpdateShardCountCommand).resolves({ CurrentShardCount: 4, TargetShardCount: 8 });
    const out = await handleAlarm(deps, event);
    expect(out).toMatchObject({ status: 'scaling', decision: { from: 4, target: 8 } });
    const calls = mock.calls().map((c) => c.args[0].constructor.name);
    expect(calls.indexOf('AddTagsToStreamCommand')).toBeLessThan(calls.indexOf('UpdateShardCountCommand'));
    expect(mock.commandCalls(AddTagsToStreamCommand)[0]!.args[0].input.Tags).toEqual({
      [HISTORY_TAG_KEY]: `${NOW / 1_000}:4:8`,
    });
    expect(mock.commandCalls(UpdateShardCountCommand)[0]!.args[0].input).toEqual({
      StreamName: 'readings',
      TargetShardCount: 8,
      ScalingType: 'UNIFORM_SCALING',
    });
  });

  it('a reshard that started in between is not an error: it is the reshard', async () => {
    mock
      .on(UpdateShardCountCommand)
      .rejects(new ResourceInUseException({ message: 'Stream readings is UPDATING', $metadata: {} }));
    await expect(handleAlarm(deps, event)).resolves.toMatchObject({ status: 'busy', detail: /UPDATING/ });
  });

  it('a Kinesis limit fails the invocation, so the scaler error alarm fires', async () => {
    mock
      .on(UpdateShardCountCommand)
      .rejects(new LimitExceededException({ message: 'shard limit for the account', $metadata: {} }));
    await expect(handleAlarm(deps, event)).rejects.toThrow(LimitExceededException);
  });

  it('reads a history tag beyond the first page of tags', async () => {
    const history = `${NOW / 1_000 - 60}:2:4`;
    mock
      .on(ListTagsForStreamCommand)
      .resolvesOnce({ Tags: [{ Key: 'a', Value: '1' }], HasMoreTags: true })
      .resolvesOnce({ Tags: [{ Key: HISTORY_TAG_KEY, Value: history }], HasMoreTags: false });
    // One minute after an operation: the scale-out cooldown (5 min) holds.
    await expect(handleAlarm(deps, event)).resolves.toMatchObject({
      status: 'unchanged',
      decision: { reason: 'cooldown' },
    });
    expect(mock.commandCalls(ListTagsForStreamCommand)[1]!.args[0].input.ExclusiveStartTagKey).toBe('a');
    expect(mock.commandCalls(UpdateShardCountCommand)).toHaveLength(0);
  });
});
