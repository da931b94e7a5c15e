/**
 * The alarm lifecycle as one pure step (docs/SEMANTICS.md A-L1..A-L4): an alarm entry and
 * one input give the next entry and at most one transition, or a rejection. Every row of
 * the transition table is a case below; nothing else changes an alarm.
 */
import { WindowpaneError } from '../errors.js';
import type { LifecycleOptions } from '../rules/common.js';
import {
  ACTION_IDS_KEPT,
  type AlarmEntry,
  type AlarmState,
  cloneEntry,
  type StateCode,
  stateOf,
} from './entry.js';
import type { TransitionDraft, TransitionName } from './transition.js';

export type Verdict = 'breach' | 'normal' | 'band' | 'skip';
export type ActionType = 'ack' | 'snooze' | 'disable' | 'enable' | 'reset';

export interface ActionInput {
  type: ActionType;
  actionId: string;
  /** Processing time the action was requested (epoch ms). */
  at: number;
  /** snooze: its length. */
  forMs?: number;
  by: string;
  note?: string;
}

export type LifecycleInput =
  | { type: 'verdict'; verdict: Verdict; at: number; value: number | null; score: number }
  | { type: 'snoozeEnded' }
  | { type: 'ruleGone'; at: number }
  | { type: 'action'; action: ActionInput };

export type StepResult =
  /** `entry` null: the entry is removed (ruleGone). */
  | { kind: 'changed'; entry: AlarmEntry | null; transition?: TransitionDraft }
  | { kind: 'rejected'; reason: string }
  | { kind: 'alreadyApplied' };

/** An action the alarm's state does not allow; nothing is committed. */
export class AlarmActionRejectedError extends WindowpaneError {}

const REFUSAL: Record<ActionType, string> = {
  ack: 'nothing to acknowledge',
  snooze: 'it cannot be snoozed',
  disable: 'it is already disabled',
  enable: 'it is not disabled or snoozed',
  reset: 'nothing to reset',
};

/** One input applied to one alarm (`alarmId` names it in a rejection). */
export function stepAlarm(
  entry: AlarmEntry,
  input: LifecycleInput,
  options: LifecycleOptions,
  alarmId: string,
): StepResult {
  switch (input.type) {
    case 'verdict':
      return onVerdict(entry, input, options);
    case 'snoozeEnded':
      if (entry.st !== 'S' || entry.su === undefined) return { kind: 'changed', entry };
      return move(entry, 'N', 'SNOOZE_ENDED', entry.su, 'processing', {});
    case 'ruleGone': {
      if (entry.st === 'N') return { kind: 'changed', entry: null };
      const gone = move(entry, 'N', 'RULE_REMOVED', input.at, 'processing', {});
      return { kind: 'changed', entry: null, transition: gone.transition };
    }
    case 'action':
      return onAction(entry, input.action, alarmId);
  }
}

function onVerdict(
  entry: AlarmEntry,
  input: Extract<LifecycleInput, { type: 'verdict' }>,
  options: LifecycleOptions,
): StepResult {
  const { verdict, at, value, score } = input;
  const st = entry.st;
  // Snoozed and disabled alarms do not change (their kind state still updates, elsewhere).
  if (verdict === 'skip' || st === 'S' || st === 'D') return { kind: 'changed', entry };
  const next = cloneEntry(entry);
  if (verdict === 'breach') {
    if (st === 'N' || st === 'L') {
      const reactivated = st === 'L';
      next.si = reactivated && entry.si !== undefined ? entry.si : at;
      if (!reactivated || entry.ps === undefined || score > entry.ps) {
        next.pk = value;
        next.pt = at;
        next.ps = score;
      }
      next.v = value;
      next.c = 0;
      return transit(next, entry, 'A', 'ALARM', at, 'event', reactivated ? { reactivated: true } : {});
    }
    // ACTIVE or ACKNOWLEDGED: the episode goes on; its peak may grow.
    next.v = value;
    next.c = 0;
    if (entry.ps === undefined || score > entry.ps) {
      next.pk = value;
      next.pt = at;
      next.ps = score;
    }
    return { kind: 'changed', entry: next };
  }
  if (st === 'N' || st === 'L') return { kind: 'changed', entry };
  next.v = value;
  if (verdict === 'band') {
    next.c = 0;
    return { kind: 'changed', entry: next };
  }
  next.c = (entry.c ?? 0) + 1;
  if (next.c < options.clearAfter) return { kind: 'changed', entry: next };
  if (st === 'A' && options.latch) {
    next.c = 0;
    return transit(next, entry, 'L', 'LATCHED', at, 'event', {});
  }
  return move(next, 'N', 'RESOLVED', at, 'event', {}, entry);
}

