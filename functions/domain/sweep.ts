/**
 * What the idle sweeper does to one sensor's state, as one pure fold: flush its open
 * windows when it is idle (windows/finalise.ts), and raise the alarms only silence can
 * raise (absence, docs/SEMANTICS.md A-K8) once they are due at the sweep's processing
 * time. The sweeper commits the result through the same fenced write as the handler.
 */
import { raiseSweptAlarms } from './alarms/evaluate.js';
import type { Transition } from './alarms/transition.js';
import type { WindowpaneConfig } from './config.js';
import { configuredRuleSet, type RuleSet } from './rule-set.js';
import { cloneState, emptyOutbox, type FoldResult, type SensorState, unchangedFold } from './state.js';
import { flushSensor } from './windows/finalise.js';

export interface SweepOptions {
  /** Close every open window (the sensor is idle). */
  flush: boolean;
  /** The sweep's processing time (epoch ms): what `sd` is compared with. */
  nowMs: number;
}

/** Whether the sweeper has an alarm to raise for `state` at `nowMs`. */
export function isSweepDue(state: SensorState, nowMs: number): boolean {
  return state.sd !== undefined && state.sd < nowMs;
}

/** The idle sweeper's fold of one sensor; unchanged when there is nothing to do. */
export function sweepSensor(
  state: SensorState,
  config: WindowpaneConfig,
  ruleSet: RuleSet | undefined,
  opts: SweepOptions,
): FoldResult {
  const flush = opts.flush && Object.keys(state.windows).length > 0;
  const due = isSweepDue(state, opts.nowMs);
  if (!flush && !due) return unchangedFold(state);
  const result = flush ? flushSensor(state, config, ruleSet) : foldOf(state);
  if (!due) return result;
  const transitions: Transition[] = [];
  raiseSweptAlarms(
    result.state,
    (ruleSet ?? configuredRuleSet(config)).resolve(state.sensorId),
    opts.nowMs,
    transitions,
  );
  if (transitions.length > 0) result.effects.transitions = transitions;
  result.state.outbox = result.effects;
  if (transitions.length === 0 && result.state.sd !== state.sd) result.rewrite = true;
  return result;
}

/** A copy to change, with an empty outbox of its own. */
function foldOf(state: SensorState): FoldResult {
  const next = cloneState(state);
  const effects = emptyOutbox();
  next.outbox = effects;
  return { state: next, applied: 0, duplicates: 0, effects, finalisedEarly: 0 };
}
