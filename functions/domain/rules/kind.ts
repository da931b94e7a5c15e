/**
 * The shape of a rule kind: everything windowpane knows about one kind lives in one
 * module of rules/kinds/ that exports a `RuleKind`, registered in rules/registry.ts.
 * Nothing outside that module branches on a rule's `type`.
 */
import type { z } from 'zod';
import type { Verdict } from '../alarms/lifecycle.js';
import type { Alert } from '../rules.js';
import type { Mode } from './common.js';

/** One reading judged by an alarm-mode rule (docs/SEMANTICS.md A-K clauses). */
export interface Evaluation<S> {
  verdict: Verdict;
  /** Larger is worse: the episode's peak is its evaluation with the largest score. */
  score: number;
  /** The kind's fields for the transition message. */
  detail: Record<string, number | string | null>;
  /** The kind's state after the reading (a new object; the one given is not changed). */
  state: S | undefined;
  /**
   * A breach the reading reveals at an earlier event time (absence: the silence it ends,
   * A-K8), stepped through the lifecycle before the reading's own verdict.
   */
  implied?: { at: number; score: number; detail: Record<string, number | string | null> };
}

/** When the reading being judged happened and reached the stream. */
export interface EvaluationContext {
  /** Event time (epoch ms). */
  t: number;
  /** Kinesis arrival time (epoch ms), when the record carries it. */
  arrivalMs?: number | undefined;
}

/** A breach the idle sweeper finds with no reading (absence, A-K8). */
export interface SweepFinding {
  /** Event time of the breach. */
  at: number;
  score: number;
  detail: Record<string, number | string | null>;
}

/** The fields a kind adds to an alert body, after the common ones (rules.ts `buildAlert`). */
export type AlertFields = Partial<Pick<Alert, 'above' | 'below' | 'previous' | 'maxDelta'>>;

export interface RuleKind<R extends { type: string }, S = unknown> {
  readonly type: R['type'];
  /** Kind parameters and the common fields (rules/common.ts). */
  readonly schema: z.ZodType<R>;
  readonly defaultMode: Mode;
  /**
   * Whether the kind keeps state between readings. A stateful kind skips a reading older
   * than the newest it has evaluated (A-E2); a stateless one evaluates it, and an older
   * reading may raise an alarm but never counts towards clearing it.
   */
  readonly stateful: boolean;
  /** The parameters that shape the state: when it changes, the state starts afresh (A-L5). */
  stateKey(rule: R): string;
  /**
   * Alarm mode: the reading's value against the kind state from before it, with the
   * reading's event and arrival time (`at.t`, `at.arrivalMs`). Readings come in event-time
   * order (A-E2), so `at.t` never decreases for a stateful kind.
   */
  evaluate(rule: R, state: S | undefined, value: number, at: EvaluationContext): Evaluation<S>;
  /**
   * The most bytes the kind's state can take in the state item's JSON, for a kind whose
   * state grows with its parameters (a window of readings): counted against the sensor's
   * rule-state budget (docs/SEMANTICS.md "Bounds" B5). Absent: a small fixed state.
   */
  maxStateBytes?(rule: R): number;
  /**
   * Kinds the idle sweeper raises (absence, A-K8): `dueAt` is the processing time from
   * which `find` reports a breach for this state; neither reads a clock.
   */
  readonly sweep?: {
    dueAt(rule: R, state: S | undefined): number | undefined;
    find(rule: R, state: S | undefined, nowMs: number): SweepFinding | undefined;
  };
  /**
   * Alert mode: does the rule fire for `value`, given the sensor's previous valid value of
   * the metric in arrival order (undefined before the first)?
   */
  fires(rule: R, value: number, previous: number | undefined): boolean;
  /** The kind's fields of an alert body, in the order they are written. */
  alertFields(rule: R, previous: number | undefined): AlertFields;
  /**
   * The final-window statistic the rule reads (`p99`, `mean`, ...) when it runs once per
   * window instead of on each reading (rules/window-statistic.ts); absent: per reading.
   */
  windowStatistic?(rule: R): string | undefined;
  /** Why an alert of this kind fired, for the console (` (above 35)`), or ''. */
  describeAlert(alert: Alert): string;
}
