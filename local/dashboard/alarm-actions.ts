/**
 * The page's acknowledge and snooze buttons on the alarms module's own actions
 * (local/alarms/actions.ts, what `npm run alarms -- ack|snooze` calls): the projection is
 * checked, a control record goes on the readings stream (A-C1), and the call returns once
 * the sensor's fold applied it (A-C3); the new state then reaches the page from the source
 * like every state. Without an alarms projection table there is nothing to act through.
 */
import type { AwsClients } from '../../functions/lib/clients.js';
import { ALARMS_TABLE } from '../../functions/lib/resources.js';
import { createAlarmActions } from '../alarms/actions.js';
import type { LocalPipeline } from '../pipeline/index.js';
import type { AlarmActions } from './model.js';

export interface ActionTarget {
  clients: Pick<AwsClients, 'doc' | 'kinesis'>;
  /** The readings stream: control records ride on it. */
  streamName: string;
  alarmsTable: string;
  /** How long a button waits for the fold's answer (the alarms module's default: 30 s). */
  waitMs?: number;
}

export function dashboardAlarmActions(target: ActionTarget): AlarmActions {
  return createAlarmActions({
    doc: target.clients.doc,
    kinesis: target.clients.kinesis,
    streamName: target.streamName,
    alarmsTable: target.alarmsTable,
    ...(target.waitMs !== undefined ? { waitMs: target.waitMs } : {}),
  });
}

/** The actions of a local pipeline, or undefined when it runs without an alarms projection. */
export function localAlarmActions(pipeline: LocalPipeline): AlarmActions | undefined {
  const table = pipeline.resources.tables.find((t) => t.def.id === ALARMS_TABLE.id);
  if (!table) return undefined;
  return dashboardAlarmActions({
    clients: pipeline.clients,
    streamName: pipeline.resources.stream.name,
    alarmsTable: table.name,
  });
}
