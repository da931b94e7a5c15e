/**
 * A rules file, as `npm run rules -- put|import FILE` and `npm run replay -- --rules FILE`
 * read it: JSON holding one rule, an array of rules, or `{ "rules": [...] }` (what
 * `export` prints). Every rule is validated as the configuration validates its rules
 * (RuleSchema, a metric the configuration reads, a statistic its windows have, one row per
 * name and scope), so a rule the handler would skip as invalid (A-R4) is refused before it
 * is written; each problem names the file and the field's path in it.
 */
import { readFileSync } from 'node:fs';
import type { WindowpaneConfig } from '../../functions/domain/config.js';
import { WindowpaneError } from '../../functions/domain/errors.js';
import { scopeKey, scopeOf } from '../../functions/domain/rules/common.js';
import { type Rule, RuleSchema } from '../../functions/domain/rules/registry.js';
import { windowRuleIssues } from '../../functions/domain/rules/window-statistic.js';

/** A rules file that cannot be read or holds a rule that does not validate; nothing is written. */
export class RulesFileError extends WindowpaneError {}

/** `rules[2].scope.prefix` from a file-relative path. */
function fieldPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(root)';
}

/**
 * The rules of a file's parsed JSON. `file` names it in messages; `metrics` and the
 * percentile settings are the configuration's (`config`). Throws one `RulesFileError`
 * listing every problem.
 */
export function rulesFromJson(
  json: unknown,
  file: string,
  config: Pick<WindowpaneConfig, 'metrics' | 'percentiles' | 'stddev'>,
): Rule[] {
  let entries: unknown[];
  let base: (i: number) => string;
  if (Array.isArray(json)) {
    entries = json;
    base = (i) => `[${i}]`;
  } else if (typeof json === 'object' && json !== null && 'rules' in json) {
    const { rules, ...rest } = json as { rules: unknown };
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new RulesFileError(`${file}: unknown key "${extra[0]}" beside "rules"`);
    if (!Array.isArray(rules)) throw new RulesFileError(`${file}: rules: expected an array of rules`);
    entries = rules;
    base = (i) => `rules[${i}]`;
  } else {
    entries = [json];
    base = () => '';
  }
  const problems: string[] = [];
  const rules: Rule[] = [];
  const keys = new Map<string, number>();
  entries.forEach((entry, i) => {
    const parsed = RuleSchema.safeParse(entry);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(`${fieldPath(base(i), issue.path)}: ${issue.message}`);
      return;
    }
    const rule = parsed.data;
    if (!config.metrics.includes(rule.metric)) {
      problems.push(
        `${fieldPath(base(i), ['metric'])}: "${rule.metric}" is not in the configured metrics [${config.metrics.join(', ')}]`,
      );
    }
    const key = `${rule.name}@${scopeKey(scopeOf(rule))}`;
    const earlier = keys.get(key);
    if (earlier !== undefined) {
      problems.push(`${fieldPath(base(i), ['name'])}: rule ${key} is also ${base(earlier) || 'above'}`);
    }
    keys.set(key, i);
    rules.push(rule);
  });
  if (problems.length === 0) {
    // Statistics depend on the configured percentiles: checked as the configuration is.
    const asConfig = { ...config, rules } as WindowpaneConfig;
    for (const issue of windowRuleIssues(asConfig)) {
      const [, index, ...rest] = issue.path;
      problems.push(`${fieldPath(base(Number(index)), rest)}: ${issue.message}`);
    }
  }
  if (problems.length > 0) {
    throw new RulesFileError(
      `${file}: ${problems.length === 1 ? problems[0] : `\n  ${problems.join('\n  ')}`}`,
    );
  }
  return rules;
}

/** Reads and validates `file` (see `rulesFromJson`). */
export function readRulesFile(
  file: string,
  config: Pick<WindowpaneConfig, 'metrics' | 'percentiles' | 'stddev'>,
): Rule[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RulesFileError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`, {
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RulesFileError(`${file}: not JSON (${(err as Error).message})`, { cause: err });
  }
  return rulesFromJson(json, file, config);
}
