/**
 * The shard scaler's decision, as a pure function: from the stream's open shard count,
 * the signal an alarm raised, the scaling operations of the last 24 hours and the
 * configured limits, to a target shard count or a no-op with its reason.
 *
 * Kinesis's own limits on UpdateShardCount (API reference, "UpdateShardCount"):
 * - at most 10 operations per rolling 24 hours per stream;
 * - a target of at most double the current open shard count, and at least half of it;
 * - at most 10,000 shards per stream;
 * - a target that is a multiple of 25 % of the current count completes fastest; any other
 *   target is allowed but may take longer and create more short-lived shards.
 * The decision never proposes a target outside these limits, so the scaler's call can only
 * fail for reasons it cannot see (account shard quota, a concurrent update).
 */
import { z } from 'zod';

/** Kinesis: a shard takes up to 1 MiB/s and 1,000 records/s of writes. */
export const SHARD_BYTES_PER_SECOND = 1_048_576;
export const SHARD_RECORDS_PER_SECOND = 1_000;
/** Kinesis: UpdateShardCount may run 10 times per rolling 24 hours per stream. */
export const KINESIS_MAX_OPERATIONS_PER_DAY = 10;
/** Kinesis: a stream has at most 10,000 shards (UpdateShardCount cannot go beyond). */
export const KINESIS_MAX_SHARDS = 10_000;
export const DAY_MS = 24 * 60 * 60 * 1_000;

export const ScalingLimitsSchema = z
  .object({
    minShards: z.number().int().min(1).max(KINESIS_MAX_SHARDS).default(1),
    maxShards: z.number().int().min(1).max(KINESIS_MAX_SHARDS).default(64),
    /** The per-shard utilisation a scaling step aims for (fraction of a shard's write capacity). */
    targetUtilisation: z.number().gt(0).lt(1).default(0.5),
    /** Scale out when the hottest shard is above this utilisation. */
    scaleOutThreshold: z.number().gt(0).max(1).default(0.8),
    /** Scale in when the hottest shard stays below this utilisation. */
    scaleInThreshold: z.number().gt(0).lt(1).default(0.2),
    /** Minimum time since the previous operation before scaling out. */
    scaleOutCooldownMinutes: z.number().int().min(0).max(1_440).default(5),
    /** Minimum time since the previous operation before scaling in (scale in slowly). */
    scaleInCooldownMinutes: z.number().int().min(0).max(1_440).default(60),
    /** Of the 10 daily operations, this many are kept for scaling out: scaling in never uses them. */
    reservedScaleOutOperations: z.number().int().min(0).max(KINESIS_MAX_OPERATIONS_PER_DAY).default(3),
  })
  .superRefine((l, ctx) => {
    if (l.minShards > l.maxShards) {
      ctx.addIssue({
        code: 'custom',
        path: ['minShards'],
        message: `minShards ${l.minShards} > maxShards ${l.maxShards}`,
      });
    }
    if (!(l.scaleInThreshold < l.targetUtilisation && l.targetUtilisation < l.scaleOutThreshold)) {
      ctx.addIssue({
        code: 'custom',
        path: ['targetUtilisation'],
        message:
          `need scaleInThreshold < targetUtilisation < scaleOutThreshold, got ` +
          `${l.scaleInThreshold} / ${l.targetUtilisation} / ${l.scaleOutThreshold}`,
      });
    }
  });
export type ScalingLimits = z.infer<typeof ScalingLimitsSchema>;
export type ScalingLimitsInput = z.input<typeof ScalingLimitsSchema>;
export const DEFAULT_SCALING_LIMITS: ScalingLimits = ScalingLimitsSchema.parse({});

/** What raised the alarm: the hottest shard's bytes or records, write throttling, or idleness. */
export const SignalKindSchema = z.enum(['bytes-high', 'records-high', 'write-throttled', 'idle']);
export type SignalKind = z.infer<typeof SignalKindSchema>;

export interface ScalingSignal {
  kind: SignalKind;
  /**
   * The hottest shard's utilisation (fraction of one shard's write capacity) when the alarm
   * reported it; otherwise the decision assumes the level the alarm implies.
   */
  utilisation?: number;
}

export interface ScalingOperation {
  /** When the operation was requested (epoch ms). */
  at: number;
  from: number;
  to: number;
}

export interface ScalingInput {
  now: number;
  /** DescribeStreamSummary: StreamStatus and OpenShardCount. */
  streamStatus: string;
  openShardCount: number;
  signal: ScalingSignal;
  history: readonly ScalingOperation[];
  limits: ScalingLimits;
}

export type NoOpReason =
  | 'stream-not-active'
  | 'daily-limit'
  | 'reserved-for-scale-out'
  | 'cooldown'
  | 'at-max'
  | 'at-min'
  | 'not-needed';

export type ScalingDecision =
  | { action: 'scale'; direction: 'out' | 'in'; from: number; target: number; reason: string }
  | { action: 'none'; reason: NoOpReason; detail: string };

export function directionOf(kind: SignalKind): 'out' | 'in' {
  return kind === 'idle' ? 'in' : 'out';
}

