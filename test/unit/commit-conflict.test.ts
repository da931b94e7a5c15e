/**
 * The commit loop on a conditional-check failure (STYLE.md: one conditional write is both
 * the concurrency and the duplicate check). The loser folds again from the state that
 * won: taken from the failure itself when DynamoDB returns it (ALL_OLD), read again when
 * it does not. A conditional failure at an exact moment is what an emulator cannot
 * stage, so the document client is mocked here; test/integration/state-conflict.test.ts
 * checks the ALL_OLD item against moto.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { newSensorState, type SensorState } from '../../functions/domain/state.js';
import { EffectDelivery, emptyCounts } from '../../functions/lib/effects.js';
import { WindowStateStore } from '../../functions/lib/state-store.js';
import { commitAndDeliver } from '../../functions/pipeline/commit.js';
import { DeliveryTracker } from '../../functions/pipeline/delivery-tracker.js';
import type { BatchDeps } from '../../functions/pipeline/deps.js';
import { newReport } from '../../functions/pipeline/report.js';
import { record } from './factories.js';

const region = 'us-east-1';
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region }));
const mock = mockClient(doc);
afterEach(() => mock.reset());

const T0 = Date.UTC(2026, 0, 1);
// No rules, one long window: the folds below produce no effects to deliver.
const config = parseConfig({ rules: [], windows: [{ type: 'tumbling', sizeMs: 3_600_000 }] });
const [r1, r2, r3] = [1, 2, 3].map((i) => record('s1', T0 + i * 1_000, 20 + i, i)) as [
  ReturnType<typeof record>,
  ReturnType<typeof record>,
  ReturnType<typeof record>,
];

function deps(): BatchDeps {
  const counter = { writes: 0 };
  return {
    config,
    counter,
    delivered: new DeliveryTracker(),
    store: new WindowStateStore({ doc, tableName: 'state', ttlDays: 1, counter }),
    effects: new EffectDelivery({
      doc,
      sns: new SNSClient({ region }),
      sqs: new SQSClient({ region }),
      targets: {
        resultsTable: 'results',
        alertLedgerTable: 'ledger',
        alertTopicArn: 'arn:aws:sns:us-east-1:000000000000:alerts',
        lateQueueUrl: 'late',
        invalidQueueUrl: 'invalid',
        ledgerTtlDays: 1,
      },
      counter,
    }),
  };
}

/** The state both writers read (version 1), and the item the winner stored (version 2, r1 applied). */
async function race(): Promise<{ read: SensorState; winnerItem: Record<string, unknown> }> {
  const read: SensorState = { ...newSensorState('s1'), version: 1 };
  mock.on(PutCommand).resolves({});
  const store = new WindowStateStore({ doc, tableName: 'state', ttlDays: 1 });
  await store.commit(read, foldSensorRecords(read, [r1], config).state);
  const winnerItem = mock.commandCalls(PutCommand)[0]!.args[0].input.Item!;
  mock.reset();
  return { read, winnerItem };
}

const conflict = (item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(item ? { Item: marshall(item) } : {}),
  });

describe('commit loop: the writer that lost folds again from the state that won', () => {
  it('uses the item returned with the failure (ALL_OLD): no second read', async () => {
    const { read, winnerItem } = await race();
    mock.on(PutCommand).rejectsOnce(conflict(winnerItem)).resolves({});
    const report = newReport(3, 1);
    const d = deps();
    const committed = await commitAndDeliver(d, read, report, emptyCounts(), (s) =>
      foldSensorRecords(s, [r1, r2, r3], config),
    );
    const puts = mock.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(puts[0]!.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
    expect(puts[1]!.ExpressionAttributeValues?.[':version']).toBe(2);
    expect(mock.commandCalls(GetCommand)).toHaveLength(0);
    expect(committed.version).toBe(3);
    expect(report).toMatchObject({ conflicts: 1, readings: 2, duplicates: 1, itemsWritten: 1 });
  });

  it('reads the item again when the failure does not carry it (as with dynalite)', async () => {
    const { read, winnerItem } = await race();
    mock.on(PutCommand).rejectsOnce(conflict()).resolves({});
    mock.on(GetCommand).resolves({ Item: winnerItem });
    const report = newReport(3, 1);
    const committed = await commitAndDeliver(deps(), read, report, emptyCounts(), (s) =>
      foldSensorRecords(s, [r1, r2, r3], config),
    );
    expect(mock.commandCalls(GetCommand)).toHaveLength(1);
    expect(mock.commandCalls(PutCommand)[1]!.args[0].input.ExpressionAttributeValues?.[':version']).toBe(2);
    expect(committed.version).toBe(3);
    expect(report).toMatchObject({ conflicts: 1, readings: 2, duplicates: 1 });
  });
});
