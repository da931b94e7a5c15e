/**
 * Messages published to the alert topic once per id: alerts and alarm transitions alike.
 * The ledger is read before publishing (ids it holds are skipped), and written right after
 * the publishes, in one BatchWriteItem per 25; functions/lib/effects.ts explains why this
 * order loses nothing and duplicates only across a crash between a publish and its ledger
 * write. The ledger's key `alertId` holds either kind of id.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Transition } from '../domain/alarms/transition.js';
import type { Alert } from '../domain/rules.js';
import { batchGetAll, batchWriteAll, type WriteCounter } from './dynamo-batch.js';
import { runPool } from './pool.js';

/** SNS publishes in flight at once during the alert phase. */
export const ALERT_PUBLISH_CONCURRENCY = 16;
const SECONDS_PER_DAY = 86_400;

export interface OnceMessage {
  id: string;
  body: unknown;
  /** String attributes (SNS raw delivery carries at most 10). */
  attributes: Record<string, string>;
  /** Extra fields of the ledger entry, for people reading the table. */
  ledger: Record<string, string | number>;
}

export function alertMessage(alert: Alert): OnceMessage {
  return {
    id: alert.alertId,
    body: alert,
    attributes: {
      kind: 'alert',
      sensorId: alert.sensorId,
      rule: alert.rule,
      ruleVersion: String(alert.ruleVersion),
      severity: alert.severity,
    },
    ledger: { sensorId: alert.sensorId, rule: alert.rule, cooldownBucket: alert.cooldownBucket },
  };
}

/** docs/SEMANTICS.md A-M1: the attributes filter policies can use. */
export function transitionMessage(t: Transition): OnceMessage {
  return {
    id: t.transitionId,
    body: t,
    attributes: {
      kind: 'alarm',
      state: t.state,
      transition: t.transition,
      sensorId: t.sensorId,
      rule: t.rule,
      ruleVersion: String(t.ruleVersion),
      severity: t.severity,
    },
    ledger: { sensorId: t.sensorId, rule: t.rule, seq: t.seq, transition: t.transition },
  };
}

export interface PublishOnceTargets {
  doc: DynamoDBDocumentClient;
  sns: SNSClient;
  topicArn: string;
  ledgerTable: string;
  ledgerTtlDays: number;
  counter: WriteCounter;
  now: () => number;
}

export interface PublishOnceResult {
  /** Ids published by this call, in the order they were accepted. */
  published: string[];
  /** Messages skipped because the ledger (or an earlier copy in the same call) had them. */
  alreadyPublished: number;
  /** The first publish failure, after recording what was published. */
  failure?: unknown;
}

export async function publishOnce(
  targets: PublishOnceTargets,
  messages: readonly OnceMessage[],
): Promise<PublishOnceResult> {
  const result: PublishOnceResult = { published: [], alreadyPublished: 0 };
  if (messages.length === 0) return result;
  const inLedger = await publishedIds(
    targets,
    messages.map((m) => m.id),
  );
  const toPublish = new Map<string, OnceMessage>();
  for (const m of messages) {
    if (inLedger.has(m.id) || toPublish.has(m.id)) result.alreadyPublished++;
    else toPublish.set(m.id, m);
  }
  const publishedNow: { message: OnceMessage; messageId: string }[] = [];
  await runPool([...toPublish.values()], ALERT_PUBLISH_CONCURRENCY, async (message) => {
    try {
      const out = await targets.sns.send(
        new PublishCommand({
          TopicArn: targets.topicArn,
          Message: JSON.stringify(message.body),
          MessageAttributes: Object.fromEntries(
            Object.entries(message.attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
          ),
        }),
      );
      publishedNow.push({ message, messageId: out.MessageId ?? '' });
    } catch (err) {
      result.failure ??= err;
    }
  });
  // Record what was published even when some publishes failed; the caller reports the failure.
  await recordPublished(targets, publishedNow);
  result.published = publishedNow.map((p) => p.message.id);
  return result;
}

async function recordPublished(
  targets: PublishOnceTargets,
  entries: readonly { message: OnceMessage; messageId: string }[],
): Promise<void> {
  const now = targets.now();
  const table = targets.ledgerTable;
  await batchWriteAll(targets.doc, {
    table,
    requests: entries.map(({ message, messageId }) => ({
      PutRequest: {
        Item: {
          alertId: message.id,
          ...message.ledger,
          messageId,
          publishedAt: now,
          expiresAt: Math.floor(now / 1000) + targets.ledgerTtlDays * SECONDS_PER_DAY,
        },
      },
    })),
    command: (requests) => new BatchWriteCommand({ RequestItems: { [table]: requests } }),
    counter: targets.counter,
  });
}

async function publishedIds(targets: PublishOnceTargets, ids: readonly string[]): Promise<Set<string>> {
  const table = targets.ledgerTable;
  const items = await batchGetAll(targets.doc, {
    table,
    keys: [...new Set(ids)].map((alertId) => ({ alertId })),
    command: (keys) =>
      new BatchGetCommand({
        RequestItems: { [table]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'alertId' } },
      }),
  });
  return new Set(items.map((item) => String(item.alertId)));
}
