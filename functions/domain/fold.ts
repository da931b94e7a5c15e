/**
 * The pure core: fold one sensor's records (in arrival order) into its state, producing
 * the effects that state change implies. No I/O, no clocks, no randomness: the same state
 * and records always give the same new state and the same effects, which is what makes a
 * retried batch harmless.
 *
 * This module composes the parts: duplicate detection by record position (here), window
 * placement (windows/fixed.ts, windows/sessions.ts), rules (alerting.ts), late readings,
 * the watermark, and finalisation (windows/finalise.ts). The state and effect types are
 * in state.ts.
 */
import { applyAlarmAction, evaluateAlarms, removeGoneAlarms, setSweepDue } from './alarms/evaluate.js';
import type { Transition } from './alarms/transition.js';
import { evaluateRules } from './alerting.js';
import type { WindowpaneConfig } from './config.js';
import { percentilePlan } from './percentile-config.js';
import { formatPosition, isAppliedAt } from './record-position.js';
import { configuredRuleSet, type RuleSet } from './rule-set.js';
import { evaluateWindowRules } from './rules/window-statistic.js';
import {
  type ActionOutcome,
  cloneState,
  emptyOutbox,
  type FoldResult,
  type SensorRecord,
  type SensorState,
} from './state.js';
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
  /** The configured rules, when the caller gives no rule set (replay, tests). */
  rules: RuleSet;
  ctx: PlacementContext;
  maxOpenWindows: number;
}

const plans = new WeakMap<WindowpaneConfig, FoldPlan>();

function planOf(config: WindowpaneConfig): FoldPlan {
  let plan = plans.get(config);
  if (!plan) {
    plan = {
      windows: compileWindows(config),
      rules: configuredRuleSet(config),
      ctx: {
        allowedLatenessMs: config.allowedLatenessMs,
        withSquares: config.stddev,
        percentiles: percentilePlan(config),
      },
      maxOpenWindows: config.maxOpenWindows,
    };
    plans.set(config, plan);
  }
  return plan;
}

/**
 * Folds `records` (one sensor, arrival order) into a copy of `state`, with the rules
 * `ruleSet` resolves for the sensor (default: the configured ones). Records whose
 * position (sequence number, then KPL sub-index: record-position.ts) is not after the
 * last applied one of their shard are duplicates (a retried or redelivered batch) and
 * change nothing.
 */
export function foldSensorRecords(
  state: SensorState,
  records: readonly SensorRecord[],
  config: WindowpaneConfig,
  ruleSet?: RuleSet,
): FoldResult {
  const next = cloneState(state);
  const effects = emptyOutbox();
  const plan = planOf(config);
  const { windows, ctx, maxOpenWindows } = plan;
  const rules = (ruleSet ?? plan.rules).resolve(state.sensorId);
  const placement: Placement = { accepted: false, missed: undefined, opened: 0 };
  let openWindows = Object.keys(next.windows).length;
  let finalisedEarly = 0;
  // Last applied sequence number per shard; a Map keeps least-recently-used order cheaply.
  const appliedByShard = new Map(Object.entries(next.applied));
  let applied = 0;
  let duplicates = 0;
  const transitions: Transition[] = [];
  const actions: ActionOutcome[] = [];
  let lastAt = 0;

  for (const record of records) {
    const lastApplied = appliedByShard.get(record.shardId);
    const subIndex = record.subIndex ?? 0;
    if (lastApplied !== undefined && isAppliedAt(record.sequence, subIndex, lastApplied)) {
      duplicates++;
      continue;
    }
    applied++;
    // Sub-records of one aggregate share its sequence number: the sub-index tells them apart.
    const recordPosition =
      subIndex === 0 ? record.sequence : formatPosition({ sequence: record.sequence, subIndex });
    if (record.action) {
      // A-E1, A-C3: a control record touches its alarm only (no window, watermark or rule).
      applyAlarmAction(next, rules, record, transitions, actions);
      lastAt = record.arrivalMs ?? record.action.at;
      appliedByShard.delete(record.shardId);
      appliedByShard.set(record.shardId, recordPosition);
      continue;
    }
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

    // Alert-mode rules run on every valid reading, late ones included, in arrival order;
    // alarm-mode rules after them, in name order and in event-time order (A-E1, A-E2).
    evaluateRules(next, rules.alertsByMetric, reading, missed !== undefined, effects.alerts);
    if (rules.alarms.length > 0 || next.alarms) evaluateAlarms(next, rules, record, transitions);
    lastAt = record.arrivalMs ?? ts;

    if (missed !== undefined) {
      effects.late.push({
        id: `${record.shardId}:${recordPosition}`,
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

    openWindows += placement.opened;
    if (openWindows > maxOpenWindows) {
      const limited = enforceOpenWindowLimit(next, maxOpenWindows, (state, all) => {
        // Windows closed early are final windows like any: percentiles and window rules too.
        const finals = takeFinalWindows(state, ctx.allowedLatenessMs, all, ctx.percentiles);
        evaluateWindowRules(state, rules.windowRules, finals, effects.alerts);
        effects.results.push(...finals);
        return finals.length;
      });
      openWindows = limited.open;
      finalisedEarly += limited.early;
    }

    appliedByShard.delete(record.shardId);
    appliedByShard.set(record.shardId, recordPosition);
  }

  if (applied > 0) {
    next.applied = Object.fromEntries(appliedByShard);
    pruneShards(next);
    if (next.alarms || next.rs) removeGoneAlarms(next, rules, lastAt, transitions);
    if (next.rs || next.sd !== undefined) setSweepDue(next, rules);
    if (transitions.length > 0) effects.transitions = transitions;
    if (actions.length > 0) effects.actions = actions;
    const finals = takeFinalWindows(next, config.allowedLatenessMs, false, percentilePlan(config));
    evaluateWindowRules(next, rules.windowRules, finals, effects.alerts);
    effects.results.push(...finals);
  }
  next.outbox = effects;
  return { state: next, applied, duplicates, effects, finalisedEarly };
}

/**
 * Brings a sensor back to at most `limit` open windows (docs/SEMANTICS.md, Bounds B3):
 * windows already final leave first (their result is due anyway), then, while too many
 * remain, the oldest are closed as a flush would close them, through the earliest end
 * among them (`flushedThrough`), so a later reading for them is late, not a second result.
 * Only windows that were still open count, so where a batch or a commit was cut does not
 * change what is finalised early.
 */
function enforceOpenWindowLimit(
  state: SensorState,
  limit: number,
  finalise: (state: SensorState, all: false) => number,
): { open: number; early: number } {
  finalise(state, false);
  let open = Object.keys(state.windows).length;
  let early = 0;
  while (open > limit) {
    let oldestEnd = Number.POSITIVE_INFINITY;
    for (const key in state.windows) oldestEnd = Math.min(oldestEnd, state.windows[key]!.end);
    state.flushedThrough =
      state.flushedThrough === null ? oldestEnd : Math.max(state.flushedThrough, oldestEnd);
    const closed = finalise(state, false);
    early += closed;
    open -= closed;
  }
  return { open, early };
}

function pruneShards(state: SensorState): void {
  const shards = Object.keys(state.applied);
  for (let i = 0; i < shards.length - MAX_REMEMBERED_SHARDS; i++) delete state.applied[shards[i]!];
}
