/**
 * What a local pipeline produced, read back from its sinks in an order that does not
 * depend on the run: final windows from the results table, alerts from the alert tap
 * (once per alertId), late and invalid records (once per id), on-failure messages.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import type { Alert } from '../../functions/domain/rules.js';
import type { FinalWindow, LateReading } from '../../functions/domain/state.js';
import type { AwsClients } from '../../functions/lib/clients.js';
import type { InvalidRecordMessage } from '../../functions/lib/effects.js';
import { RESULTS_TABLE } from '../../functions/lib/resources.js';
import {
  AlertsTapFormatError,
  type DrainedMessage,
  drainQueue,
  findTable,
  type ProvisionedResources,
  readAlertsTap,
  type SnsEnvelope,
} from '../cloud/index.js';
import { type WindowLine, windowLines } from '../window-lines.js';

export interface PipelineOutputs {
  /** One line per (final window, metric), sorted by sensorId, windowStart, metric. */
  windows: WindowLine[];
  /** The final windows as stored (the results table's items), in scan order. */
  finalWindows: FinalWindow[];
  /** Alert bodies as delivered through SNS, once per alertId, sorted by timestamp, sensorId, rule. */
  alerts: Alert[];
  /** Late readings, once per id (arrival order not implied). */
  late: LateReading[];
  /** Invalid records, once per id. */
  invalid: InvalidRecordMessage[];
  /** On-failure messages of batches the mapping gave up on (records not processed). */
  failures: DrainedMessage[];
  /** Alarm transitions as delivered through SNS, once per transitionId, by sensorId, rule, seq. */
  transitions: Transition[];
  /** Every transition message the tap received, repeats included. */
  transitionMessages: Transition[];
  /** Every alert message the tap received, repeats included (SNS is at-least-once). */
  alertMessages: Alert[];
  /**
   * The SNS MessageId of each of `alertMessages`, in the same order: two copies of one
   * alertId with one MessageId are one publish the queue delivered twice; with two
   * MessageIds they are two publishes.
   */
  alertMessageIds: string[];
  /** The SNS MessageId of each of `transitionMessages`, in the same order. */
  transitionMessageIds: string[];
}

export async function scanAll(
  clients: AwsClients,
  table: string,
  projection?: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.doc.send(
      new ScanCommand({
        TableName: table,
        ExclusiveStartKey: start,
        ...(projection ? { ProjectionExpression: projection } : {}),
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

export function compareWindowLines(a: WindowLine, b: WindowLine): number {
  return (
    cmp(a.sensorId, b.sensorId) ||
    a.windowStart - b.windowStart ||
    cmp(a.metric, b.metric) ||
    cmp(a.windowType, b.windowType) ||
    a.windowSizeMs - b.windowSizeMs
  );
}

export function compareTransitions(a: Transition, b: Transition): number {
  return cmp(a.sensorId, b.sensorId) || cmp(a.rule, b.rule) || a.seq - b.seq;
}

export function compareAlerts(a: Alert, b: Alert): number {
  return a.timestamp - b.timestamp || cmp(a.sensorId, b.sensorId) || cmp(a.rule, b.rule);
}

/** Code-unit order, the same on every machine (localeCompare depends on the locale). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function dedupe<T>(items: readonly T[], id: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(id(item))) seen.set(id(item), item);
  return [...seen.values()];
}

/**
 * Reads what the pipeline produced: the results table, and the alert-tap, late, invalid
 * and on-failure queues (whose messages are removed). `waitMs`: how long to wait for
 * messages still on their way once a queue is empty.
 */
export async function collectOutputs(
  clients: AwsClients,
  resources: ProvisionedResources,
  waitMs: number,
): Promise<PipelineOutputs> {
  const results = findTable(resources, RESULTS_TABLE);
  const [items, envelopes, late, invalid, failures] = await Promise.all([
    scanAll(clients, results.name),
    readAlertsTap(clients, resources, { waitMs }),
    drainQueue(clients, resources.queues.late.url, { waitMs }),
    drainQueue(clients, resources.queues.invalid.url, { waitMs }),
    drainQueue(clients, resources.queues.dlq.url, { waitMs }),
  ]);
  // The topic carries alerts and alarm transitions, told apart by the `kind` attribute.
  const alertEnvelopes = envelopes.filter((e) => e.MessageAttributes?.kind?.Value !== 'alarm');
  const parse = (e: SnsEnvelope) => {
    try {
      return JSON.parse(e.Message) as unknown;
    } catch {
      throw new AlertsTapFormatError(`alert message ${e.MessageId} is not JSON: ${e.Message}`);
    }
  };
  const alerts = alertEnvelopes.map((e) => parse(e) as Alert);
  const transitionEnvelopes = envelopes.filter((e) => e.MessageAttributes?.kind?.Value === 'alarm');
  const transitions = transitionEnvelopes.map((e) => parse(e) as Transition);
  const finalWindows = items as unknown as FinalWindow[];
  return {
    windows: finalWindows.flatMap((item) => windowLines(item)).sort(compareWindowLines),
    finalWindows,
    // SNS and SQS are at-least-once: a repeat carries the same id.
    alerts: dedupe(alerts, (a) => a.alertId).sort(compareAlerts),
    late: dedupe(
      late.map((m) => m.body as LateReading),
      (l) => l.id,
    ),
    invalid: dedupe(
      invalid.map((m) => m.body as InvalidRecordMessage),
      (m) => m.id,
    ),
    failures,
    transitions: dedupe(transitions, (t) => t.transitionId).sort(compareTransitions),
    transitionMessages: transitions,
    alertMessages: alerts,
    alertMessageIds: alertEnvelopes.map((e) => e.MessageId),
    transitionMessageIds: transitionEnvelopes.map((e) => e.MessageId),
  };
}
