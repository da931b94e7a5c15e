/**
 * Alarm actions as a user (the `npm run alarms` CLI, the dashboard's buttons) takes them:
 * checked against the alarms projection first, so a refusal names the state at once
 * (docs/SEMANTICS.md A-L2), then put on the readings stream as a control record (A-C1),
 * then, unless told not to, waited for until the projection shows what the sensor's fold
 * made of it (A-C3, A-C4): the transition, "already applied", or the fold's refusal.
 *
 * The projection is a read model: between the check and the fold the alarm may change,
 * and then the fold's answer is the one reported.
 */
import { randomUUID } from 'node:crypto';
import { type KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { encodeControl } from '../../functions/domain/alarms/control.js';
import { type AlarmState, parseAlarmId, STATE_CODE } from '../../functions/domain/alarms/entry.js';
import { type ActionType, stepAlarm } from '../../functions/domain/alarms/lifecycle.js';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { WindowpaneError } from '../../functions/domain/errors.js';
import type { ActionOutcome } from '../../functions/domain/state.js';
import { actionKey, currentKey, historyKey } from '../../functions/lib/alarm-projection.js';
import { sleep } from '../../functions/lib/retry.js';
import type { AlarmActions } from '../dashboard/model.js';

/** How long an action waits for the projection by default (`--wait`). */
export const DEFAULT_ACTION_WAIT_MS = 30_000;
const POLL_MS = 250;

/** The action is not allowed (the projection's state, or the fold's answer), or the id is bad. */
export class AlarmActionRefusedError extends WindowpaneError {}
/** The control record was put, but its outcome did not show within the wait. */
export class AlarmActionTimeoutError extends WindowpaneError {}

export interface AlarmActionsOptions {
  doc: DynamoDBDocumentClient;
  kinesis: KinesisClient;
  /** The readings stream (control records ride on it). */
  streamName: string;
  /** The alarms projection table. */
  alarmsTable: string;
  /** Wait for the outcome this long (0: put the record and return). Default DEFAULT_ACTION_WAIT_MS. */
  waitMs?: number;
  now?: () => number;
  newActionId?: () => string;
}

export interface ActionRequest {
  alarmId: string;
  action: ActionType;
  by: string;
  note?: string;
  forMs?: number;
  /** A retried request passes the same id: the fold applies it once (A-L2). */
  actionId?: string;
}

export interface ActionResult {
  actionId: string;
  /** `sent`: not waited for. */
  outcome: ActionOutcome['outcome'] | 'sent';
  /** The transition the action caused, when applied and waited for. */
  transition?: Transition;
  /** Where the control record went. */
  shardId: string;
  sequenceNumber: string;
}

/**
 * AlarmActions (the dashboard's contract) plus the other actions, each resolving once the
 * action is applied (or sent, without a wait) and rejecting with AlarmActionRefusedError
 * naming the state; `request` is the same with the outcome and transition, for the CLI.
 */
export interface AlarmActionClient extends AlarmActions {
  disable(id: string, who: string, note?: string): Promise<void>;
  enable(id: string, who: string, note?: string): Promise<void>;
  reset(id: string, who: string, note?: string): Promise<void>;
  request(req: ActionRequest): Promise<ActionResult>;
}

/** The state the projection shows for an alarm (NORMAL when it has never had a transition). */
export async function projectedState(
  doc: DynamoDBDocumentClient,
  table: string,
  alarmId: string,
): Promise<{ state: AlarmState; seq: number; found: boolean }> {
  const id = parseAlarmId(alarmId);
  if (!id) throw new AlarmActionRefusedError(`alarm id "${alarmId}" is not <rule>@<sensorId>`);
  const { Item } = await doc.send(
    new GetCommand({
      TableName: table,
      Key: { sensorId: id.sensorId, sk: currentKey(id.rule) },
      ConsistentRead: true,
    }),
  );
  if (!Item || Item.transition === 'RULE_REMOVED') return { state: 'NORMAL', seq: 0, found: false };
  return { state: Item.state as AlarmState, seq: Number(Item.seq), found: true };
}

/** Why A-L2 refuses `action` in `state`, or undefined when it allows it. */
export function refusalOf(alarmId: string, state: AlarmState, action: ActionRequest): string | undefined {
  const r = stepAlarm(
    { st: STATE_CODE[state], q: 0 },
    {
      type: 'action',
      action: {
        type: action.action,
        actionId: '-',
        at: 0,
        by: action.by,
        ...(action.forMs !== undefined ? { forMs: action.forMs } : {}),
      },
    },
    { latch: false, clearAfter: 1, startDisabled: false },
    alarmId,
  );
  return r.kind === 'rejected' ? r.reason : undefined;
}

export function createAlarmActions(options: AlarmActionsOptions): AlarmActionClient {
  const { doc, kinesis, streamName, alarmsTable } = options;
  const waitMs = options.waitMs ?? DEFAULT_ACTION_WAIT_MS;
  const now = options.now ?? Date.now;
  const newActionId = options.newActionId ?? randomUUID;

  async function request(req: ActionRequest): Promise<ActionResult> {
    const id = parseAlarmId(req.alarmId);
    if (!id) throw new AlarmActionRefusedError(`alarm id "${req.alarmId}" is not <rule>@<sensorId>`);
    const { state } = await projectedState(doc, alarmsTable, req.alarmId);
    const refusal = refusalOf(req.alarmId, state, req);
    if (refusal) throw new AlarmActionRefusedError(refusal);

    const actionId = req.actionId ?? newActionId();
    const requestedAt = now();
    const record = encodeControl({
      actionId,
      alarmId: req.alarmId,
      sensorId: id.sensorId,
      action: req.action,
      by: req.by,
      requestedAt,
      ...(req.note !== undefined && req.note !== '' ? { note: req.note } : {}),
      ...(req.forMs !== undefined ? { forMs: req.forMs } : {}),
    });
    const put = await kinesis.send(
      new PutRecordCommand({
        StreamName: streamName,
        Data: record.data,
        PartitionKey: record.partitionKey,
        ExplicitHashKey: record.explicitHashKey,
      }),
    );
    const placed = { shardId: put.ShardId ?? '', sequenceNumber: put.SequenceNumber ?? '' };
    if (waitMs === 0) return { actionId, outcome: 'sent', ...placed };

    const outcome = await waitForOutcome(id.sensorId, actionId, req.alarmId, placed);
    if (outcome.outcome === 'refused') throw new AlarmActionRefusedError(outcome.reason ?? 'refused');
    const result: ActionResult = { actionId, outcome: outcome.outcome, ...placed };
    if (outcome.transitionId) {
      const t = await doc.send(
        new GetCommand({
          TableName: alarmsTable,
          Key: {
            sensorId: id.sensorId,
            sk: historyKey({ at: requestedAt, transitionId: outcome.transitionId }),
          },
          ConsistentRead: true,
        }),
      );
      if (t.Item) {
        const { sk: _sk, expiresAt: _e, ...transition } = t.Item;
        result.transition = transition as Transition;
      }
    }
    return result;
  }

  /**
   * The outcome of this very record: a retried request (same actionId, a new record)
   * replaces the row, and its own outcome (already-applied) is the one to report.
   */
  async function waitForOutcome(
    sensorId: string,
    actionId: string,
    alarmId: string,
    placed: { shardId: string; sequenceNumber: string },
  ): Promise<ActionOutcome> {
    const recordId = `${placed.shardId}:${placed.sequenceNumber}`;
    const deadline = now() + waitMs;
    for (;;) {
      const { Item } = await doc.send(
        new GetCommand({
          TableName: alarmsTable,
          Key: { sensorId, sk: actionKey(actionId) },
          ConsistentRead: true,
        }),
      );
      if (Item && Item.recordId === recordId) return Item as ActionOutcome;
      if (now() >= deadline) {
        throw new AlarmActionTimeoutError(
          `action ${actionId} on ${alarmId} was put on the stream but its outcome did not show in ` +
            `${alarmsTable} within ${waitMs} ms: is the pipeline running? (it applies once it runs)`,
        );
      }
      await sleep(POLL_MS);
    }
  }

  const simple = (action: ActionType) => async (id: string, who: string, note?: string) => {
    await request({ alarmId: id, action, by: who, ...(note ? { note } : {}) });
  };
  return {
    request,
    async ack(id, note, who) {
      await request({ alarmId: id, action: 'ack', by: who, note });
    },
    async snooze(id, forMs, who) {
      await request({ alarmId: id, action: 'snooze', by: who, forMs });
    },
    disable: simple('disable'),
    enable: simple('enable'),
    reset: simple('reset'),
  };
}
