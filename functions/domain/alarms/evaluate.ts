/**
 * Alarm-mode rules in the fold (docs/SEMANTICS.md A-E1, A-E2, A-L5): per record, the
 * snoozes that ended by its arrival, then the sensor's alarm-mode rules in name order,
 * each judging the reading with its kind and stepping its alarm through the lifecycle.
 * After the last record, alarms whose rule no longer applies are removed. Transitions are
 * appended to the fold's outbox; nothing here reads a clock.
 */
import type { ResolvedRules } from '../rule-set.js';
import { lifecycleOf, versionOf } from '../rules/common.js';
import { kindOf, type Rule } from '../rules/registry.js';
import type { ActionOutcome, ActionRecord, ReadingRecord, RuleMemory, SensorState } from '../state.js';
import { type AlarmEntry, alarmIdOf, newEntry } from './entry.js';
import { type LifecycleInput, type StepResult, stepAlarm } from './lifecycle.js';
import { buildTransition, type Transition, type TransitionDraft } from './transition.js';

export interface AlarmCounts {
  /** Readings an alarm-mode rule skipped because they were older than its high-water mark. */
  skippedOlder: number;
}

/** Runs the alarm side of one applied record (A-E1 steps 3 and 4). */
export function evaluateAlarms(
  state: SensorState,
  resolved: ResolvedRules,
  record: ReadingRecord,
  out: Transition[],
  counts?: AlarmCounts,
): void {
  if (record.arrivalMs !== undefined && state.alarms) endSnoozes(state, resolved, record.arrivalMs, out);
  if (resolved.alarms.length === 0) return;
  const { reading } = record;
  const t = reading.timestamp;
  state.alarms ??= {};
  state.rs ??= {};
  const alarms = state.alarms;
  const memory = state.rs;
  for (const rule of resolved.alarms) {
    const value = reading.values[rule.metric];
    if (value === undefined) continue;
    const kind = kindOf(rule.type);
    const key = kind.stateKey(rule);
    const before = memory[rule.name];
    const mem: RuleMemory = before && before.k === key ? before : { k: key, h: null };
    const older = mem.h !== null && t < mem.h;
    // A-E2: stateful kinds see readings in event-time order only.
    if (older && kind.stateful) {
      if (counts) counts.skippedOlder++;
      continue;
    }
    const evaluation = kind.evaluate(rule, mem.s, value);
    const next: RuleMemory = { k: key, h: older ? mem.h : t };
    if (evaluation.state !== undefined) next.s = evaluation.state;
    memory[rule.name] = next;
    // An older reading may raise (a breach is not lost) but never counts towards clearing.
    const verdict = older && evaluation.verdict !== 'breach' ? 'skip' : evaluation.verdict;
    const input: LifecycleInput = { type: 'verdict', verdict, at: t, value, score: evaluation.score };
    step(state, alarms, rule, input, out, {
      recordId: `${record.shardId}:${record.sequence}`,
      detail: evaluation.detail,
    });
  }
}

/**
 * A control record (A-C3): the snoozes that ended by its arrival end first (as for a
 * reading), then the action steps its alarm. An alarm whose rule does not apply to the
 * sensor in mode alarm is unknown: the action is refused. A refusal changes no alarm
 * and publishes nothing; every action leaves its outcome for the alarms projection.
 */
export function applyAlarmAction(
  state: SensorState,
  resolved: ResolvedRules,
  record: ActionRecord,
  out: Transition[],
  outcomes: ActionOutcome[],
): void {
  const { action } = record;
  if (record.arrivalMs !== undefined && state.alarms) endSnoozes(state, resolved, record.arrivalMs, out);
  const outcome: ActionOutcome = {
    actionId: action.actionId,
    alarmId: action.alarmId,
    sensorId: state.sensorId,
    action: action.type,
    by: action.by,
    outcome: 'refused',
    recordId: `${record.shardId}:${record.sequence}`,
  };
  outcomes.push(outcome);
  const rule = resolved.alarmsByName.get(action.rule);
  if (!rule) {
    outcome.reason = `${action.alarmId} is unknown: no alarm-mode rule ${action.rule} applies to sensor ${state.sensorId}`;
    return;
  }
  state.alarms ??= {};
  const before = out.length;
  const r = step(state, state.alarms, rule, { type: 'action', action }, out, {
    recordId: outcome.recordId,
  });
  if (r.kind === 'rejected') outcome.reason = r.reason;
  else if (r.kind === 'alreadyApplied') outcome.outcome = 'already-applied';
  else {
    outcome.outcome = 'applied';
    const t = out.length > before ? out[out.length - 1] : undefined;
    if (t) outcome.transitionId = t.transitionId;
  }
  if (Object.keys(state.alarms).length === 0) delete state.alarms;
}

