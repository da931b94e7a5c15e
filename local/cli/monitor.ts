/**
 * What the live console shows, read from where a real consumer would read it: final
 * windows from the results table, alerts from the alert topic (through its tap queue),
 * late and invalid records from their queues, open windows from the state table (with
 * carried state, from the mapping's tumbling-window state for the sensors it carries: the
 * table has them only as of their last checkpoint), and throughput and iterator lag from
 * the event source mapping. Every poll turns what is new into events (for the line view)
 * and updates one snapshot (for the full-screen view).
 *
 * SNS and SQS deliver at least once, so alerts, late and invalid records are counted once
 * per id; final windows once per (sensor, window key).
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { summarize } from '../../functions/domain/aggregate.js';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { type PercentileSettings, percentilePlan } from '../../functions/domain/percentile-config.js';
import type { Alert } from '../../functions/domain/rules.js';
import type { FinalWindow, LateReading, SensorState } from '../../functions/domain/state.js';
import type { InvalidRecordMessage } from '../../functions/lib/effects.js';
import { RESULTS_TABLE } from '../../functions/lib/resources.js';
import { CarriedStates } from '../../functions/pipeline/carried-state.js';
import { drainQueue, findTable, readAlertsTap } from '../cloud/index.js';
import type { BatchInfo, LocalPipeline } from '../pipeline/index.js';

export interface WindowStats {
  metric: string;
  windowType: string;
  /** The window's definition (`tumbling:60000`, `session:30000`: specId). */
  spec: string;
  start: number;
  end: number;
  count: number;
  mean: number;
  min: number;
  max: number;
  /** The configured percentiles of the open window so far (`p50`: estimate, null: none). */
  percentiles?: Record<string, number | null>;
}

export type LiveEvent =
  | { kind: 'window'; at: number; window: FinalWindow }
  | { kind: 'alert'; at: number; alert: Alert }
  | { kind: 'alarm'; at: number; transition: Transition }
  | { kind: 'late'; at: number; late: LateReading }
  | { kind: 'invalid'; at: number; invalid: InvalidRecordMessage };

export interface LiveSnapshot {
  /** Records the producer put on the stream. */
  sent: number;
  /** Records the handler processed (mapping statistics). */
  processed: number;
  invalid: number;
  late: number;
  alerts: number;
  windows: number;
  /** Records processed per second, over the last few seconds. */
  throughput: number;
  /** Largest MillisBehindLatest of the batches in the last few seconds. */
  iteratorLagMs: number;
  /** Newest open window per sensor (first metric), by sensor. */
  current: Map<string, WindowStats>;
  recentWindows: FinalWindow[];
  recentAlerts: Alert[];
  recentSetAside: LiveEvent[];
  /** Every alarm seen, by alarmId: its latest transition (highest seq) says its state. */
  alarms: Map<string, Transition>;
}

/**
 * A sensor's newest open window, for its first metric (by name), with the configured
 * percentiles (none without `settings`) estimated from its sketch so far; undefined when
 * it has none open.
 */
export function newestOpenWindow(
  state: SensorState,
  settings: PercentileSettings | undefined,
): WindowStats | undefined {
  const plan = settings && percentilePlan(settings);
  let newest: WindowStats | undefined;
  for (const open of Object.values(state.windows)) {
    const metric = Object.keys(open.aggs).sort()[0];
    if (metric === undefined) continue;
    if (newest && open.start <= newest.start) continue;
    const names = plan?.byMetric[metric];
    const sum = summarize(open.aggs[metric]!, names?.quantiles);
    newest = {
      metric,
      windowType: open.windowType,
      spec: open.spec,
      start: open.start,
      end: open.end,
      count: sum.count,
      mean: sum.mean,
      min: sum.min,
      max: sum.max,
    };
    if (names) {
      newest.percentiles = Object.fromEntries(
        names.names.map((n) => [n, sum[n as `p${string}`] ?? null] as const),
      );
    }
  }
  return newest;
}

const RECENT = 12;
/** Throughput and lag are averaged over this much processing time. */
const RATE_WINDOW_MS = 5_000;

export class LiveMonitor {
  readonly snapshot: LiveSnapshot = {
    sent: 0,
    processed: 0,
    invalid: 0,
    late: 0,
    alerts: 0,
    windows: 0,
    throughput: 0,
    iteratorLagMs: 0,
    current: new Map(),
    recentWindows: [],
    recentAlerts: [],
    recentSetAside: [],
    alarms: new Map(),
  };
  private readonly seen = { windows: new Set<string>(), alerts: new Set<string>(), other: new Set<string>() };
  private readonly samples: { at: number; processed: number }[] = [];
  private readonly batches: { at: number; lagMs: number }[] = [];
  /** Results finalised at or after this (processing time) are read on the next poll. */
  private resultsCursor = 0;

  constructor(
    private readonly pipeline: LocalPipeline,
    private readonly sensorIds: readonly string[],
  ) {}

  /** For the mapping's `onBatch`. */
  readonly onBatch = (info: BatchInfo): void => {
    this.batches.push({ at: Date.now(), lagMs: info.millisBehindLatest });
  };

