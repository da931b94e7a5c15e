/**
 * The alarms projection (docs/SEMANTICS.md A-C4): a read model of every alarm's current
 * state, its history and the outcome of each action, for `npm run alarms`. Written from
 * the alert phase after the transitions were published, idempotently: a transition is one
 * history item keyed by its transitionId, an action's outcome one item keyed by its
 * actionId, and the current row moves only forward in seq (one condition), so a retried
 * batch writes the same items and never moves an alarm back.
 *
 * Items (partition key `sensorId`, sort key `sk`):
 *   alarm#<rule>                        current state: the last transition's fields
 *   t#<at, 13 digits>#<transitionId>    history: the whole message (who and when included)
 *   act#<actionId>                      what became of an action (A-C3)
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Transition } from '../domain/alarms/transition.js';
import type { ActionOutcome } from '../domain/state.js';
import { batchWriteAll, type WriteCounter } from './dynamo-batch.js';
import { runPool } from './pool.js';

/** History and action rows expire after this (DynamoDB TTL); current rows never do. */
export const ALARM_HISTORY_TTL_DAYS = 90;
const SECONDS_PER_DAY = 86_400;
/** Current-row puts in flight at once. */
const CURRENT_PUT_CONCURRENCY = 8;

export const currentKey = (rule: string) => `alarm#${rule}`;
export const historyPrefix = 't#';
export const historyKey = (t: Pick<Transition, 'at' | 'transitionId'>) =>
  `${historyPrefix}${String(t.at).padStart(13, '0')}#${t.transitionId}`;
export const actionKey = (actionId: string) => `act#${actionId}`;

export interface AlarmProjectionOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  counter?: WriteCounter;
  now?: () => number;
}

export class AlarmProjection {
  private readonly doc: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly counter: WriteCounter;
  private readonly now: () => number;

  constructor(options: AlarmProjectionOptions) {
    this.doc = options.doc;
    this.tableName = options.tableName;
    this.counter = options.counter ?? { writes: 0 };
    this.now = options.now ?? Date.now;
  }

  /** Writes the history rows and outcomes, then moves each alarm's current row forward. */
  async write(transitions: readonly Transition[], outcomes: readonly ActionOutcome[]): Promise<void> {
    if (transitions.length === 0 && outcomes.length === 0) return;
    const expiresAt = Math.floor(this.now() / 1000) + ALARM_HISTORY_TTL_DAYS * SECONDS_PER_DAY;
    const table = this.tableName;
    const items = new Map<string, Record<string, unknown>>();
    for (const t of transitions)
      items.set(`${t.sensorId}\u0000${historyKey(t)}`, { ...t, sk: historyKey(t), expiresAt });
    for (const o of outcomes)
      items.set(`${o.sensorId}\u0000${actionKey(o.actionId)}`, {
        ...o,
        sk: actionKey(o.actionId),
        expiresAt,
      });
    await batchWriteAll(this.doc, {
      table,
      requests: [...items.values()].map((Item) => ({ PutRequest: { Item } })),
      command: (requests) => new BatchWriteCommand({ RequestItems: { [table]: requests } }),
      counter: this.counter,
    });
    // The last transition of each alarm in this delivery is the only one its row needs.
    const latest = new Map<string, Transition>();
    for (const t of transitions) {
      const seen = latest.get(t.alarmId);
      if (!seen || t.seq > seen.seq || t.transition === 'RULE_REMOVED') latest.set(t.alarmId, t);
    }
    await runPool([...latest.values()], CURRENT_PUT_CONCURRENCY, (t) => this.putCurrent(t));
  }

  /**
   * Replaces the current row only with a higher seq, or after RULE_REMOVED (the alarm of
   * a rule that comes back starts again at seq 1). A failed condition means a newer
   * transition is there already: nothing to do.
   */
  private async putCurrent(t: Transition): Promise<void> {
    this.counter.writes++;
    const { detail: _detail, ...fields } = t;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...fields, sk: currentKey(t.rule), updatedAt: this.now() },
          ConditionExpression: 'attribute_not_exists(sensorId) OR #seq < :seq OR #tr = :removed',
          ExpressionAttributeNames: { '#seq': 'seq', '#tr': 'transition' },
          ExpressionAttributeValues: { ':seq': t.seq, ':removed': 'RULE_REMOVED' },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }
}
