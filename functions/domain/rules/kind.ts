/**
 * The shape of a rule kind: everything windowpane knows about one kind lives in one
 * module of rules/kinds/ that exports a `RuleKind`, registered in rules/registry.ts.
 * Nothing outside that module branches on a rule's `type`.
 */
import type { z } from 'zod';
import type { Alert } from '../rules.js';

/** The fields a kind adds to an alert body, after the common ones (rules.ts `buildAlert`). */
export type AlertFields = Partial<Pick<Alert, 'above' | 'below' | 'previous' | 'maxDelta'>>;

export interface RuleKind<R extends { type: string }> {
  readonly type: R['type'];
  /** Kind parameters and the common fields (rules/common.ts). */
  readonly schema: z.ZodType<R>;
  /**
   * Alert mode: does the rule fire for `value`, given the sensor's previous valid value of
   * the metric in arrival order (undefined before the first)?
   */
  fires(rule: R, value: number, previous: number | undefined): boolean;
  /** The kind's fields of an alert body, in the order they are written. */
  alertFields(rule: R, previous: number | undefined): AlertFields;
  /** Why an alert of this kind fired, for the console (` (above 35)`), or ''. */
  describeAlert(alert: Alert): string;
}