  /** Reads everything new; returns it as events, oldest first. */
  async poll(now = Date.now()): Promise<LiveEvent[]> {
    const { clients, resources } = this.pipeline;
    const events: LiveEvent[] = [];
    const [windows, alerts, late, invalid, states] = await Promise.all([
      this.newResults(),
      readAlertsTap(clients, resources, { waitMs: 0 }),
      drainQueue(clients, resources.queues.late.url, { waitMs: 0 }),
      drainQueue(clients, resources.queues.invalid.url, { waitMs: 0 }),
      this.pipeline.handler.deps.store.loadMany(this.sensorIds),
    ]);
    for (const { shardId, state } of this.pipeline.mapping.windowStates()) {
      const carried = CarriedStates.from(state, shardId);
      for (const sensorId of carried.sensorIds()) {
        // Only the sensors the console shows (loadMany returns exactly those).
        if (!states.has(sensorId)) continue;
        const newer = carried.get(sensorId);
        if (newer) states.set(sensorId, newer);
      }
    }
    const s = this.snapshot;
    for (const w of windows) {
      s.windows++;
      events.push({ kind: 'window', at: now, window: w });
      s.recentWindows.unshift(w);
    }
    for (const envelope of alerts) {
      let alert: Alert;
      try {
        alert = JSON.parse(envelope.Message) as Alert;
      } catch {
        continue;
      }
      // The topic also carries alarm transitions (attribute kind=alarm), once per transitionId.
      if (envelope.MessageAttributes?.kind?.Value === 'alarm') {
        const transition = alert as unknown as Transition;
        if (this.seen.other.has(`alarm:${transition.transitionId}`)) continue;
        this.seen.other.add(`alarm:${transition.transitionId}`);
        events.push({ kind: 'alarm', at: now, transition });
        const known = s.alarms.get(transition.alarmId);
        // A rule that comes back restarts at seq 1 after its RULE_REMOVED.
        if (!known || transition.seq > known.seq || known.transition === 'RULE_REMOVED')
          s.alarms.set(transition.alarmId, transition);
        continue;
      }
      if (this.seen.alerts.has(alert.alertId)) continue;
      this.seen.alerts.add(alert.alertId);
      s.alerts++;
      events.push({ kind: 'alert', at: now, alert });
      s.recentAlerts.unshift(alert);
    }
    for (const m of late) {
      const body = m.body as LateReading;
      if (this.seen.other.has(`late:${body.id}`)) continue;
      this.seen.other.add(`late:${body.id}`);
      s.late++;
      const event: LiveEvent = { kind: 'late', at: now, late: body };
      events.push(event);
      s.recentSetAside.unshift(event);
    }
    for (const m of invalid) {
      const body = m.body as InvalidRecordMessage;
      if (this.seen.other.has(`invalid:${body.id}`)) continue;
      this.seen.other.add(`invalid:${body.id}`);
      s.invalid++;
      const event: LiveEvent = { kind: 'invalid', at: now, invalid: body };
      events.push(event);
      s.recentSetAside.unshift(event);
    }
    s.recentWindows.length = Math.min(s.recentWindows.length, RECENT);
    s.recentAlerts.length = Math.min(s.recentAlerts.length, RECENT);
    s.recentSetAside.length = Math.min(s.recentSetAside.length, RECENT);

    s.current = new Map();
    for (const sensorId of this.sensorIds) {
      const state = states.get(sensorId);
      const newest = state && newestOpenWindow(state, this.pipeline.config);
      if (newest) s.current.set(sensorId, newest);
    }

    const stats = this.pipeline.mapping.stats();
    s.processed = stats.records;
    this.samples.push({ at: now, processed: stats.records });
    while (this.samples.length > 2 && this.samples[0]!.at < now - RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    s.throughput = now > first.at ? ((stats.records - first.processed) * 1000) / (now - first.at) : 0;
    while (this.batches.length > 0 && this.batches[0]!.at < now - RATE_WINDOW_MS) this.batches.shift();
    if (this.batches.length > 0) s.iteratorLagMs = Math.max(...this.batches.map((b) => b.lagMs));
    else if (stats.inFlight === 0) s.iteratorLagMs = 0;
    return events;
  }

  /** Final windows written since the last poll (a filtered scan: the demo's table is small). */
  private async newResults(): Promise<FinalWindow[]> {
    const table = findTable(this.pipeline.resources, RESULTS_TABLE).name;
    // The handler stamps `finalisedAt` with this process's clock; a small overlap and the
    // seen-set cover writes landing while the previous scan ran.
    const since = this.resultsCursor - 5_000;
    this.resultsCursor = Date.now();
    const out: FinalWindow[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.pipeline.clients.doc.send(
        new ScanCommand({
          TableName: table,
          FilterExpression: 'finalisedAt >= :since',
          ExpressionAttributeValues: { ':since': since },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const w = item as unknown as FinalWindow;
        const key = `${w.sensorId}|${w.windowKey}`;
        if (this.seen.windows.has(key)) continue;
        this.seen.windows.add(key);
        out.push(w);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out.sort((a, b) => a.windowStart - b.windowStart || (a.sensorId < b.sensorId ? -1 : 1));
  }
}