function onAction(entry: AlarmEntry, action: ActionInput, alarmId: string): StepResult {
  if (entry.ac?.includes(action.actionId)) return { kind: 'alreadyApplied' };
  const st = entry.st;
  const who = {
    by: action.by,
    actionId: action.actionId,
    ...(action.note !== undefined ? { note: action.note } : {}),
  };
  let result: StepResult | undefined;
  switch (action.type) {
    case 'ack':
      if (st === 'A')
        result = transit(cloneEntry(entry), entry, 'K', 'ACKNOWLEDGED', action.at, 'processing', who);
      else if (st === 'L') result = move(entry, 'N', 'ACKNOWLEDGED', action.at, 'processing', who);
      break;
    case 'reset':
      if (st === 'A' || st === 'K' || st === 'L')
        result = move(entry, 'N', 'RESET', action.at, 'processing', who);
      break;
    case 'snooze': {
      if (st === 'D' || action.forMs === undefined) break;
      const until = action.at + action.forMs;
      const snoozed = move(entry, 'S', 'SNOOZED', action.at, 'processing', { ...who, snoozedUntil: until });
      snoozed.entry.su = until;
      result = snoozed;
      break;
    }
    case 'disable':
      if (st !== 'D') result = move(entry, 'D', 'DISABLED', action.at, 'processing', who);
      break;
    case 'enable':
      if (st === 'D' || st === 'S') result = move(entry, 'N', 'ENABLED', action.at, 'processing', who);
      break;
  }
  if (!result)
    return { kind: 'rejected', reason: `${alarmId} is ${stateOf(entry)}: ${REFUSAL[action.type]}` };
  if (result.kind === 'changed' && result.entry) {
    result.entry.ac = [...(entry.ac ?? []), action.actionId].slice(-ACTION_IDS_KEPT);
  }
  return result;
}

type Changed = { kind: 'changed'; entry: AlarmEntry; transition: TransitionDraft };
type Extra = Omit<Partial<TransitionDraft>, 'transition' | 'from' | 'state' | 'at' | 'clock'>;

/** A transition that keeps the episode (ALARM, ACKNOWLEDGED from ACTIVE, LATCHED). */
function transit(
  next: AlarmEntry,
  before: AlarmEntry,
  to: StateCode,
  transition: TransitionName,
  at: number,
  clock: 'event' | 'processing',
  extra: Extra,
): Changed {
  next.st = to;
  next.q = before.q + 1;
  delete next.su;
  return { kind: 'changed', entry: next, transition: draft(before, next, transition, at, clock, extra) };
}

/** A transition that ends the episode: the message carries its since and peak. */
function move(
  entry: AlarmEntry,
  to: StateCode,
  transition: TransitionName,
  at: number,
  clock: 'event' | 'processing',
  extra: Extra,
  before: AlarmEntry = entry,
): Changed {
  const message = draft(before, entry, transition, at, clock, extra);
  message.state = stateName(to);
  const next: AlarmEntry = { st: to, q: before.q + 1 };
  if (entry.ac) next.ac = entry.ac.slice();
  return { kind: 'changed', entry: next, transition: message };
}

function draft(
  before: AlarmEntry,
  after: AlarmEntry,
  transition: TransitionName,
  at: number,
  clock: 'event' | 'processing',
  extra: Extra,
): TransitionDraft {
  return {
    transition,
    from: stateOf(before),
    state: stateOf(after),
    at,
    clock,
    since: after.si ?? null,
    value: after.v ?? null,
    peak: after.pk ?? null,
    peakAt: after.pt ?? null,
    ...extra,
  };
}

function stateName(code: StateCode): AlarmState {
  return stateOf({ st: code, q: 0 });
}
