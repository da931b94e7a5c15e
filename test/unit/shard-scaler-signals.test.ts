import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/domain/config.js';
import { signalFromAlarm } from '../../functions/shard-scaler/alarm-event.js';
import { DAY_MS, KINESIS_MAX_OPERATIONS_PER_DAY } from '../../functions/shard-scaler/decide.js';
import { parseScalerEnv, SCALER_ENV } from '../../functions/shard-scaler/env.js';
import { formatHistory, parseHistory, TAG_VALUE_MAX_LENGTH } from '../../functions/shard-scaler/history.js';

const SIGNALS = {
  'wp-bytes-high': 'bytes-high',
  'wp-records-high': 'records-high',
  'wp-idle': 'idle',
} as const;

/** The event CloudWatch sends to a Lambda alarm action (CloudWatch user guide). */
function alarmEvent(alarmName: string, state = 'ALARM', reasonData?: object, period?: number) {
  return {
    source: 'aws.cloudwatch',
    alarmArn: `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${alarmName}`,
    accountId: '123456789012',
    time: '2026-01-15T12:00:00.000+0000',
    region: 'eu-west-1',
    alarmData: {
      alarmName,
      state: {
        value: state,
        reason: 'Threshold Crossed',
        ...(reasonData ? { reasonData: JSON.stringify(reasonData) } : {}),
        timestamp: '2026-01-15T12:00:00.000+0000',
      },
      previousState: { value: 'OK', reason: '', timestamp: '2026-01-15T11:00:00.000+0000' },
      configuration: {
        metrics: [{ id: 'q', expression: 'SELECT ...', returnData: true, ...(period ? { period } : {}) }],
      },
    },
  };
}

describe('Shard scaler: alarm events to signals', () => {
  it('reads the hottest shard utilisation from the datapoints that fired the alarm', () => {
    // 60 s period: a shard takes 60 MiB; the peak datapoint is 54 MiB -> 0.9.
    const mib = 1_048_576;
    const read = signalFromAlarm(
      alarmEvent('wp-bytes-high', 'ALARM', { recentDatapoints: [50 * mib, 54 * mib], period: 60 }),
      SIGNALS,
    );
    expect(read).toEqual({
      accepted: true,
      alarmName: 'wp-bytes-high',
      signal: { kind: 'bytes-high', utilisation: 0.9 },
    });
  });

  it('falls back to the configured period, then to no utilisation at all', () => {
    const withPeriod = signalFromAlarm(
      alarmEvent('wp-records-high', 'ALARM', { recentDatapoints: [45_000] }, 60),
      SIGNALS,
    );
    expect(withPeriod).toMatchObject({ signal: { kind: 'records-high', utilisation: 0.75 } });
    const none = signalFromAlarm(alarmEvent('wp-records-high', 'ALARM', { recentDatapoints: [] }), SIGNALS);
    expect(none).toEqual({ accepted: true, alarmName: 'wp-records-high', signal: { kind: 'records-high' } });
  });

  it('ignores OK transitions, unknown alarms and foreign events, saying why', () => {
    expect(signalFromAlarm(alarmEvent('wp-idle', 'OK'), SIGNALS)).toMatchObject({
      accepted: false,
      reason: /OK/,
    });
    expect(signalFromAlarm(alarmEvent('someone-else'), SIGNALS)).toMatchObject({
      accepted: false,
      reason: /not a scaling/,
    });
    expect(signalFromAlarm({ Records: [] }, SIGNALS)).toMatchObject({
      accepted: false,
      reason: /not a CloudWatch alarm/,
    });
  });
});

describe('Shard scaler: history kept in a stream tag', () => {
  const now = Date.UTC(2026, 0, 15, 12, 0, 0);

  it('round-trips operations to the second, oldest first', () => {
    const ops = [
      { at: now - 3_600_000, from: 2, to: 4 },
      { at: now - 7_200_000, from: 1, to: 2 },
    ];
    const value = formatHistory(ops.slice(1), ops[0]!);
    expect(parseHistory(value)).toEqual({ operations: [ops[1], ops[0]], malformed: [] });
  });

  it('keeps only the last 24 hours and at most the daily limit, within the tag value limit', () => {
    const history = Array.from({ length: 15 }, (_, i) => ({
      at: now - i * 3_600_000,
      from: 9_999,
      to: 10_000,
    }));
    const value = formatHistory(history, { at: now + 1_000, from: 5_000, to: 10_000 });
    const parsed = parseHistory(value).operations;
    expect(parsed).toHaveLength(KINESIS_MAX_OPERATIONS_PER_DAY);
    expect(parsed.at(-1)).toEqual({ at: now + 1_000, from: 5_000, to: 10_000 });
    expect(parsed.every((o) => o.at > now + 1_000 - DAY_MS)).toBe(true);
    expect(value.length).toBeLessThanOrEqual(TAG_VALUE_MAX_LENGTH);
    // Kinesis tag values: letters, digits, spaces and _ . : / = + - @ only.
    expect(value).toMatch(/^[\w .:/=+\-@]*$/);
  });

  it('reports unreadable entries instead of failing', () => {
    expect(parseHistory('1700000000:2:4 garbage 1700000100:4')).toEqual({
      operations: [{ at: 1_700_000_000_000, from: 2, to: 4 }],
      malformed: ['garbage', '1700000100:4'],
    });
    expect(parseHistory(undefined)).toEqual({ operations: [], malformed: [] });
  });
});

describe('Shard scaler: environment', () => {
  const good = {
    [SCALER_ENV.streamName]: 'readings',
    [SCALER_ENV.limits]: JSON.stringify({ maxShards: 16 }),
    [SCALER_ENV.signals]: JSON.stringify(SIGNALS),
  };

  it('parses the stream, limits (with defaults) and signal map', () => {
    const env = parseScalerEnv(good);
    expect(env.streamName).toBe('readings');
    expect(env.limits).toMatchObject({ maxShards: 16, minShards: 1, scaleInCooldownMinutes: 60 });
    expect(env.signals['wp-idle']).toBe('idle');
  });

  it.each([
    { name: SCALER_ENV.streamName, value: undefined, message: /STREAM_NAME/ },
    { name: SCALER_ENV.limits, value: '{not json', message: /SCALING_LIMITS is not JSON/ },
    { name: SCALER_ENV.limits, value: '{"maxShards":0}', message: /SCALING_LIMITS\.maxShards/ },
    { name: SCALER_ENV.signals, value: '{"a":"sideways"}', message: /SCALING_SIGNALS\.a/ },
  ])('fails at cold start naming $name', ({ name, value, message }) => {
    const env: Record<string, string | undefined> = { ...good, [name]: value };
    expect(() => parseScalerEnv(env)).toThrow(ConfigError);
    expect(() => parseScalerEnv(env)).toThrow(message);
  });
});
