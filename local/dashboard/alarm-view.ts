/**
 * An alarm transition (the alert topic's `kind=alarm` messages, docs/SEMANTICS.md A-M1) as
 * the page's `AlarmView`: the alarm's state after it, since when (the transition's `at`),
 * its value and peak, and who acknowledged or snoozed it. `seq` lets the store keep the
 * newest state when SNS delivers an alarm's transitions out of order or twice.
 */
import type { Transition } from '../../functions/domain/alarms/transition.js';
import type { AlarmView } from './model.js';

/** A transition, or the projection's current row of an alarm (its last transition without `detail`). */
export function alarmViewOf(t: Omit<Transition, 'detail'>): AlarmView {
  const view: AlarmView = {
    id: t.alarmId,
    sensorId: t.sensorId,
    rule: t.rule,
    ruleVersion: t.ruleVersion,
    state: t.state,
    transition: t.transition,
    seq: t.seq,
    severity: t.severity,
    since: t.at,
  };
  if (t.value !== null) view.value = t.value;
  if (t.peak !== null) view.peak = t.peak;
  if (t.by !== undefined) view.by = t.by;
  if (t.note !== undefined) view.note = t.note;
  if (t.snoozedUntil !== undefined) view.snoozedUntil = t.snoozedUntil;
  return view;
}
