/**
 * Which rules apply to which sensor (docs/SEMANTICS.md A-R2, A-R3): the configured rules
 * are the seed, rows of the rules table replace the seed row of the same (name, scope),
 * and per rule name a sensor gets the row of the most specific scope that matches it
 * (sensor, tag, longest prefix, all). A disabled winner exempts the sensor from that name.
 *
 * Pure: a `RuleSet` is built from rows and tags and resolves a sensor to its rules,
 * compiled for the fold. Resolutions are cached per sensor; with only `all`-scoped rows
 * every sensor shares one compiled list.
 */
import { RULE_STATE_BUDGET_BYTES } from './bounds.js';
import type { WindowpaneConfig } from './config.js';
import { modeOf, type Scope, scopeKey, scopeOf } from './rules/common.js';
import { kindOf, type Rule } from './rules/registry.js';

/** A sensor resolves at most this many rules, the first by name (A-R2). */
export const DEFAULT_MAX_RULES_PER_SENSOR = 32;
/** Sensors whose resolution is cached; beyond it the least recently used is dropped. */
const RESOLVED_CACHE_SIZE = 100_000;

/** A sensor's rules, compiled for the fold. */
export interface ResolvedRules {
  /** Every rule that applies, by name. */
  readonly rules: readonly Rule[];
  /** Alert-mode rules by the metric they read, each list by name. */
  readonly alertsByMetric: ReadonlyMap<string, readonly Rule[]>;
  /** Alert-mode rules on a final-window statistic (rules/window-statistic.ts). */
  readonly windowRules: readonly Rule[];
  /** Alarm-mode rules, by name. */
  readonly alarms: readonly Rule[];
  /** Alarm-mode rules by name, to find an entry's rule. */
  readonly alarmsByName: ReadonlyMap<string, Rule>;
}

export interface RuleSetOptions {
  rules: readonly Rule[];
  /** Tags per sensor id (from the rules table's tags rows). */
  tags?: ReadonlyMap<string, readonly string[]>;
  maxRulesPerSensor?: number;
}

/**
 * The table's rows over the seed: a row replaces the seed row with the same name and
 * scope; a seed row no table row replaces still applies.
 */
export function layerRules(seed: readonly Rule[], table: readonly Rule[]): Rule[] {
  const key = (r: Rule) => `${r.name}@${scopeKey(scopeOf(r))}`;
  const replaced = new Set(table.map(key));
  return [...seed.filter((r) => !replaced.has(key(r))), ...table];
}

const byRuleName = (a: Rule, b: Rule) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Alarm-mode rules run in name order (A-E1). Alert-mode rules keep the rows' order: each
 * alert is independent of the others, and the order is the one alerts always had.
 */
export function compileResolved(rules: readonly Rule[]): ResolvedRules {
  const alertsByMetric = new Map<string, Rule[]>();
  const alarms: Rule[] = [];
  const windowRules: Rule[] = [];
  for (const rule of rules) {
    if (kindOf(rule.type).windowStatistic?.(rule) !== undefined) {
      windowRules.push(rule);
      continue;
    }
    if (modeOf(rule, kindOf(rule.type).defaultMode) === 'alarm') {
      alarms.push(rule);
      continue;
    }
    const list = alertsByMetric.get(rule.metric) ?? [];
    list.push(rule);
    alertsByMetric.set(rule.metric, list);
  }
  alarms.sort(byRuleName);
  return {
    rules: [...rules].sort(byRuleName),
    alertsByMetric,
    windowRules,
    alarms,
    alarmsByName: new Map(alarms.map((r) => [r.name, r])),
  };
}

/** Smaller is more specific: sensor, tag, prefix (longer first), all. */
function specificity(scope: Scope): [number, number] {
  if (scope === 'all') return [3, 0];
  if ('sensor' in scope) return [0, 0];
  if ('tag' in scope) return [1, 0];
  return [2, -scope.prefix.length];
}

export class RuleSet {
  readonly rows: readonly Rule[];
  private readonly tags: ReadonlyMap<string, readonly string[]>;
  private readonly maxRules: number;
  /** Set when every row is scoped `all`: one resolution for every sensor. */
  private readonly shared: ResolvedRules | undefined;
  private readonly byName: ReadonlyMap<string, readonly Rule[]>;
  private readonly cache = new Map<string, ResolvedRules>();

  constructor(options: RuleSetOptions) {
    this.rows = options.rules;
    this.tags = options.tags ?? new Map();
    this.maxRules = options.maxRulesPerSensor ?? DEFAULT_MAX_RULES_PER_SENSOR;
    const byName = new Map<string, Rule[]>();
    for (const rule of options.rules) {
      const list = byName.get(rule.name) ?? [];
      list.push(rule);
      byName.set(rule.name, list);
    }
    this.byName = byName;
    this.shared = options.rules.every((r) => scopeOf(r) === 'all') ? this.build('') : undefined;
  }

