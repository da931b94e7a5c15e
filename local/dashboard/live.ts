/**
 * The dashboard of `npm start`: the local pipeline's source fed by the console's own poll
 * loop (the monitor drains queues, so it keeps one reader), served on a free port.
 *
 *   const live = await serveLocalDashboard({ pipeline, monitor });
 *   onBatch: (info) => live.onBatch(info)      // batch sizes, beside the monitor's
 *   live.observe(await monitor.poll())         // after each poll of the console loop
 *   await live.close();
 */
import type { LiveEvent, LiveMonitor } from '../cli/monitor.js';
import type { BatchInfo, LocalPipeline } from '../pipeline/index.js';
import { type Dashboard, startDashboard } from './index.js';
import type { AlarmActions } from './model.js';
import { openBrowser } from './open-browser.js';
import { LocalPipelineSource } from './sources/local.js';

export interface LocalDashboardOptions {
  pipeline: LocalPipeline;
  monitor: LiveMonitor;
  label?: string;
  port?: number;
  open?: boolean;
  actions?: AlarmActions;
  log: (line: string) => void;
}

export interface LocalDashboard {
  url: string;
  dashboard: Dashboard;
  onBatch(info: BatchInfo): void;
  observe(events: readonly LiveEvent[], now?: number): void;
  close(): Promise<void>;
}

export async function serveLocalDashboard(opts: LocalDashboardOptions): Promise<LocalDashboard> {
  const source = new LocalPipelineSource({
    pipeline: opts.pipeline,
    monitor: opts.monitor,
    poll: 'external',
    ...(opts.label ? { label: opts.label } : {}),
    log: opts.log,
  });
  const dashboard = await startDashboard({
    source,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.actions ? { actions: opts.actions } : {}),
    log: opts.log,
  });
  if (opts.open) openBrowser(dashboard.url, opts.log);
  return {
    url: dashboard.url,
    dashboard,
    onBatch: source.onBatch,
    observe: (events, now) => source.observe(events, now),
    close: () => dashboard.close(),
  };
}
