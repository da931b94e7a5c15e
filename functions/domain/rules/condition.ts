/**
 * A condition on one value, as `threshold` states it (`above`, `below` or both): the
 * pattern kinds (rules/kinds/n-of-m.ts, sequence.ts) count or chain readings that meet one.
 */
import { z } from 'zod';

export const conditionFields = {
  above: z.number().finite().describe('met when a value is above this; any finite number').optional(),
  below: z.number().finite().describe('met when a value is below this; any finite number').optional(),
};

export interface Condition {
  above?: number | undefined;
  below?: number | undefined;
}

export const ConditionSchema = z
  .strictObject(conditionFields)
  .refine((c) => c.above !== undefined || c.below !== undefined, {
    message: 'a condition needs `above`, `below` or both',
  });

/** `value > above` or `value < below` (either bound given). */
export function meets(c: Condition, value: number): boolean {
  return (c.above !== undefined && value > c.above) || (c.below !== undefined && value < c.below);
}

/** How far beyond the bound it crosses the value is (0 when it meets none). */
export function beyond(c: Condition, value: number): number {
  if (c.above !== undefined && value > c.above) return value - c.above;
  if (c.below !== undefined && value < c.below) return c.below - value;
  return 0;
}
