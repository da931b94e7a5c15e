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
    const read = reading.values[rule.metric];
    if (read === undefined) continue;
    // -0 as 0: the state item's JSON writes -0 as 0, so a kind state holding it would
    // differ after a round trip (no comparison a kind makes tells them apart).
    const value = read === 0 ? 0 : read;
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
    const evaluation = kind.evaluate(rule, mem.s, value, { t, arrivalMs: record.arrivalMs });
    const next: RuleMemory = { k: key, h: older ? mem.h : t };
    if (evaluation.state !== undefined) next.s = evaluation.state;
    memory[rule.name] = next;
    const recordId = `${record.shardId}:${record.sequence}`;
    const implied = evaluation.implied;
    if (implied) {
      // A breach the reading reveals before itself (absence, A-K8): no value was read then.
      const input: LifecycleInput = {
        type: 'verdict',
        verdict: 'breach',
        at: implied.at,
        value: null,
        score: implied.score,
      };
      step(state, alarms, rule, input, out, { recordId, detail: implied.detail });
    }
    // An older reading may raise (a breach is not lost) but never counts towards clearing.
    const verdict = older && evaluation.verdict !== 'breach' ? 'skip' : evaluation.verdict;
    const input: LifecycleInput = { type: 'verdict', verdict, at: t, value, score: evaluation.score };
    step(state, alarms, rule, input, out, { recordId, detail: evaluation.detail });
  }
}

/** States in which a breach found by the sweeper changes the alarm (a snooze may end first). */
const SWEEP_RAISES = new Set(['N', 'L', 'S']);

/**
 * A-K8: the idle sweeper's pass over one sensor at processing time `nowMs`. Snoozes that
 * ended by then end, then each alarm-mode rule whose kind the sweeper drives and whose
 * finding is due steps a breach at the finding's event time. Keeps `sd` true.
 */
export function raiseSweptAlarms(
  state: SensorState,
  resolved: ResolvedRules,
  nowMs: number,
  out: Transition[],
): void {
  if (state.alarms) endSnoozes(state, resolved, nowMs, out);
  for (const rule of resolved.alarms) {
    const kind = kindOf(rule.type);
    const mem = state.rs?.[rule.name];
    if (!kind.sweep || !mem || mem.k !== kind.stateKey(rule)) continue;
    const entry = state.alarms?.[rule.name];
    if (entry && !SWEEP_RAISES.has(entry.st)) continue;
    const found = kind.sweep.find(rule, mem.s, nowMs);
    if (!found) continue;
    state.alarms ??= {};
    const input: LifecycleInput = {
      type: 'verdict',
      verdict: 'breach',
      at: found.at,
      value: null,
      score: found.score,
    };
    step(state, state.alarms, rule, input, out, { detail: found.detail });
  }
  setSweepDue(state, resolved);
}

/**
 * `sd`: the earliest processing time at which the sweeper has an alarm to raise for this
 * sensor (the store keeps it as the `silentDue` attribute its scan filters on); absent when
 * none can be raised (every such alarm already open, disabled, or no state yet).
 */
export function setSweepDue(state: SensorState, resolved: ResolvedRules): void {
  let due: number | undefined;
  for (const rule of resolved.alarms) {
    const kind = kindOf(rule.type);
    const mem = state.rs?.[rule.name];
    if (!kind.sweep || !mem || mem.k !== kind.stateKey(rule)) continue;
    const entry = state.alarms?.[rule.name];
    if (entry && !SWEEP_RAISES.has(entry.st)) continue;
    let at = kind.sweep.dueAt(rule, mem.s);
    if (at === undefined) continue;
    if (entry?.st === 'S' && entry.su !== undefined) at = Math.max(at, entry.su);
    if (due === undefined || at < due) due = at;
  }
  if (due === undefined) delete state.sd;
  else state.sd = due;
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
