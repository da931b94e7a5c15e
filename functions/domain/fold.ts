/**
 * The pure core: fold one sensor's records (in arrival order) into its state, producing
 * the effects that state change implies. No I/O, no clocks, no randomness: the same state
 * and records always give the same new state and the same effects, which is what makes a
 * retried batch harmless.
 *
 * This module composes the parts: duplicate detection by sequence number (here), window
 * placement (windows/fixed.ts, windows/sessions.ts), rules (alerting.ts), late readings,
 * the watermark, and finalisation (windows/finalise.ts). The state and effect types are
 * in state.ts.
 */
import { compileRules, evaluateRules, type RulesByMetric } from './alerting.js';
import type { WindowpaneConfig } from './config.js';
import { percentilePlan } from './percentile-config.js';
import { compareSequence } from './sequence.js';
import { cloneState, emptyOutbox, type FoldResult, type SensorRecord, type SensorState } from './state.js';
import { evaluateWindowRules, windowRulesOf } from './window-rules.js';
import { takeFinalWindows } from './windows/finalise.js';
import { foldIntoFixed } from './windows/fixed.js';
import {
  compileWindows,
  type Placement,
  type PlacementContext,
  resetPlacement,
  type WindowDefinition,
} from './windows/placement.js';
import { foldIntoSession } from './windows/sessions.js';

/** At most this many shards are remembered per sensor; older lineage is long drained. */
const MAX_REMEMBERED_SHARDS = 16;

/** A config compiled for the fold, once per config object: a batch folds many sensors. */
interface FoldPlan {
  windows: readonly WindowDefinition[];
  rules: RulesByMetric;
  ctx: PlacementContext;
}

const plans = new WeakMap<WindowpaneConfig, FoldPlan>();

function planOf(config: WindowpaneConfig): FoldPlan {
  let plan = plans.get(config);
  if (!plan) {
    plan = {
      windows: compileWindows(config),
      rules: compileRules(config),
      ctx: {
        allowedLatenessMs: config.allowedLatenessMs,
        withSquares: config.stddev,
        percentiles: percentilePlan(config),
      },
    };
    plans.set(config, plan);
  }
  return plan;
}

/**
 * Folds `records` (one sensor, arrival order) into a copy of `state`. Records whose
 * sequence number is not above the last applied one of their shard are duplicates
 * (a retried or redelivered batch) and change nothing.
 */
export function foldSensorRecords(
  state: SensorState,
  records: readonly SensorRecord[],
  config: WindowpaneConfig,
): FoldResult {
  const next = cloneState(state);
  const effects = emptyOutbox();
  const { windows, rules, ctx } = planOf(config);
  const placement: Placement = { accepted: false, missed: undefined };
  // Last applied sequence number per shard; a Map keeps least-recently-used order cheaply.
  const appliedByShard = new Map(Object.entries(next.applied));
  let applied = 0;
  let duplicates = 0;

  for (const record of records) {
    const lastApplied = appliedByShard.get(record.shardId);
    if (lastApplied !== undefined && compareSequence(record.sequence, lastApplied) <= 0) {
      duplicates++;
      continue;
    }
    applied++;
    const { reading } = record;
    const ts = reading.timestamp;

    // Lateness is per window (as in Flink): the reading is left out of every window that
    // was already final before it arrived and folded into the others. The decisions use
    // the watermark from before this reading.
    resetPlacement(placement);
    for (const def of windows) {
      if (def.kind === 'session') foldIntoSession(next, def, reading, ctx, placement);
      else foldIntoFixed(next, def, reading, ctx, placement);
    }
    const missed = placement.missed;

    // Rules run on every valid reading, late ones included, in arrival order.
    evaluateRules(next, rules, reading, missed !== undefined, effects.alerts);

    if (missed !== undefined) {
      effects.late.push({
        id: `${record.shardId}:${record.sequence}`,
        sensorId: reading.sensorId,
        timestamp: ts,
        values: reading.values,
        reason: 'window-final',
        windowStart: missed[0]!.windowStart,
        windowEnd: missed[0]!.windowEnd,
        watermark: next.watermark,
        missedWindows: missed,
      });
    }
    if (placement.accepted && (next.watermark === null || ts > next.watermark)) next.watermark = ts;

    appliedByShard.delete(record.shardId);
    appliedByShard.set(record.shardId, record.sequence);
  }

  if (applied > 0) {
    next.applied = Object.fromEntries(appliedByShard);
    pruneShards(next);
    const finals = takeFinalWindows(next, config.allowedLatenessMs, false, percentilePlan(config));
    evaluateWindowRules(next, windowRulesOf(config), finals, effects.alerts);
    effects.results.push(...finals);
  }
  next.outbox = effects;
  return { state: next, applied, duplicates, effects };
}

function pruneShards(state: SensorState): void {
  const shards = Object.keys(state.applied);
  for (let i = 0; i < shards.length - MAX_REMEMBERED_SHARDS; i++) delete state.applied[shards[i]!];
}
