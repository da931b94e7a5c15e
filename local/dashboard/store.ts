/**
 * What the dashboard server holds: a bounded view of everything its source pushed, and
 * the journal of changes not yet broadcast. Everything has a limit, so a long run or a
 * large fleet cannot grow the server without bound:
 * - series: reserved up front against `memoryBudgetBytes` (24 bytes a point, 4 more per
 *   percentile); a series that does not fit is not created, percentile columns that do
 *   not fit are not added, and the page says how many of either were dropped;
 * - alerts, late/invalid records and health samples: the newest N of each;
 * - alarms: the newest `maxAlarms` by `since`;
 * - the journal: at most `maxJournalWindows` windows between two broadcasts, beyond which
 *   the clients are told to reload instead.
 */

import type { AggregateSummary } from '../../functions/domain/aggregate.js';
import { isPercentileName } from '../../functions/domain/percentile-config.js';
import type { Alert } from '../../functions/domain/rules.js';
import type { FinalWindow } from '../../functions/domain/state.js';
import { describeAlert } from '../cli/view.js';
import type { AlarmView, DashboardEvent, DashboardSink, HealthSample, OpenWindowView } from './model.js';
import {
  BYTES_PER_PERCENTILE,
  BYTES_PER_POINT,
  quantileOfName,
  type SeriesColumns,
  WindowSeries,
} from './series.js';

/** A window definition as the page labels it. */
export interface WindowDef {
  id: string;
  label: string;
  /** Spacing of consecutive windows (size, slide, or a session's gap), for capacities. */
  stepMs: number;
}

export interface SensorSummary {
  id: string;
  /** Newest final window of the first definition and metric seen. */
  last?: { t: number; mean: number };
  open?: OpenWindowView;
  alerts: number;
}

/** An alert as the page lists it: the console's one-line description beside the fields. */
export type AlertRow = Alert & { text: string };

export interface SetAsideRow {
  kind: 'late' | 'invalid';
  id: string;
  at: number;
  sensorId: string;
  reason: string;
  detail: string;
}

/** A window's percentile estimates by output name (`p50`, `p99_9`); null: no estimate. */
export type Percentiles = Record<string, number | null>;

/**
 * [sensorId, defId, metric, start, mean, min, max, count, percentiles?]: compact, a day of
 * them is sent; the percentiles only when the window carries some.
 */
export type WindowRow =
  | [string, string, string, number, number, number, number, number]
  | [string, string, string, number, number, number, number, number, Percentiles];

/** The p-fields of a window's metric summary, ascending by quantile, or undefined when none. */
export function percentilesOf(summary: AggregateSummary): Percentiles | undefined {
  const names = Object.keys(summary)
    .filter(isPercentileName)
    .sort((a, b) => quantileOfName(a) - quantileOfName(b));
  if (names.length === 0) return undefined;
  const out: Percentiles = {};
  for (const name of names) {
    const v = summary[name as `p${string}`];
    out[name] = typeof v === 'number' ? v : null;
  }
  return out;
}

export interface DashboardUpdate {
  seq: number;
  windows: WindowRow[];
  open: OpenWindowView[];
  /** Sensors whose open window became final, and that have no newer one yet: drop theirs. */
  closed: string[];
  alerts: AlertRow[];
  alarms: AlarmView[];
  setAside: SetAsideRow[];
  health: HealthSample[];
  /** The journal overflowed: reload the snapshot and the selected series. */
  resync?: true;
}

export interface StoreOptions {
  /** How far back series reach (their capacity), default a day. */
  horizonMs?: number;
  /** Upper bound of a series' capacity, default 2,880 points. */
  maxPointsPerSeries?: number;
  /** Upper bound of all series' reserved memory, default 128 MiB. */
  memoryBudgetBytes?: number;
  maxSensors?: number;
  recentAlerts?: number;
  recentSetAside?: number;
  healthSamples?: number;
  maxAlarms?: number;
  maxJournalWindows?: number;
}

