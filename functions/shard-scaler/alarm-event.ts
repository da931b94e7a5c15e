/**
 * Reads the event CloudWatch sends when an alarm invokes a Lambda function (asynchronous
 * invocation; "Invoke a Lambda function from an alarm" in the CloudWatch guide) and turns
 * it into a scaling signal. Which alarm means what is configuration (`SCALING_SIGNALS`,
 * alarm name to signal kind), written by the CDK stack that creates both.
 */
import { z } from 'zod';
import {
  type ScalingSignal,
  SHARD_BYTES_PER_SECOND,
  SHARD_RECORDS_PER_SECOND,
  type SignalKind,
} from './decide.js';

const AlarmEventSchema = z.object({
  source: z.literal('aws.cloudwatch'),
  alarmArn: z.string().optional(),
  alarmData: z.object({
    alarmName: z.string().min(1),
    state: z.object({
      value: z.string(),
      reason: z.string().optional(),
      reasonData: z.string().optional(),
      timestamp: z.string().optional(),
    }),
    configuration: z
      .object({ metrics: z.array(z.object({ period: z.number().optional() }).loose()).optional() })
      .loose()
      .optional(),
  }),
});

/** `state.reasonData` of a metric alarm: the datapoints that made it change state. */
const ReasonDataSchema = z
  .object({
    recentDatapoints: z.array(z.number()).optional(),
    period: z.number().positive().optional(),
  })
  .loose();

export type AlarmSignal =
  | { accepted: true; alarmName: string; signal: ScalingSignal }
  | { accepted: false; alarmName?: string; reason: string };

/** Capacity of one shard over `periodSeconds`, in the unit of the alarm's metric. */
function shardCapacity(kind: SignalKind, periodSeconds: number): number | undefined {
  if (kind === 'bytes-high') return SHARD_BYTES_PER_SECOND * periodSeconds;
  if (kind === 'records-high') return SHARD_RECORDS_PER_SECOND * periodSeconds;
  return undefined;
}

function utilisationOf(
  kind: SignalKind,
  reasonData: string | undefined,
  configuredPeriod: number | undefined,
): number | undefined {
  if (reasonData === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(reasonData);
  } catch {
    return undefined;
  }
  const data = ReasonDataSchema.safeParse(parsed);
  if (!data.success) return undefined;
  const points = data.data.recentDatapoints ?? [];
  const period = data.data.period ?? configuredPeriod;
  const capacity = period === undefined ? undefined : shardCapacity(kind, period);
  if (points.length === 0 || capacity === undefined) return undefined;
  // The largest recent datapoint: the alarm fired on the peak, the target must carry it.
  return Math.max(...points) / capacity;
}

export function signalFromAlarm(event: unknown, signals: Readonly<Record<string, SignalKind>>): AlarmSignal {
  const parsed = AlarmEventSchema.safeParse(event);
  if (!parsed.success) {
    return {
      accepted: false,
      reason: `not a CloudWatch alarm event (${parsed.error.issues[0]?.message ?? 'invalid'})`,
    };
  }
  const { alarmName, state, configuration } = parsed.data.alarmData;
  if (state.value !== 'ALARM') {
    return { accepted: false, alarmName, reason: `alarm state is ${state.value}, not ALARM` };
  }
  const kind = signals[alarmName];
  if (kind === undefined) {
    return { accepted: false, alarmName, reason: `alarm "${alarmName}" is not a scaling signal` };
  }
  const configuredPeriod = configuration?.metrics?.find((m) => m.period !== undefined)?.period;
  const utilisation = utilisationOf(kind, state.reasonData, configuredPeriod);
  return { accepted: true, alarmName, signal: utilisation === undefined ? { kind } : { kind, utilisation } };
}
