/**
 * Where a running handler gets its rules (docs/SEMANTICS.md A-R3, A-R4). `StaticRuleSource`
 * holds the configured rules (or a replay's rules file) and never reads anything.
 * `TableRuleSource` layers the rules table over the configured seed: a full load before
 * the first batch (its failure fails the batch, which Lambda retries: running with the
 * wrong rules would be worse than waiting), then, at most every `refreshMs`, one read of
 * the table's revision, with a full reload only when it changed or when `fullReloadMs`
 * passed. A failed refresh keeps the last good rules. A row that does not validate is
 * skipped as if absent, logged and counted, on every load while it stays bad.
 */
import type { WindowpaneConfig } from '../domain/config.js';
import { layerRules, RuleSet } from '../domain/rule-set.js';
import type { Rule } from '../domain/rules/registry.js';
import type { RulesTable } from './rules-table.js';

/** What one refresh found: bad rows skipped (RulesInvalid) and whether it failed (RulesRefreshFailed). */
export interface RefreshOutcome {
  invalid: number;
  failed: boolean;
}

const NOTHING: RefreshOutcome = { invalid: 0, failed: false };

export interface RuleSource {
  current(): RuleSet;
  /** `nowMs`: processing time; reads the table only when a check is due. */
  refreshIfDue(nowMs: number): Promise<RefreshOutcome>;
}

export class StaticRuleSource implements RuleSource {
  private readonly set: RuleSet;

  constructor(options: { rules: readonly Rule[]; maxRulesPerSensor?: number }) {
    this.set = new RuleSet(options);
  }

  current(): RuleSet {
    return this.set;
  }

  async refreshIfDue(): Promise<RefreshOutcome> {
    return NOTHING;
  }
}

export interface RuleSourceLogger {
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface TableRuleSourceOptions {
  table: RulesTable;
  config: Pick<WindowpaneConfig, 'rules' | 'metrics' | 'alarms'>;
  logger?: RuleSourceLogger;
}

export class TableRuleSource implements RuleSource {
  private readonly table: RulesTable;
  private readonly config: TableRuleSourceOptions['config'];
  private readonly logger: RuleSourceLogger | undefined;
  private set: RuleSet | undefined;
  private revision = -1;
  private lastCheck = 0;
  private lastFull = 0;

  constructor(options: TableRuleSourceOptions) {
    this.table = options.table;
    this.config = options.config;
    this.logger = options.logger;
  }

  current(): RuleSet {
    if (!this.set) throw new Error('TableRuleSource.current() before the first refreshIfDue()');
    return this.set;
  }

  async refreshIfDue(nowMs: number): Promise<RefreshOutcome> {
    if (!this.set) return { invalid: await this.reload(nowMs), failed: false };
    const { rulesRefreshMs, rulesFullReloadMs } = this.config.alarms;
    if (nowMs - this.lastCheck < rulesRefreshMs) return NOTHING;
    this.lastCheck = nowMs;
    try {
      const revision = await this.table.revision();
      if (revision === this.revision && nowMs - this.lastFull < rulesFullReloadMs) return NOTHING;
      return { invalid: await this.reload(nowMs), failed: false };
    } catch (err) {
      this.logger?.warn('rules refresh failed; the last rules loaded stay in force', {
        table: this.table.tableName,
        error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
      });
      return { invalid: 0, failed: true };
    }
  }

  /** Returns the number of bad rows skipped. */
  private async reload(nowMs: number): Promise<number> {
    const loaded = await this.table.load(this.config.metrics);
    for (const row of loaded.invalid) {
      this.logger?.error('invalid rule row skipped', { table: this.table.tableName, ...row } as Record<
        string,
        unknown
      >);
    }
    this.set = new RuleSet({
      rules: layerRules(this.config.rules, loaded.rules),
      tags: loaded.tags,
      maxRulesPerSensor: this.config.alarms.maxRulesPerSensor,
    });
    this.revision = loaded.revision;
    this.lastCheck = nowMs;
    this.lastFull = nowMs;
    return loaded.invalid.length;
  }
}
