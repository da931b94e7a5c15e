/**
 * An alarm transition: the message published for each change of an alarm's state
 * (docs/SEMANTICS.md A-M1), and its id (A-M2), derived from what caused it so that a
 * retried batch yields the same id and body.
 */
import { createHash } from 'node:crypto';
import type { Severity } from '../rules/common.js';
import type { AlarmState } from './entry.js';

export const TRANSITIONS = [
  'ALARM',
  'RESOLVED',
  'LATCHED',
  'ACKNOWLEDGED',
  'RESET',
  'SNOOZED',
  'SNOOZE_ENDED',
  'ENABLED',
  'DISABLED',
  'RULE_REMOVED',
] as const;
export type TransitionName = (typeof TRANSITIONS)[number];

/** What the lifecycle decides; the caller adds who and where (`Transition`). */
export interface TransitionDraft {
  transition: TransitionName;
  from: AlarmState;
  state: AlarmState;
  at: number;
  clock: 'event' | 'processing';
  since: number | null;
  value: number | null;
  peak: number | null;
  peakAt: number | null;
  reactivated?: true;
  snoozedUntil?: number;
  by?: string;
  note?: string;
  actionId?: string;
}

/** The published message: the draft, who and where; buildTransition fixes the field order. */
export interface Transition extends TransitionDraft {
  transitionId: string;
  alarmId: string;
  sensorId: string;
  rule: string;
  ruleVersion: number;
  ruleType: string;
  severity: Severity;
  metric: string | null;
  seq: number;
  /** `<shardId>:<sequenceNumber>` of the record that caused it. */
  recordId?: string;
  /** The kind's fields (threshold: above/below; delta: previous/maxDelta). */
  detail: Record<string, number | string | null>;
}

/**
 * sha256 of (sensor, rule, seq, transition, at): `seq` alone restarts when a removed rule
 * comes back or the state expires; with `at` a collision needs the same millisecond too.
 */
export function transitionIdOf(
  sensorId: string,
  rule: string,
  seq: number,
  transition: TransitionName,
  at: number,
): string {
  return createHash('sha256')
    .update(JSON.stringify([sensorId, rule, seq, transition, at]))
    .digest('hex')
    .slice(0, 32);
}

export interface TransitionContext {
  sensorId: string;
  rule: string;
  ruleVersion: number;
  ruleType: string;
  severity: Severity;
  metric: string | null;
  seq: number;
  recordId?: string;
  detail?: Record<string, number | string | null>;
}

/** The full message, fields in the order they are written. */
export function buildTransition(ctx: TransitionContext, draft: TransitionDraft): Transition {
  const t: Omit<Transition, 'detail'> = {
    transitionId: transitionIdOf(ctx.sensorId, ctx.rule, ctx.seq, draft.transition, draft.at),
    alarmId: `${ctx.rule}@${ctx.sensorId}`,
    sensorId: ctx.sensorId,
    rule: ctx.rule,
    ruleVersion: ctx.ruleVersion,
    ruleType: ctx.ruleType,
    severity: ctx.severity,
    metric: ctx.metric,
    seq: ctx.seq,
    transition: draft.transition,
    from: draft.from,
    state: draft.state,
    at: draft.at,
    clock: draft.clock,
    since: draft.since,
    value: draft.value,
    peak: draft.peak,
    peakAt: draft.peakAt,
  };
  if (draft.reactivated) t.reactivated = true;
  if (draft.snoozedUntil !== undefined) t.snoozedUntil = draft.snoozedUntil;
  if (draft.by !== undefined) t.by = draft.by;
  if (draft.note !== undefined) t.note = draft.note;
  if (draft.actionId !== undefined) t.actionId = draft.actionId;
  if (ctx.recordId !== undefined) t.recordId = ctx.recordId;
  // detail last, after the optional fields.
  return Object.assign(t, { detail: ctx.detail ?? {} });
}