const DEFAULTS: Required<StoreOptions> = {
  horizonMs: 24 * 3_600_000,
  maxPointsPerSeries: 2_880,
  memoryBudgetBytes: 128 * 1024 * 1024,
  maxSensors: 20_000,
  recentAlerts: 500,
  recentSetAside: 500,
  healthSamples: 600,
  maxAlarms: 2_000,
  maxJournalWindows: 50_000,
};

const MAX_BATCH_SIZES_PER_SAMPLE = 200;

function seconds(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}

export function windowDefOf(w: FinalWindow): WindowDef {
  if (w.windowType === 'sliding' && w.windowSlideMs !== undefined) {
    return {
      id: `sliding:${w.windowSizeMs}:${w.windowSlideMs}`,
      label: `sliding ${seconds(w.windowSizeMs)} every ${seconds(w.windowSlideMs)}`,
      stepMs: w.windowSlideMs,
    };
  }
  if (w.windowType === 'session' && w.windowGapMs !== undefined) {
    return {
      id: `session:${w.windowGapMs}`,
      label: `session, gap ${seconds(w.windowGapMs)}`,
      stepMs: w.windowGapMs,
    };
  }
  return {
    id: `tumbling:${w.windowSizeMs}`,
    label: `tumbling ${seconds(w.windowSizeMs)}`,
    stepMs: w.windowSizeMs,
  };
}

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

const seriesKey = (sensorId: string, defId: string, metric: string) =>
  `${sensorId}\u0000${defId}\u0000${metric}`;

/**
 * What a final window and an open one are compared by: the sensor and the window's
 * definition (`tumbling:60000`, `sliding:300000:60000`, `session:30000`, as windowDefOf
 * and specId spell it). A final window of a definition from a start at or after an open
 * window's is that window or a later one, so the open one is final too (the watermark only
 * grows). Bounded like the sensors: one entry per sensor and definition.
 */
const openKey = (sensorId: string, spec: string) => `${sensorId}\u0000${spec}`;

export class DashboardStore implements DashboardSink {
  readonly opts: Required<StoreOptions>;
  private readonly defs = new Map<string, WindowDef>();
  private readonly metrics = new Set<string>();
  private readonly sensors = new Map<string, SensorSummary>();
  private readonly series = new Map<string, WindowSeries>();
  /** The newest final window's start by sensor and window definition (openKey). */
  private readonly finalFrom = new Map<string, number>();
  private reservedBytes = 0;
  /** Series whose percentile columns did not fit: counted once, not asked again. */
  private readonly withoutPercentiles = new WeakSet<WindowSeries>();
  private readonly alerts: AlertRow[] = [];
  private readonly alarms = new Map<string, AlarmView>();
  private readonly setAside: SetAsideRow[] = [];
  private readonly health: HealthSample[] = [];
  private readonly counts = { windows: 0, seriesDropped: 0, sensorsDropped: 0, percentilesDropped: 0 };
  private seq = 0;
  private journal = emptyJournal();
  private journalWindows = 0;
  private overflow = false;

  constructor(opts: StoreOptions = {}) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  push(events: readonly DashboardEvent[]): void {
    for (const e of events) this.apply(e);
  }

