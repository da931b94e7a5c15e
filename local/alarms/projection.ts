/**
 * Reading the alarms projection (docs/SEMANTICS.md A-C4) for `npm run alarms -- list |
 * history` and the terminal view: every alarm's current row, and one sensor's history
 * oldest first. Written by functions/lib/alarm-projection.ts.
 */
import { type DynamoDBDocumentClient, paginateQuery, paginateScan } from '@aws-sdk/lib-dynamodb';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { historyPrefix } from '../../functions/lib/alarm-projection.js';

/** An alarm as its current row shows it: its last transition, and when that was written. */
export type AlarmRow = Omit<Transition, 'detail'> & { updatedAt: number };

const strip = <T extends Record<string, unknown>>(item: T) => {
  const { sk: _sk, expiresAt: _e, ...rest } = item;
  return rest;
};

/** Every alarm in the projection (a scan: the projection holds one row per alarm), by id. */
export async function listAlarms(doc: DynamoDBDocumentClient, table: string): Promise<AlarmRow[]> {
  const rows: AlarmRow[] = [];
  for await (const page of paginateScan(
    { client: doc },
    {
      TableName: table,
      FilterExpression: 'begins_with(sk, :p)',
      ExpressionAttributeValues: { ':p': 'alarm#' },
      ConsistentRead: true,
    },
  )) {
    for (const item of page.Items ?? []) rows.push(strip(item) as unknown as AlarmRow);
  }
  return rows.sort((a, b) => (a.alarmId < b.alarmId ? -1 : a.alarmId > b.alarmId ? 1 : 0));
}

/** One sensor's transitions, oldest first (the sort key starts with their time). */
export async function alarmHistory(
  doc: DynamoDBDocumentClient,
  table: string,
  sensorId: string,
): Promise<Transition[]> {
  const out: Transition[] = [];
  for await (const page of paginateQuery(
    { client: doc },
    {
      TableName: table,
      KeyConditionExpression: 'sensorId = :s AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':s': sensorId, ':p': historyPrefix },
      ConsistentRead: true,
    },
  )) {
    for (const item of page.Items ?? []) out.push(strip(item) as unknown as Transition);
  }
  return out;
}
