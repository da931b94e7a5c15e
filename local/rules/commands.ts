/**
 * What `npm run rules` does to a rules table (docs/SEMANTICS.md A-R3, A-R4, A-R5), as
 * functions over `RulesTable`, so that tests run them without a process. Every write is
 * a conditional write at the next version of its row (RulesTable.put/delete): a writer
 * that loses a race reads the row again and writes at the version after the winner's, so
 * two writers never reuse a version and neither change is lost silently (both are in the
 * row's history of versions, the last one in force).
 */

import { WindowpaneError } from '../../functions/domain/errors.js';
import { type Rule, RuleSchema } from '../../functions/domain/rules/registry.js';
import {
  type RuleRowKey,
  type RulesTable,
  RuleVersionConflictError,
  ruleFromItem,
  ruleRowKey,
  type StoredRuleRow,
} from '../../functions/lib/rules-table.js';

/** A named rule that is not in the table (get, delete). */
export class RuleNotFoundError extends WindowpaneError {}

/** Tries of one write against concurrent writers before giving up (each re-reads the row). */
export const MAX_WRITE_ATTEMPTS = 8;

export interface RulesContext {
  table: RulesTable;
  /** The configured rules (the seed, A-R3) and metrics the handler validates rows against. */
  seed: readonly Rule[];
  metrics: readonly string[];
  /** Who writes, stored as `updatedBy`. */
  by: string;
  now?: () => number;
}

/** One rule as `list` shows it: where it comes from and the version alerts carry. */
export interface ListedRule {
  name: string;
  scope: string;
  version: number;
  source: 'table' | 'configuration';
  /** Set for a table row that does not validate: the handler skips it (A-R4). */
  invalid?: string;
  rule?: Rule;
}

const keyText = (key: RuleRowKey) => `${key.pk.slice('rule#'.length)}@${key.sk}`;

/**
 * The rules in force as a handler loads them: the table's live rows over the configured
 * seed (A-R3), bad rows listed with their reason, ordered by name then scope.
 */
export async function listRules(ctx: RulesContext): Promise<ListedRule[]> {
  const rows = await ctx.table.ruleRows();
  const listed: ListedRule[] = [];
  const inTable = new Set<string>();
  for (const row of rows) {
    if (row.deleted) continue;
    inTable.add(`${row.pk}|${row.sk}`);
    const decoded = ruleFromItem({ ...row }, ctx.metrics);
    listed.push({
      name: row.pk.slice('rule#'.length),
      scope: row.sk,
      version: row.version,
      source: 'table',
      ...(decoded.ok ? { rule: decoded.rule } : { invalid: decoded.reason }),
    });
  }
  for (const rule of ctx.seed) {
    const key = ruleRowKey(rule);
    if (inTable.has(`${key.pk}|${key.sk}`)) continue;
    listed.push({ name: rule.name, scope: key.sk, version: 0, source: 'configuration', rule });
  }
  return listed.sort((a, b) => (a.name === b.name ? cmp(a.scope, b.scope) : cmp(a.name, b.name)));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The rule in force for a name and scope key (`all`, `prefix#p`, ...). */
export async function getRule(ctx: RulesContext, name: string, scope: string): Promise<ListedRule> {
  const found = (await listRules(ctx)).find((r) => r.name === name && r.scope === scope);
  if (!found) throw new RuleNotFoundError(`no rule ${name}@${scope} in the table or the configuration`);
  return found;
}

/**
 * Writes `rule` at the next version of its row (a new row starts at 1, a row after a
 * tombstone continues its versions). Returns the rule as written, `version` included.
 */
export async function putRule(ctx: RulesContext, rule: Rule): Promise<Rule> {
  const key = ruleRowKey(rule);
  return withRetry(async () => {
    const row = await ctx.table.row(key);
    return ctx.table.put(rule, { expectedVersion: row?.version ?? 0, by: ctx.by, ...nowOf(ctx) });
  });
}

export interface DeleteOutcome {
  /** The tombstone's version. */
  version: number;
  /** The configured rule of this name and scope, which applies again (A-R3). */
  seedApplies: boolean;
}

/** Writes a tombstone at the next version; the row must exist and be live. */
export async function deleteRule(ctx: RulesContext, name: string, scope: string): Promise<DeleteOutcome> {
  const key: RuleRowKey = { pk: `rule#${name}`, sk: scope };
  const version = await withRetry(async () => {
    const row = await ctx.table.row(key);
    if (!row || row.deleted) {
      throw new RuleNotFoundError(
        `no rule ${keyText(key)} in table ${ctx.table.tableName}${row ? ` (deleted at version ${row.version})` : ''}`,
      );
    }
    await ctx.table.delete(key, { expectedVersion: row.version, by: ctx.by, ...nowOf(ctx) });
    return row.version + 1;
  });
  const seedApplies = ctx.seed.some((r) => {
    const k = ruleRowKey(r);
    return k.pk === key.pk && k.sk === key.sk;
  });
  return { version, seedApplies };
}

export interface ImportOutcome {
  written: Rule[];
  /** Rules equal to the live row (apart from its version): not written again. */
  unchanged: Rule[];
}

/**
 * Puts every rule of a validated file, in its order; a rule equal to its live row is left
 * alone, so importing the same file twice writes nothing the second time.
 */
export async function importRules(ctx: RulesContext, rules: readonly Rule[]): Promise<ImportOutcome> {
  const live = new Map<string, string>();
  for (const row of await ctx.table.ruleRows()) {
    if (!row.deleted && row.body !== undefined) live.set(`${row.pk}|${row.sk}`, canonical(row));
  }
  const out: ImportOutcome = { written: [], unchanged: [] };
  for (const rule of rules) {
    const key = ruleRowKey(rule);
    const current = live.get(`${key.pk}|${key.sk}`);
    if (current !== undefined && current === JSON.stringify(withoutVersion(rule))) {
      out.unchanged.push(rule);
      continue;
    }
    out.written.push(await putRule(ctx, rule));
  }
  return out;
}

/**
 * The table's live, valid rows as a rules file (`{ "rules": [...] }`, what import reads),
 * without versions: a version belongs to a row of one table, and an import writes its own.
 * Ordered by name and scope, so the same table always exports the same text.
 */
export async function exportRules(ctx: RulesContext): Promise<{ rules: Rule[]; skipped: ListedRule[] }> {
  const table = (await listRules(ctx)).filter((r) => r.source === 'table');
  return {
    rules: table.flatMap((r) => (r.rule ? [withoutVersion(r.rule)] : [])),
    skipped: table.filter((r) => r.invalid !== undefined),
  };
}

/** Export's text: two-space JSON and a final newline. */
export function exportText(rules: readonly Rule[]): string {
  return `${JSON.stringify({ rules }, null, 2)}\n`;
}

function withoutVersion(rule: Rule): Rule {
  const { version: _, ...rest } = rule;
  return rest as Rule;
}

function canonical(row: StoredRuleRow): string {
  const parsed = RuleSchema.safeParse(JSON.parse(row.body ?? 'null'));
  return parsed.success ? JSON.stringify(withoutVersion(parsed.data)) : '';
}

function nowOf(ctx: RulesContext): { now?: number } {
  return ctx.now ? { now: ctx.now() } : {};
}

async function withRetry<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof RuleVersionConflictError) || attempt >= MAX_WRITE_ATTEMPTS) throw err;
      // Someone wrote the row between our read and our write: read it again.
    }
  }
}
