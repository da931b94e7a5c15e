/**
 * The local pipeline as a dashboard source: what the terminal console reads
 * (local/cli/monitor.ts: final windows from the results table, alerts and alarm
 * transitions through the topic's tap queue (each transition an `AlarmView` of the
 * alarm's new state), late and invalid records from their queues, open windows from the state
 * table, throughput and iterator age from the mapping), plus batch sizes from the
 * mapping's `onBatch` and the injected faults of chaos mode.
 *
 * The monitor drains queues, so it must have one reader: either this source polls it
 * (`poll: { everyMs }`, the default), or the loop that already polls it for the terminal
 * view hands each poll's events to `observe` (`poll: 'external'`).
 */
import type { LiveEvent, LiveMonitor } from '../../cli/monitor.js';
import type { BatchInfo, LocalPipeline } from '../../pipeline/index.js';
import { alarmViewOf } from '../alarm-view.js';
import type {
  DashboardEvent,
  DashboardSink,
  DashboardSource,
  HealthSample,
  OpenWindowView,
} from '../model.js';

export interface LocalSourceOptions {
  pipeline: LocalPipeline;
  monitor: LiveMonitor;
  poll?: { everyMs: number } | 'external';
  label?: string;
  log?: (line: string) => void;
}

/** Batch sizes kept between two health samples (a sample carries at most this many). */
const MAX_PENDING_BATCHES = 1_000;

export class LocalPipelineSource implements DashboardSource {
  readonly label: string;
  readonly provides = ['windows', 'open', 'alerts', 'alarms', 'setAside', 'health'] as const;
  private sink: DashboardSink | undefined;
  private batchSizes: number[] = [];
  private readonly lastOpen = new Map<string, string>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: LocalSourceOptions) {
    const { pipeline } = opts;
    this.label =
      opts.label ??
      `local pipeline (${pipeline.mode === 'embedded' ? 'embedded emulators' : 'endpoint'}), stream ${pipeline.resources.stream.name}`;
  }

  /** For the mapping's `onBatch` (beside the monitor's own). */
  readonly onBatch = (info: BatchInfo): void => {
    if (this.batchSizes.length < MAX_PENDING_BATCHES) this.batchSizes.push(info.records);
  };

  async start(sink: DashboardSink): Promise<void> {
    this.sink = sink;
    const poll = this.opts.poll ?? { everyMs: 1_000 };
    if (poll !== 'external') this.loop = this.follow(poll.everyMs);
  }

  /** One poll's events (from the monitor's owner when `poll` is 'external'). */
  observe(events: readonly LiveEvent[], now = Date.now()): void {
    const sink = this.sink;
    if (!sink) return;
    const out: DashboardEvent[] = [];
    for (const e of events) {
      switch (e.kind) {
        case 'window':
          out.push({ kind: 'window', window: e.window });
          break;
        case 'alert':
          out.push({ kind: 'alert', alert: e.alert });
          break;
        case 'alarm':
          out.push({ kind: 'alarm', alarm: alarmViewOf(e.transition) });
          break;
        case 'late':
          out.push({ kind: 'late', at: e.at, late: e.late });
          break;
        case 'invalid':
          out.push({ kind: 'invalid', at: e.at, invalid: e.invalid });
          break;
      }
    }
    const snapshot = this.opts.monitor.snapshot;
    for (const [sensorId, w] of snapshot.current) {
      const open: OpenWindowView = { sensorId, ...w };
      // Only what changed: with a thousand sensors, most polls change most of them anyway,
      // but a quiet fleet costs nothing.
      const key = `${w.start}|${w.count}|${w.mean}|${w.min}|${w.max}|${JSON.stringify(w.percentiles ?? null)}`;
      if (this.lastOpen.get(sensorId) === key) continue;
      this.lastOpen.set(sensorId, key);
      out.push({ kind: 'open', open });
    }
    out.push({ kind: 'health', health: this.health(now) });
    sink.push(out);
  }

  private health(now: number): HealthSample {
    const s = this.opts.monitor.snapshot;
    const batchSizes = this.batchSizes;
    this.batchSizes = [];
    const sample: HealthSample = {
      at: now,
      throughput: s.throughput,
      iteratorAgeMs: s.iteratorLagMs,
      batchSizes,
      counters: {
        sent: s.sent,
        processed: s.processed,
        invalid: s.invalid,
        late: s.late,
        alerts: s.alerts,
        'final windows': s.windows,
      },
    };
    const chaos = this.opts.pipeline.chaos;
    if (chaos) {
      sample.chaos = {
        total: chaos.plan.totalFaults(),
        faults: {
          ...chaos.plan.faults(),
          duplicatesSuppressed: chaos.handler.stats.duplicatesSuppressed,
        },
      };
    }
    return sample;
  }

  private async follow(everyMs: number): Promise<void> {
    let lastError = '';
    while (!this.stopped) {
      const started = Date.now();
      try {
        this.observe(await this.opts.monitor.poll(started), started);
        lastError = '';
      } catch (err) {
        // The emulators going away under a stopping pipeline is not news; anything else
        // is said once, not once a second.
        const message = err instanceof Error ? err.message : String(err);
        if (!this.stopped && message !== lastError)
          this.opts.log?.(`dashboard: polling the pipeline failed: ${message}`);
        lastError = message;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, everyMs - (Date.now() - started)));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }
}
