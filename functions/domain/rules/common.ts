/**
 * The fields every rule kind shares (docs/SEMANTICS.md "Rules and alarms", A-R1): its
 * name, the metric it reads, its severity and the alert-mode cooldown. A kind's schema
 * spreads `ruleCommon` beside its own parameters (rules/kinds/<kind>.ts).
 */
import { z } from 'zod';
import { durationMs, MAX_COOLDOWN_MS, SECOND_MS } from '../durations.js';

export const SeveritySchema = z.enum(['info', 'warning', 'critical']);
export type Severity = z.infer<typeof SeveritySchema>;

/** `#` and `@` can never appear in a name: rule keys and alarm ids rely on it. */
export const RuleNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'rule names are lower-case letters, digits and dashes (max 64)');

export const ruleCommon = {
  name: RuleNameSchema,
  metric: z.string().min(1),
  severity: SeveritySchema.default('warning'),
  /** Suppression bucket: at most one alert per (sensor, rule, floor(timestamp / cooldownMs)). */
  cooldownMs: durationMs(
    SECOND_MS,
    MAX_COOLDOWN_MS,
    'at most one alert per sensor and rule in each such bucket of event time',
  ).default(60_000),
};

/** `alert`: per-bucket alerts (today's). `alarm`: the lifecycle of each (sensor, rule). */
export const ModeSchema = z.enum(['alert', 'alarm']);
export type Mode = z.infer<typeof ModeSchema>;

const scopeValue = z.string().min(1).max(256);
/** Which sensors a rule applies to (A-R2); the most specific matching row wins per name. */
export const ScopeSchema = z.union([
  z.literal('all'),
  z.strictObject({ prefix: scopeValue }),
  z.strictObject({ tag: z.string().regex(/^[A-Za-z0-9_.:/-]{1,64}$/, 'tags are [A-Za-z0-9_.:/-], 1 to 64') }),
  z.strictObject({ sensor: scopeValue }),
]);
export type Scope = z.infer<typeof ScopeSchema>;

/**
 * The common fields of the rules and alarms contract. They are optional in the schema
 * (a configured rule reads back as it was written); `modeOf`, `scopeOf` and `lifecycleOf`
 * give their defaults.
 */
export const ruleOptions = {
  mode: ModeSchema.optional(),
  scope: ScopeSchema.optional(),
  /** Table rows always carry one (written by the CLI); configuration and files may omit it. */
  version: z
    .number()
    .int()
    .min(1)
    .max(Number.MAX_SAFE_INTEGER)
    .describe("the rule row's version; 1 to 2^53-1")
    .optional(),
  /** A disabled row matches its sensors and applies nothing to them. */
  disabled: z.boolean().optional(),
  /** Alarm mode: a clearing condition goes to LATCHED until acknowledged. */
  latch: z.boolean().optional(),
  /** Alarm mode: consecutive normal readings needed to clear. */
  clearAfter: z
    .number()
    .int()
    .min(1)
    .max(1_000)
    .describe('consecutive normal readings; 1 to 1000')
    .optional(),
  /** Alarm mode: a new alarm starts DISABLED (IoT Events' disabledOnInitialization). */
  startDisabled: z.boolean().optional(),
};

interface CommonFields {
  name: string;
  mode?: Mode | undefined;
  scope?: Scope | undefined;
  version?: number | undefined;
  latch?: boolean | undefined;
  clearAfter?: number | undefined;
  startDisabled?: boolean | undefined;
}

/** The mode a rule runs in; threshold and delta default to `alert`. */
export function modeOf(rule: CommonFields, defaultMode: Mode = 'alert'): Mode {
  return rule.mode ?? defaultMode;
}

export function scopeOf(rule: CommonFields): Scope {
  return rule.scope ?? 'all';
}

/** The scope as a key: `all`, `prefix#<p>`, `tag#<t>`, `sensor#<id>`. */
export function scopeKey(scope: Scope): string {
  if (scope === 'all') return 'all';
  if ('prefix' in scope) return `prefix#${scope.prefix}`;
  if ('tag' in scope) return `tag#${scope.tag}`;
  return `sensor#${scope.sensor}`;
}

/** The version messages carry: the row's, or 0 for an unversioned rule. */
export function versionOf(rule: CommonFields): number {
  return rule.version ?? 0;
}

export interface LifecycleOptions {
  latch: boolean;
  clearAfter: number;
  startDisabled: boolean;
}

export function lifecycleOf(rule: CommonFields, defaultLatch = false): LifecycleOptions {
  return {
    latch: rule.latch ?? defaultLatch,
    clearAfter: rule.clearAfter ?? 1,
    startDisabled: rule.startDisabled ?? false,
  };
}

/**
 * The clear bounds of a kind that breaches outside `above` / `below` (threshold A-K1, rate
 * A-K5): `below <= clear.above <= clear.below <= above`, `clear.below` needs `above` and
 * `clear.above` needs `below`. For a schema's `superRefine`.
 */
export function refineClearBounds(
  r: {
    above?: number | undefined;
    below?: number | undefined;
    clear?: { above?: number | undefined; below?: number | undefined } | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  const c = r.clear;
  if (!c) return;
  const issue = (path: string, message: string) =>
    ctx.addIssue({ code: 'custom', path: ['clear', path], message });
  if (c.below !== undefined && r.above === undefined) issue('below', 'clear.below needs `above`');
  if (c.above !== undefined && r.below === undefined) issue('above', 'clear.above needs `below`');
  if (c.below !== undefined && r.above !== undefined && c.below > r.above)
    issue('below', `clear.below ${c.below} must be at most above ${r.above}`);
  if (c.above !== undefined && r.below !== undefined && c.above < r.below)
    issue('above', `clear.above ${c.above} must be at least below ${r.below}`);
  if (c.above !== undefined && c.below !== undefined && c.above > c.below)
    issue('above', `clear.above ${c.above} must be at most clear.below ${c.below}`);
}