  /** The rules that apply to `sensorId`, compiled; the same object while the set lives. */
  resolve(sensorId: string): ResolvedRules {
    if (this.shared) return this.shared;
    const hit = this.cache.get(sensorId);
    if (hit) {
      this.cache.delete(sensorId);
      this.cache.set(sensorId, hit);
      return hit;
    }
    const resolved = this.build(sensorId);
    this.cache.set(sensorId, resolved);
    if (this.cache.size > RESOLVED_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    return resolved;
  }

  private build(sensorId: string): ResolvedRules {
    const tags = [...(this.tags.get(sensorId) ?? [])].sort();
    const chosen: Rule[] = [];
    for (const rows of this.byName.values()) {
      let best: { rule: Rule; rank: [number, number, number] } | undefined;
      for (const rule of rows) {
        const scope = scopeOf(rule);
        if (!matches(scope, sensorId, tags)) continue;
        const [level, length] = specificity(scope);
        const tagRank = typeof scope === 'object' && 'tag' in scope ? tags.indexOf(scope.tag) : 0;
        const rank: [number, number, number] = [level, length, tagRank];
        if (!best || compareRank(rank, best.rank) < 0) best = { rule, rank };
      }
      if (best && !best.rule.disabled) chosen.push(best.rule);
    }
    if (chosen.length <= this.maxRules) return compileResolved(withinStateBudget(chosen));
    const kept = new Set(
      chosen
        .map((r) => r.name)
        .sort()
        .slice(0, this.maxRules),
    );
    return compileResolved(withinStateBudget(chosen.filter((r) => kept.has(r.name))));
  }
}

/**
 * Bounds B5: the alarm-mode rules whose kind state grows with its parameters (a zscore
 * window) apply in name order while their declared maxima fit RULE_STATE_BUDGET_BYTES
 * together; a rule past it does not apply to the sensor, as a rule past maxRulesPerSensor.
 */
export function withinStateBudget(rules: readonly Rule[]): Rule[] {
  let used = 0;
  const dropped = new Set<Rule>();
  for (const rule of [...rules].sort(byRuleName)) {
    const kind = kindOf(rule.type);
    if (modeOf(rule, kind.defaultMode) !== 'alarm' || !kind.maxStateBytes) continue;
    const bytes = kind.maxStateBytes(rule);
    if (used + bytes > RULE_STATE_BUDGET_BYTES) dropped.add(rule);
    else used += bytes;
  }
  return dropped.size === 0 ? [...rules] : rules.filter((r) => !dropped.has(r));
}

/**
 * Configured rules of scope `all` apply to every sensor together, so a set of them past the
 * budget would silently lose its last rules by name on every sensor: the configuration check
 * refuses it instead, naming the first rule that does not fit.
 */
export function stateBudgetIssues(rules: readonly Rule[]): { path: (string | number)[]; message: string }[] {
  const order = rules
    .map((rule, i) => ({ rule, i }))
    .filter(({ rule }) => scopeOf(rule) === 'all' && !rule.disabled)
    .sort((a, b) => byRuleName(a.rule, b.rule));
  const kept = new Set(withinStateBudget(order.map((o) => o.rule)));
  return order
    .filter(({ rule }) => !kept.has(rule))
    .map(({ rule, i }) => ({
      path: ['rules', i],
      message: `rule "${rule.name}" does not fit in a sensor's rule-state budget (${RULE_STATE_BUDGET_BYTES} bytes, Bounds B5) beside the alarm rules before it by name: its state takes up to ${kindOf(rule.type).maxStateBytes?.(rule)} bytes; use a smaller window or scope it`,
    }));
}

const configured = new WeakMap<WindowpaneConfig, RuleSet>();

/** The configured rules as a set, once per config (used when a caller gives no rule set). */
export function configuredRuleSet(config: WindowpaneConfig): RuleSet {
  let set = configured.get(config);
  if (!set) {
    set = new RuleSet({ rules: config.rules, maxRulesPerSensor: config.alarms.maxRulesPerSensor });
    configured.set(config, set);
  }
  return set;
}

function matches(scope: Scope, sensorId: string, sortedTags: readonly string[]): boolean {
  if (scope === 'all') return true;
  if ('sensor' in scope) return scope.sensor === sensorId;
  if ('tag' in scope) return sortedTags.includes(scope.tag);
  return sensorId.startsWith(scope.prefix);
}

function compareRank(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
