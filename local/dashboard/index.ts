/**
 * The web dashboard: `startDashboard({ source })` serves the page on a free 127.0.0.1
 * port, keeps a bounded view of what the source pushes (store.ts), and broadcasts the
 * changes to every open page over server-sent events at most every `tickMs`: the pages
 * never poll, and the number of pages does not change what the source reads.
 *
 *   const dashboard = await startDashboard({ source: new LocalPipelineSource({ ... }) });
 *   console.log(dashboard.url);
 *   ...
 *   await dashboard.close();
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import type { AlarmActions, DashboardSource } from './model.js';
import { createRouter, loadStaticFiles } from './server.js';
import { SseHub } from './sse.js';
import { DashboardStore, type StoreOptions } from './store.js';

export type * from './model.js';
export { DashboardStore } from './store.js';

export interface DashboardOptions {
  source: DashboardSource;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The page shows acknowledge/snooze buttons only when given. */
  actions?: AlarmActions;
  /** Recorded as who acknowledged or snoozed (default: the OS user, "via dashboard"). */
  who?: string;
  store?: StoreOptions;
  /** Broadcast interval (default 250 ms). */
  tickMs?: number;
  log?: (line: string) => void;
}

export interface Dashboard {
  url: string;
  port: number;
  store: DashboardStore;
  /** Settles when the source's initial load was pushed (or failed: the page shows it). */
  ready: Promise<void>;
  close(): Promise<void>;
}

function defaultWho(): string {
  try {
    return `${userInfo().username} via dashboard`;
  } catch {
    return 'dashboard';
  }
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const log = opts.log ?? (() => {});
  const store = new DashboardStore(opts.store);
  // A new id per server: a page that reconnects to a restarted server reloads everything.
  const instance = randomUUID();
  const status: { state: 'loading' | 'live' | 'failed'; error?: string } = { state: 'loading' };
  const hub = new SseHub({ hello: () => ({ instance, seq: store.snapshot().seq }) });
  const origin = { port: 0 };
  const server = createServer(
    createRouter({
      store,
      hub,
      files: loadStaticFiles(),
      ...(opts.actions ? { actions: opts.actions } : {}),
      who: opts.who ?? defaultWho(),
      meta: () => ({ instance, label: opts.source.label, provides: opts.source.provides, status }),
      origin,
      log,
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  origin.port = (server.address() as AddressInfo).port;

  const tick = setInterval(() => {
    const update = store.takeUpdate();
    if (update) hub.broadcast('update', update);
  }, opts.tickMs ?? 250);
  tick.unref();

  const ready = opts.source.start(store).then(
    () => {
      status.state = 'live';
      hub.broadcast('status', status);
    },
    (err: unknown) => {
      status.state = 'failed';
      status.error = err instanceof Error ? err.message : String(err);
      log(`dashboard: the source failed: ${status.error}`);
      hub.broadcast('status', status);
    },
  );

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${origin.port}/`,
    port: origin.port,
    store,
    ready,
    close() {
      closing ??= (async () => {
        clearInterval(tick);
        await opts.source.stop();
        hub.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
