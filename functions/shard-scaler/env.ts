/**
 * The shard scaler's environment, parsed once at cold start; a missing, malformed or
 * misspelt variable fails the cold start with its name in the message, and the limits
 * are as strict as the `cdk.json` context they come from.
 */
import { z } from 'zod';
import { nearMisses, parse } from '../domain/parse.js';
import { type ScalingLimits, ScalingLimitsSchema, type SignalKind, SignalKindSchema } from './decide.js';

/** Variable names shared by the CDK stack (which sets them) and the scaler (which reads them). */
export const SCALER_ENV = {
  streamName: 'STREAM_NAME',
  limits: 'SCALING_LIMITS',
  signals: 'SCALING_SIGNALS',
} as const;

export interface ScalerEnv {
  streamName: string;
  limits: ScalingLimits;
  /** Alarm name to the signal it raises. */
  signals: Record<string, SignalKind>;
}

function json(name: string) {
  return z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${name} is not JSON (${(err as Error).message})` });
      return z.NEVER;
    }
  });
}

const ScalerEnvSchema = z
  .looseObject({
    [SCALER_ENV.streamName]: z.string().min(1),
    [SCALER_ENV.limits]: json(SCALER_ENV.limits).pipe(ScalingLimitsSchema.strict()),
    [SCALER_ENV.signals]: json(SCALER_ENV.signals).pipe(z.record(z.string().min(1), SignalKindSchema)),
  })
  // Open (Lambda adds its own variables), but a misspelt variable of ours is an error.
  .check(nearMisses(Object.values(SCALER_ENV)));

export function parseScalerEnv(env: NodeJS.ProcessEnv = process.env): ScalerEnv {
  const e = parse(ScalerEnvSchema, env, 'shard scaler environment');
  return {
    streamName: e[SCALER_ENV.streamName],
    limits: e[SCALER_ENV.limits],
    signals: e[SCALER_ENV.signals],
  };
}
