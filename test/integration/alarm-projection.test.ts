/**
 * A-C4 the alarms projection on dynalite: the same transition written twice is one
 * history item, the current row moves only forward in seq (a stale delivery cannot move
 * it back), RULE_REMOVED lets a returning rule start again at seq 1, and outcomes are
 * kept by actionId.
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildTransition, type TransitionDraft } from '../../functions/domain/alarms/transition.js';
import { AlarmProjection } from '../../functions/lib/alarm-projection.js';
import {
  type AwsClients,
  createClients,
  destroyClients,
  localClientOptions,
} from '../../functions/lib/clients.js';
import { alarmHistory, listAlarms } from '../../local/alarms/projection.js';
import { createActiveTable } from '../../local/cloud/provision.js';

const TABLE = `alarm-projection-${process.pid}-${Date.now()}`;
let clients: AwsClients;
let projection: AlarmProjection;

const T0 = 1_700_000_000_000;
function transition(
  seq: number,
  name: TransitionDraft['transition'],
  state: TransitionDraft['state'],
  by?: string,
) {
  return buildTransition(
    {
      sensorId: 's1',
      rule: 'too-hot',
      ruleVersion: 0,
      ruleType: 'threshold',
      severity: 'critical',
      metric: 'temperature',
      seq,
    },
    {
      transition: name,
      from: 'NORMAL',
      state,
      at: T0 + seq * 1_000,
      clock: by ? 'processing' : 'event',
      since: T0,
      value: 40,
      peak: 40,
      peakAt: T0,
      ...(by ? { by, actionId: `a-${seq}` } : {}),
    },
  );
}

beforeAll(async () => {
  clients = createClients(localClientOptions({ dynamodb: inject('endpoints').dynamodb }));
  await createActiveTable(clients.dynamodb, {
    TableName: TABLE,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'sensorId', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'sensorId', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
  });
  projection = new AlarmProjection({ doc: clients.doc, tableName: TABLE });
});
afterAll(async () => {
  await clients?.dynamodb.send(new DeleteTableCommand({ TableName: TABLE })).catch(() => undefined);
  if (clients) destroyClients(clients);
});

describe('A-C4 alarms projection', () => {
  it('idempotent history, current row forward only, outcomes by actionId', async () => {
    const alarm = transition(1, 'ALARM', 'ACTIVE');
    const acked = transition(2, 'ACKNOWLEDGED', 'ACKNOWLEDGED', 'alice');
    await projection.write(
      [alarm, acked],
      [
        {
          actionId: 'a-2',
          alarmId: 'too-hot@s1',
          sensorId: 's1',
          action: 'ack',
          by: 'alice',
          outcome: 'applied',
          transitionId: acked.transitionId,
          recordId: 'shardId-000000000000:7',
        },
      ],
    );
    // A retried delivery of the first outbox: same items, and the row stays at seq 2.
    await projection.write([alarm], []);
    expect((await alarmHistory(clients.doc, TABLE, 's1')).map((t) => [t.seq, t.transition, t.by])).toEqual([
      [1, 'ALARM', undefined],
      [2, 'ACKNOWLEDGED', 'alice'],
    ]);
    expect(await listAlarms(clients.doc, TABLE)).toEqual([
      expect.objectContaining({ alarmId: 'too-hot@s1', state: 'ACKNOWLEDGED', seq: 2, by: 'alice' }),
    ]);
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const outcome = await clients.doc.send(
      new GetCommand({ TableName: TABLE, Key: { sensorId: 's1', sk: 'act#a-2' } }),
    );
    expect(outcome.Item).toMatchObject({ outcome: 'applied', transitionId: acked.transitionId });

    // The rule is removed, comes back, and its alarm restarts at seq 1.
    await projection.write([transition(3, 'RULE_REMOVED', 'NORMAL')], []);
    const back = { ...transition(1, 'ALARM', 'ACTIVE'), at: T0 + 10_000, transitionId: 'again-1' };
    await projection.write([back], []);
    expect(await listAlarms(clients.doc, TABLE)).toEqual([
      expect.objectContaining({ state: 'ACTIVE', seq: 1, transitionId: 'again-1' }),
    ]);
  });
});