/** Every snooze whose snoozedUntil is at or before `nowMs` ends, at its snoozedUntil. */
export function endSnoozes(
  state: SensorState,
  resolved: ResolvedRules,
  nowMs: number,
  out: Transition[],
): void {
  const alarms = state.alarms;
  if (!alarms) return;
  for (const name of Object.keys(alarms).sort()) {
    const entry = alarms[name]!;
    const rule = resolved.alarmsByName.get(name);
    if (!rule || entry.st !== 'S' || entry.su === undefined || entry.su > nowMs) continue;
    step(state, alarms, rule, { type: 'snoozeEnded' }, out, {});
  }
}

/**
 * A-L5: an alarm whose rule no longer applies to the sensor (removed, disabled for it, or
 * now in alert mode) is removed, with RULE_REMOVED unless it was NORMAL; so is its memory.
 */
export function removeGoneAlarms(
  state: SensorState,
  resolved: ResolvedRules,
  at: number,
  out: Transition[],
): void {
  for (const name of Object.keys(state.rs ?? {}))
    if (!resolved.alarmsByName.has(name)) delete state.rs![name];
  const alarms = state.alarms;
  if (alarms) {
    for (const name of Object.keys(alarms).sort()) {
      if (resolved.alarmsByName.has(name)) continue;
      const entry = alarms[name]!;
      const r = stepAlarm(
        entry,
        { type: 'ruleGone', at },
        lifecycleOf({ name }),
        alarmIdOf(name, state.sensorId),
      );
      delete alarms[name];
      if (r.kind === 'changed' && r.transition) {
        out.push(
          buildTransition(
            {
              sensorId: state.sensorId,
              rule: name,
              ruleVersion: entry.ver ?? 0,
              ruleType: entry.ty ?? 'unknown',
              severity: entry.sv ?? 'warning',
              metric: null,
              seq: entry.q + 1,
            },
            r.transition,
          ),
        );
      }
    }
    if (Object.keys(alarms).length === 0) delete state.alarms;
  }
  if (state.rs && Object.keys(state.rs).length === 0) delete state.rs;
}

function step(
  state: SensorState,
  alarms: Record<string, AlarmEntry>,
  rule: Rule,
  input: LifecycleInput,
  out: Transition[],
  extra: { recordId?: string; detail?: Record<string, number | string | null> },
): StepResult {
  const lifecycle = lifecycleOf(rule);
  const existing = alarms[rule.name];
  const entry = existing ?? newEntry(lifecycle.startDisabled);
  const r = stepAlarm(entry, input, lifecycle, alarmIdOf(rule.name, state.sensorId));
  if (r.kind !== 'changed' || !r.entry) return r;
  alarms[rule.name] = r.entry;
  if (r.transition || (!existing && r.entry.st !== 'N')) {
    remember(r.entry, rule);
    if (r.transition) out.push(transitionOf(state.sensorId, rule, r.entry.q, r.transition, extra));
  }
  return r;
}

/** What a RULE_REMOVED message needs once the rule is gone: the rule as last published. */
function remember(entry: AlarmEntry, rule: Rule): void {
  const version = versionOf(rule);
  if (version !== 0) entry.ver = version;
  else delete entry.ver;
  entry.ty = rule.type;
  entry.sv = rule.severity;
}

function transitionOf(
  sensorId: string,
  rule: Rule,
  seq: number,
  draft: TransitionDraft,
  extra: { recordId?: string; detail?: Record<string, number | string | null> },
): Transition {
  return buildTransition(
    {
      sensorId,
      rule: rule.name,
      ruleVersion: versionOf(rule),
      ruleType: rule.type,
      severity: rule.severity,
      metric: rule.metric,
      seq,
      ...extra,
    },
    draft,
  );
}
