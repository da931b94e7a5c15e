/**
 * The dashboard of `npm start`. It is served before the local cloud starts, so its URL is
 * among the first lines printed; `attach` then hands it the pipeline and the console's
 * monitor. The source is fed by the console's own poll loop (the monitor drains queues,
 * so it keeps one reader). The alarm actions need the pipeline's clients, so they arrive
 * with `attach` too; until then a button says the pipeline is still starting (no alarm
 * can be on the page before it anyway).
 *
 *   const live = await serveLocalDashboard({ label, log });
 *   ...start the pipeline, with onBatch: (info) => live.onBatch(info)...
 *   live.attach(pipeline, monitor, actions);   // actions: the alarms module's, as `npm run alarms` uses
 *   live.observe(await monitor.poll())         // after each poll of the console loop
 *   await live.close();
 */
import type { LiveEvent, LiveMonitor } from '../cli/monitor.js';
import type { BatchInfo, LocalPipeline } from '../pipeline/index.js';
import { type Dashboard, startDashboard } from './index.js';
import type { AlarmActions } from './model.js';
import { openBrowser } from './open-browser.js';
import { DashboardRequestError } from './server.js';
import { DeferredSource } from './sources/deferred.js';
import { LocalPipelineSource } from './sources/local.js';

export interface LocalDashboardOptions {
  label: string;
  port?: number;
  open?: boolean;
  /** Show the acknowledge / snooze buttons: the actions themselves come with `attach`. */
  withActions?: boolean;
  log: (line: string) => void;
}

export interface LocalDashboard {
  url: string;
  dashboard: Dashboard;
  attach(pipeline: LocalPipeline, monitor: LiveMonitor, actions?: AlarmActions): void;
  onBatch(info: BatchInfo): void;
  observe(events: readonly LiveEvent[], now?: number): void;
  close(): Promise<void>;
}

export async function serveLocalDashboard(opts: LocalDashboardOptions): Promise<LocalDashboard> {
  const deferred = new DeferredSource(opts.label, [
    'windows',
    'open',
    'alerts',
    'alarms',
    'setAside',
    'health',
  ]);
  let source: LocalPipelineSource | undefined;
  let attached: AlarmActions | undefined;
  let started = false;
  const actionsOf = (): AlarmActions => {
    if (!started) throw new DashboardRequestError(503, 'the local pipeline is still starting');
    if (!attached)
      throw new DashboardRequestError(501, 'this pipeline has no alarms projection table to act through');
    return attached;
  };
  const late: AlarmActions = {
    ack: (id, note, who) => actionsOf().ack(id, note, who),
    snooze: (id, forMs, who) => actionsOf().snooze(id, forMs, who),
  };
  const dashboard = await startDashboard({
    source: deferred,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.withActions ? { actions: late } : {}),
    log: opts.log,
  });
  if (opts.open) openBrowser(dashboard.url, opts.log);
  return {
    url: dashboard.url,
    dashboard,
    attach(pipeline, monitor, actions) {
      attached = actions;
      started = true;
      source = new LocalPipelineSource({
        pipeline,
        monitor,
        poll: 'external',
        label: opts.label,
        log: opts.log,
      });
      deferred.resolve(source);
    },
    onBatch: (info) => source?.onBatch(info),
    observe: (events, now) => source?.observe(events, now),
    close: () => dashboard.close(),
  };
}