/**
 * The utilisation to act on. An alarm without datapoints still says something: a throttled
 * write means a shard at capacity, a high or idle alarm means its threshold was crossed.
 */
export function effectiveUtilisation(signal: ScalingSignal, limits: ScalingLimits): number {
  const u = signal.utilisation;
  if (u !== undefined && Number.isFinite(u) && u >= 0) return u;
  switch (signal.kind) {
    case 'write-throttled':
      return 1;
    case 'idle':
      return limits.scaleInThreshold;
    default:
      return limits.scaleOutThreshold;
  }
}

/**
 * Targets that are multiples of 25 % of `current` (50 % .. 200 %), ascending: the targets
 * Kinesis reshards fastest.
 */
export function alignedTargets(current: number): number[] {
  const out: number[] = [];
  for (let quarter = 2; quarter <= 8; quarter++) {
    if ((current * quarter) % 4 === 0) out.push((current * quarter) / 4);
  }
  return out;
}

/** Kinesis bounds for one UpdateShardCount from `current`, intersected with the configured bounds. */
export function allowedRange(current: number, limits: ScalingLimits): { min: number; max: number } {
  return {
    min: Math.max(Math.ceil(current / 2), limits.minShards, 1),
    max: Math.min(current * 2, limits.maxShards, KINESIS_MAX_SHARDS),
  };
}

export function operationsInLastDay(history: readonly ScalingOperation[], now: number): ScalingOperation[] {
  return history.filter((op) => op.at > now - DAY_MS && op.at <= now).sort((a, b) => a.at - b.at);
}

export function decideScaling(input: ScalingInput): ScalingDecision {
  const { now, openShardCount: current, signal, limits } = input;
  const direction = directionOf(signal.kind);

  if (input.streamStatus !== 'ACTIVE') {
    // UpdateShardCount needs an ACTIVE stream; an UPDATING one is already being resharded.
    return { action: 'none', reason: 'stream-not-active', detail: `stream is ${input.streamStatus}` };
  }

  const recent = operationsInLastDay(input.history, now);
  if (recent.length >= KINESIS_MAX_OPERATIONS_PER_DAY) {
    return {
      action: 'none',
      reason: 'daily-limit',
      detail: `${recent.length} operations in the last 24 h (Kinesis allows ${KINESIS_MAX_OPERATIONS_PER_DAY})`,
    };
  }
  if (
    direction === 'in' &&
    recent.length >= KINESIS_MAX_OPERATIONS_PER_DAY - limits.reservedScaleOutOperations
  ) {
    return {
      action: 'none',
      reason: 'reserved-for-scale-out',
      detail: `${recent.length} operations in the last 24 h; the remaining ones are kept for scaling out`,
    };
  }

  const last = recent.at(-1);
  const cooldownMs =
    (direction === 'out' ? limits.scaleOutCooldownMinutes : limits.scaleInCooldownMinutes) * 60_000;
  if (last && now - last.at < cooldownMs) {
    return {
      action: 'none',
      reason: 'cooldown',
      detail: `last operation ${Math.round((now - last.at) / 1_000)} s ago, cooldown ${cooldownMs / 1_000} s`,
    };
  }

  const range = allowedRange(current, limits);
  const utilisation = effectiveUtilisation(signal, limits);
  // Uniform scaling spreads the hash key space evenly, so the hottest shard's load scales
  // with current / target: aim for targetUtilisation on the hottest shard.
  const desired = Math.max(1, Math.ceil((current * utilisation) / limits.targetUtilisation - 1e-9));

  if (direction === 'out') {
    if (current >= range.max) {
      return { action: 'none', reason: 'at-max', detail: `${current} shards, maximum ${range.max}` };
    }
    if (desired <= current) {
      return {
        action: 'none',
        reason: 'not-needed',
        detail: `utilisation ${utilisation.toFixed(2)} on ${current} shards needs no more`,
      };
    }
    // Round up to the next 25 % step (fast resharding, errs on the side of capacity); the
    // maximum applies after rounding, so a capped target may be unaligned.
    const aligned = alignedTargets(current).find((t) => t >= desired && t > current) ?? current * 2;
    const target = Math.min(aligned, range.max);
    return {
      action: 'scale',
      direction,
      from: current,
      target,
      reason: `${signal.kind}: utilisation ${utilisation.toFixed(2)} on ${current} shards, target ${target}`,
    };
  }

  if (current <= range.min) {
    return { action: 'none', reason: 'at-min', detail: `${current} shards, minimum ${range.min}` };
  }
  const floor = Math.max(desired, range.min);
  if (floor >= current) {
    return {
      action: 'none',
      reason: 'not-needed',
      detail: `utilisation ${utilisation.toFixed(2)} on ${current} shards needs them all`,
    };
  }
  // Scale in to the smallest 25 % step at or above what the load needs; when no step lies
  // between that and the current count, take the exact count (slower, but it still saves).
  const target = alignedTargets(current).find((t) => t >= floor && t < current) ?? floor;
  return {
    action: 'scale',
    direction,
    from: current,
    target,
    reason: `${signal.kind}: utilisation ${utilisation.toFixed(2)} on ${current} shards, target ${target}`,
  };
}