  private apply(e: DashboardEvent): void {
    switch (e.kind) {
      case 'window':
        this.addWindow(e.window);
        return;
      case 'open': {
        const s = this.sensor(e.open.sensorId);
        if (!s) return;
        // A state read before its window's final result arrived (an eventually consistent
        // scan, a poll that raced the close) is older news than the window.
        const finalFrom = this.finalFrom.get(openKey(e.open.sensorId, e.open.spec));
        if (finalFrom !== undefined && finalFrom >= e.open.start) return;
        s.open = e.open;
        this.journal.open.set(e.open.sensorId, e.open);
        this.journal.closed.delete(e.open.sensorId);
        return;
      }
      case 'alert': {
        const row: AlertRow = { ...e.alert, text: describeAlert(e.alert) };
        pushBounded(this.alerts, row, this.opts.recentAlerts);
        const s = this.sensor(e.alert.sensorId);
        if (s) s.alerts++;
        this.journal.alerts.push(row);
        return;
      }
      case 'alarm':
        this.upsertAlarm(e.alarm);
        return;
      case 'late':
      case 'invalid': {
        const row: SetAsideRow =
          e.kind === 'late'
            ? {
                kind: 'late',
                id: e.late.id,
                at: e.at,
                sensorId: e.late.sensorId,
                reason: e.late.reason,
                detail: `reading at ${new Date(e.late.timestamp).toISOString()}: window ${new Date(e.late.windowStart).toISOString()} - ${new Date(e.late.windowEnd).toISOString()} was already final`,
              }
            : {
                kind: 'invalid',
                id: e.invalid.id,
                at: e.at,
                sensorId: e.invalid.partitionKey,
                reason: e.invalid.reason,
                detail: e.invalid.detail,
              };
        pushBounded(this.setAside, row, this.opts.recentSetAside);
        this.journal.setAside.push(row);
        return;
      }
      case 'health': {
        const sample = { ...e.health, batchSizes: e.health.batchSizes.slice(-MAX_BATCH_SIZES_PER_SAMPLE) };
        pushBounded(this.health, sample, this.opts.healthSamples);
        pushBounded(this.journal.health, sample, this.opts.healthSamples);
        return;
      }
    }
  }

  private sensor(id: string): SensorSummary | undefined {
    let s = this.sensors.get(id);
    if (!s) {
      if (this.sensors.size >= this.opts.maxSensors) {
        this.counts.sensorsDropped++;
        return undefined;
      }
      s = { id, alerts: 0 };
      this.sensors.set(id, s);
    }
    return s;
  }

  private addWindow(w: FinalWindow): void {
    const sensor = this.sensor(w.sensorId);
    if (!sensor) return;
    let def = this.defs.get(windowDefOf(w).id);
    if (!def) {
      def = windowDefOf(w);
      this.defs.set(def.id, def);
    }
    this.closeOpen(sensor, w, def.id);
    this.counts.windows++;
    const [firstDef] = this.defs.keys();
    for (const [metric, s] of Object.entries(w.metrics)) {
      this.metrics.add(metric);
      const key = seriesKey(w.sensorId, def.id, metric);
      const p = percentilesOf(s);
      let series = this.series.get(key);
      if (!series) {
        const capacity = Math.max(
          16,
          Math.min(this.opts.maxPointsPerSeries, Math.ceil(this.opts.horizonMs / def.stepMs)),
        );
        if (this.reservedBytes + capacity * BYTES_PER_POINT > this.opts.memoryBudgetBytes) {
          this.counts.seriesDropped++;
          continue;
        }
        this.reservedBytes += capacity * BYTES_PER_POINT;
        series = new WindowSeries(capacity);
        this.series.set(key, series);
      }
      if (p) this.reservePercentiles(series, Object.keys(p));
      series.upsert({
        t: w.windowStart,
        mean: s.mean,
        min: s.min,
        max: s.max,
        count: s.count,
        ...(p ? { p } : {}),
      });
      const [firstMetric] = this.metrics;
      if (def.id === firstDef && metric === firstMetric && (!sensor.last || w.windowStart >= sensor.last.t)) {
        sensor.last = { t: w.windowStart, mean: s.mean };
      }
      if (this.journalWindows >= this.opts.maxJournalWindows) {
        this.overflow = true;
        continue;
      }
      this.journalWindows++;
      const row: WindowRow = [w.sensorId, def.id, metric, w.windowStart, s.mean, s.min, s.max, s.count];
      this.journal.windows.push(p ? [...row, p] : row);
    }
  }

  /**
   * A final window ends the open window it was, and any older one of its kind: the sensor
   * shows none until a source reports a newer one. Sources report open windows, not their
   * absence (a deployed stack's scan skips a state item whose windows all closed), so the
   * final window is the only news that one closed.
   */
  private closeOpen(sensor: SensorSummary, w: FinalWindow, def: string): void {
    const key = openKey(w.sensorId, def);
    const held = this.finalFrom.get(key);
    if (held === undefined || w.windowStart > held) this.finalFrom.set(key, w.windowStart);
    const open = sensor.open;
    if (open?.spec !== def || w.windowStart < open.start) return;
    delete sensor.open;
    this.journal.open.delete(sensor.id);
    this.journal.closed.add(sensor.id);
  }

