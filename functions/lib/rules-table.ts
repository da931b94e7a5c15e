/**
 * The rules table (RULES_TABLE) as windowpane reads and writes it. A rule row holds the
 * validated rule as JSON text (`body`), so a number is never re-marshalled and the same
 * schema validates what comes back; a delete is a tombstone, so versions never name two
 * different rules. Every write bumps the `meta` row's revision, which is what a running
 * handler polls (docs/SEMANTICS.md A-R4).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { WindowpaneError } from '../domain/errors.js';
import { scopeKey, scopeOf } from '../domain/rules/common.js';
import { type Rule, RuleSchema } from '../domain/rules/registry.js';

/** The row changed since the version the writer read. */
export class RuleVersionConflictError extends WindowpaneError {}

export interface RuleRowKey {
  pk: string;
  sk: string;
}

export function ruleRowKey(rule: Pick<Rule, 'name' | 'scope'>): RuleRowKey {
  return { pk: `rule#${rule.name}`, sk: scopeKey(scopeOf(rule)) };
}

/** A row the loader skipped (A-R4: ignored as if absent, logged and counted). */
export interface InvalidRuleRow extends RuleRowKey {
  reason: string;
}

/** A rule row as stored: its version, and the rule unless it is a tombstone. */
export interface StoredRuleRow extends RuleRowKey {
  version: number;
  deleted: boolean;
  /** The row's body as JSON text (absent on a tombstone). */
  body?: string;
  updatedAt?: number;
  updatedBy?: string;
}

export interface LoadedRules {
  rules: Rule[];
  tags: Map<string, string[]>;
  invalid: InvalidRuleRow[];
  revision: number;
}

/** Validates one stored rule row; `metrics` are the configuration's. */
export function ruleFromItem(
  item: Record<string, unknown>,
  metrics: readonly string[],
): { ok: true; rule: Rule } | { ok: false; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(String(item.body));
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  const parsed = RuleSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      reason: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
    };
  }
  const rule = parsed.data;
  const key = ruleRowKey(rule);
  if (key.pk !== item.pk || key.sk !== item.sk)
    return {
      ok: false,
      reason: `body is rule ${key.pk} scope ${key.sk}, stored under ${item.pk} ${item.sk}`,
    };
  if (!metrics.includes(rule.metric))
    return { ok: false, reason: `metric "${rule.metric}" is not in metrics [${metrics.join(', ')}]` };
  if (rule.version !== Number(item.version))
    return { ok: false, reason: `body version ${rule.version} differs from the row's ${item.version}` };
  return { ok: true, rule };
}

export interface RulesTableOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
}

export class RulesTable {
  private readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;

  constructor(options: RulesTableOptions) {
    this.doc = options.doc;
    this.tableName = options.tableName;
  }

  async revision(): Promise<number> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: 'meta', sk: 'meta' }, ConsistentRead: true }),
    );
    return Number(out.Item?.revision ?? 0);
  }

  /** One rule row, tombstone or not, read consistently; undefined if it was never written. */
  async row(key: RuleRowKey): Promise<StoredRuleRow | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { ...key }, ConsistentRead: true }),
    );
    return out.Item ? storedRow(out.Item) : undefined;
  }

  /** Every rule row, tombstones included (the writers' view; the handler reads `load`). */
  async ruleRows(): Promise<StoredRuleRow[]> {
    const items = await this.scan();
    return items.filter((i) => String(i.pk).startsWith('rule#')).map(storedRow);
  }

  /** Every live row, consistently; scanned again (at most 3 times) if a write raced the scan. */
  async load(metrics: readonly string[]): Promise<LoadedRules> {
    for (let attempt = 1; ; attempt++) {
      const before = await this.revision();
      const items = await this.scan();
      const after = await this.revision();
      if (before === after || attempt >= 3) return { ...decodeRows(items, metrics), revision: after };
    }
  }

  /**
   * Writes `rule` at the next version of its row. `expectedVersion` (the version read, or
   * 0 for a new row) makes the write conditional; returns the rule as written.
   */
  async put(rule: Rule, options: { expectedVersion: number; by: string; now?: number }): Promise<Rule> {
    const version = options.expectedVersion + 1;
    const written = RuleSchema.parse({ ...rule, version });
    await this.write(ruleRowKey(rule), options.expectedVersion, {
      name: rule.name,
      scope: scopeKey(scopeOf(rule)),
      version,
      body: JSON.stringify(written),
      deleted: false,
      updatedAt: options.now ?? Date.now(),
      updatedBy: options.by,
    });
    await this.bumpRevision();
    return written;
  }

  /** A tombstone at the next version: the seed row of this name and scope applies again. */
  async delete(
    key: RuleRowKey,
    options: { expectedVersion: number; by: string; now?: number },
  ): Promise<void> {
    await this.write(key, options.expectedVersion, {
      name: key.pk.slice('rule#'.length),
      scope: key.sk,
      version: options.expectedVersion + 1,
      deleted: true,
      updatedAt: options.now ?? Date.now(),
      updatedBy: options.by,
    });
    await this.bumpRevision();
  }

  async putTags(sensorId: string, tags: readonly string[], now = Date.now()): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: 'tags', sk: sensorId, tags: [...tags], updatedAt: now },
      }),
    );
    await this.bumpRevision();
  }

  private async write(
    key: RuleRowKey,
    expectedVersion: number,
    attrs: Record<string, unknown>,
  ): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, ...attrs },
          ...(expectedVersion === 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: '#v = :v',
                ExpressionAttributeNames: { '#v': 'version' },
                ExpressionAttributeValues: { ':v': expectedVersion },
              }),
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      throw new RuleVersionConflictError(
        `rule ${key.pk.slice('rule#'.length)}@${key.sk} changed since version ${expectedVersion} was read`,
      );
    }
  }

  private async bumpRevision(): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: 'meta', sk: 'meta' },
        UpdateExpression: 'ADD #r :one SET #u = :now',
        ExpressionAttributeNames: { '#r': 'revision', '#u': 'updatedAt' },
        ExpressionAttributeValues: { ':one': 1, ':now': Date.now() },
      }),
    );
  }

  private async scan(): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

function storedRow(item: Record<string, unknown>): StoredRuleRow {
  return {
    pk: String(item.pk),
    sk: String(item.sk),
    version: Number(item.version ?? 0),
    deleted: item.deleted === true,
    ...(typeof item.body === 'string' ? { body: item.body } : {}),
    ...(typeof item.updatedAt === 'number' ? { updatedAt: item.updatedAt } : {}),
    ...(typeof item.updatedBy === 'string' ? { updatedBy: item.updatedBy } : {}),
  };
}

function decodeRows(items: readonly Record<string, unknown>[], metrics: readonly string[]) {
  const rules: Rule[] = [];
  const tags = new Map<string, string[]>();
  const invalid: InvalidRuleRow[] = [];
  for (const item of items) {
    const pk = String(item.pk);
    const sk = String(item.sk);
    if (pk === 'tags') {
      if (Array.isArray(item.tags)) tags.set(sk, item.tags.map(String));
      else invalid.push({ pk, sk, reason: 'tags is not a list' });
    } else if (pk.startsWith('rule#')) {
      if (item.deleted === true) continue;
      const decoded = ruleFromItem(item, metrics);
      if (decoded.ok) rules.push(decoded.rule);
      else invalid.push({ pk, sk, reason: decoded.reason });
    }
  }
  // Row order is the scan's; the rule set orders by name where order matters.
  return { rules, tags, invalid };
}
