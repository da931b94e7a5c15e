/**
 * A running local pipeline for the browser tests, as `npm start` runs one: the embedded
 * emulators, the real handler behind the local event source mapping, a simulated fleet
 * producing in real time (with a short backfill so windows close within seconds), the
 * console's LiveMonitor, and the dashboard on a LocalPipelineSource.
 */
import { parseConfig } from '../../functions/domain/config.js';
import { LiveMonitor } from '../../local/cli/monitor.js';
import { loadProjectConfig } from '../../local/config.js';
import { type Dashboard, startDashboard } from '../../local/dashboard/index.js';
import type { AlarmActions } from '../../local/dashboard/model.js';
import { LocalPipelineSource } from '../../local/dashboard/sources/local.js';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline/index.js';
import { putRecordsInOrder } from '../../local/put-in-order.js';
import { createSimulator } from '../../local/simulator.js';

export interface LivePipeline {
  pipeline: LocalPipeline;
  source: LocalPipelineSource;
  dashboard: Dashboard;
  stop(): Promise<void>;
}

const WINDOW_MS = 5_000;
const LATENESS_MS = 1_000;
const SENSORS = 5;

/** An alarm-mode rule the simulator's spikes (about 40) raise, and that stays raised for the test. */
export const OVERHEAT = {
  name: 'overheat',
  type: 'threshold',
  metric: 'temperature',
  above: 30,
  mode: 'alarm',
  clearAfter: 1_000,
  severity: 'critical',
};

export interface LivePipelineOptions {
  /** The page's alarm actions, made from the started pipeline (its clients and stream). */
  actions?: (pipeline: LocalPipeline) => AlarmActions;
  /** `percentiles` of the configuration (off by default, as in cdk.json). */
  percentiles?: number[];
  /** Rules added to the project's. */
  rules?: unknown[];
}

export async function startLivePipeline(opts: LivePipelineOptions = {}): Promise<LivePipeline> {
  const base = loadProjectConfig().config;
  const config = parseConfig(
    {
      ...base,
      ...(opts.percentiles ? { percentiles: opts.percentiles } : {}),
      ...(opts.rules ? { rules: [...base.rules, ...opts.rules] } : {}),
      windows: [{ type: 'tumbling', sizeMs: WINDOW_MS }],
      allowedLatenessMs: LATENESS_MS,
      eventSource: { ...base.eventSource, maxBatchingWindowSeconds: 1 },
    },
    'browser test',
  );
  let source: LocalPipelineSource | undefined;
  let monitor: LiveMonitor | undefined;
  const pipeline = await startLocalPipeline({
    config,
    resourceSource: 'config',
    onBatch: (info) => {
      monitor?.onBatch(info);
      source?.onBatch(info);
    },
  });
  const sensorIds = Array.from({ length: SENSORS }, (_, i) => `sensor_${i + 1}`);
  monitor = new LiveMonitor(pipeline, sensorIds);
  source = new LocalPipelineSource({ pipeline, monitor, poll: { everyMs: 500 } });
  let dashboard: Dashboard;
  try {
    dashboard = await startDashboard({
      source,
      tickMs: 100,
      ...(opts.actions ? { actions: opts.actions(pipeline) } : {}),
    });
  } catch (err) {
    await pipeline.stop();
    throw err;
  }

  const now = Date.now();
  const simulator = createSimulator({
    sensors: SENSORS,
    rateHz: 4,
    seed: 11,
    startMs: Math.floor((now - 4 * WINDOW_MS) / WINDOW_MS) * WINDOW_MS,
    windowMs: WINDOW_MS,
    allowedLatenessMs: LATENESS_MS,
    spikeRate: 0.1,
  });
  const abort = new AbortController();
  let stopped = false;
  const producing = (async () => {
    while (!stopped) {
      const due = simulator.next(Date.now());
      if (due.length === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const records = due.map((r, i) => ({ line: i + 1, partitionKey: r.partitionKey, data: r.data }));
      await putRecordsInOrder(pipeline.clients.kinesis, pipeline.resources.stream.name, records, {
        abortSignal: abort.signal,
      });
      monitor.snapshot.sent += records.length;
    }
  })().catch((err: unknown) => {
    if (!stopped) throw err;
  });

  return {
    pipeline,
    source,
    dashboard,
    async stop() {
      stopped = true;
      abort.abort();
      await producing.catch(() => {});
      await dashboard.close();
      await pipeline.stop();
    },
  };
}