  /** Percentile columns for the names the series lacks, if the memory budget has room for them. */
  private reservePercentiles(series: WindowSeries, names: readonly string[]): void {
    const missing = names.filter((n) => !series.percentileNames.includes(n));
    if (missing.length === 0 || this.withoutPercentiles.has(series)) return;
    const bytes = series.capacity * BYTES_PER_PERCENTILE * missing.length;
    if (this.reservedBytes + bytes > this.opts.memoryBudgetBytes) {
      this.counts.percentilesDropped += missing.length;
      this.withoutPercentiles.add(series);
      return;
    }
    this.reservedBytes += bytes;
    series.addPercentiles(missing);
  }

  private upsertAlarm(alarm: AlarmView): void {
    const held = this.alarms.get(alarm.id);
    // At-least-once and unordered delivery: a repeat or an older transition changes nothing.
    if (held?.seq !== undefined && alarm.seq !== undefined && alarm.seq <= held.seq) return;
    this.alarms.delete(alarm.id);
    this.alarms.set(alarm.id, alarm);
    this.journal.alarms.set(alarm.id, alarm);
    if (this.alarms.size > this.opts.maxAlarms) {
      const oldest = [...this.alarms.values()].sort((a, b) => a.since - b.since)[0]!;
      this.alarms.delete(oldest.id);
    }
  }

  /** The changes since the previous call, or undefined when there are none. */
  takeUpdate(): DashboardUpdate | undefined {
    const j = this.journal;
    const empty =
      j.windows.length +
        j.open.size +
        j.closed.size +
        j.alerts.length +
        j.alarms.size +
        j.setAside.length +
        j.health.length ===
      0;
    if (empty && !this.overflow) return undefined;
    this.seq++;
    const update: DashboardUpdate = {
      seq: this.seq,
      windows: this.overflow ? [] : j.windows,
      open: [...j.open.values()],
      closed: [...j.closed],
      alerts: j.alerts,
      alarms: [...j.alarms.values()],
      setAside: j.setAside,
      health: j.health,
      ...(this.overflow ? { resync: true as const } : {}),
    };
    this.journal = emptyJournal();
    this.journalWindows = 0;
    this.overflow = false;
    return update;
  }

  /** Everything the page needs to draw, but the series (fetched per sensor). */
  snapshot() {
    return {
      seq: this.seq,
      defs: [...this.defs.values()],
      metrics: [...this.metrics],
      sensors: [...this.sensors.values()],
      alerts: this.alerts,
      alarms: [...this.alarms.values()],
      setAside: this.setAside,
      health: this.health,
      counts: { ...this.counts, series: this.series.size, reservedBytes: this.reservedBytes },
    };
  }

  /** Every series of one sensor, downsampled to `points`, by definition and metric. */
  sensorSeries(
    sensorId: string,
    range: { from?: number; to?: number; points: number },
  ): { defId: string; metric: string; columns: SeriesColumns }[] {
    const out: { defId: string; metric: string; columns: SeriesColumns }[] = [];
    for (const def of this.defs.values()) {
      for (const metric of this.metrics) {
        const series = this.series.get(seriesKey(sensorId, def.id, metric));
        if (!series) continue;
        const columns = series.downsample(
          range.from ?? Number.NEGATIVE_INFINITY,
          range.to ?? Number.POSITIVE_INFINITY,
          range.points,
        );
        out.push({ defId: def.id, metric, columns });
      }
    }
    return out;
  }

  alarm(id: string): AlarmView | undefined {
    return this.alarms.get(id);
  }
}

function emptyJournal() {
  return {
    windows: [] as WindowRow[],
    open: new Map<string, OpenWindowView>(),
    closed: new Set<string>(),
    alerts: [] as AlertRow[],
    alarms: new Map<string, AlarmView>(),
    setAside: [] as SetAsideRow[],
    health: [] as HealthSample[],
  };
}
