/**
 * The dashboard server over plain HTTP: the security headers and checks, uPlot served from
 * node_modules, the API's validation, the event stream, and the alarm actions' plumbing.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../../local/dashboard/index.js';
import { serveLocalDashboard } from '../../local/dashboard/live.js';
import type { AlarmActions } from '../../local/dashboard/model.js';
import { CONTENT_SECURITY_POLICY } from '../../local/dashboard/server.js';
import { DeferredSource } from '../../local/dashboard/sources/deferred.js';
import { ManualSource } from '../../local/dashboard/sources/manual.js';
import { alert, fleetWindows } from './fleet.js';

let dashboard: Dashboard | undefined;
afterEach(async () => {
  await dashboard?.close();
  dashboard = undefined;
});

async function serve(actions?: AlarmActions, source = new ManualSource('test source')) {
  dashboard = await startDashboard({ source, tickMs: 20, ...(actions ? { actions } : {}), who: 'tester' });
  await dashboard.ready;
  return { dashboard, source };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request, so the test controls Host and Origin exactly as another page could. */
function call(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: { host: `127.0.0.1:${port}`, ...opts.headers },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

function post(port: number, path: string, body: unknown, headers: Record<string, string> = {}) {
  return call(port, path, {
    method: 'POST',
    headers: { origin: `http://127.0.0.1:${port}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('dashboard server', () => {
  it('serves the page with a Content-Security-Policy that allows its own origin only, and uPlot from node_modules', async () => {
    const { dashboard } = await serve();
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await call(dashboard.port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe|https?:/);
    expect(page.body).toContain('<script type="module" src="/app.js">');
    expect(page.body).not.toMatch(/https?:\/\//);
    const vendor = await call(dashboard.port, '/vendor/uPlot.esm.js');
    const require = createRequire(import.meta.url);
    expect(vendor.body).toBe(readFileSync(require.resolve('uplot/dist/uPlot.esm.js'), 'utf8'));
    expect(vendor.headers['content-type']).toMatch(/^text\/javascript/);
    expect((await call(dashboard.port, '/../package.json')).status).toBe(404);
  });

  it('refuses a Host header other than the loopback address (DNS rebinding)', async () => {
    const { dashboard } = await serve();
    const reply = await call(dashboard.port, '/api/snapshot', {
      headers: { host: `evil.example:${dashboard.port}` },
    });
    expect(reply.status).toBe(421);
    expect(reply.body).toContain('unexpected Host header');
    expect(
      (await call(dashboard.port, '/api/snapshot', { headers: { host: `localhost:${dashboard.port}` } }))
        .status,
    ).toBe(200);
  });

  it('serves a snapshot and a downsampled series, and names a bad query parameter', async () => {
    const source = new ManualSource('fleet');
    source.emit(...fleetWindows(3, 1_440), { kind: 'alert', alert: alert('sensor_2', 'a1') });
    const { dashboard } = await serve(undefined, source);
    const snap = JSON.parse((await call(dashboard.port, '/api/snapshot')).body);
    expect(snap).toMatchObject({ label: 'fleet', actions: false, status: { state: 'live' } });
    expect(snap.sensors.map((s: { id: string }) => s.id)).toEqual(['sensor_1', 'sensor_2', 'sensor_3']);
    expect(snap.alerts.map((a: { alertId: string }) => a.alertId)).toEqual(['a1']);
    const series = JSON.parse((await call(dashboard.port, '/api/series?sensor=sensor_2&points=300')).body);
    expect(series.series).toHaveLength(1);
    expect(series.series[0].columns.t.length).toBeLessThanOrEqual(300);
    const bad = await call(dashboard.port, '/api/series?points=3');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/sensor/);
    expect(bad.body).toMatch(/points/);
  });

  it('serves before its source exists (a DeferredSource), saying it is loading, then shows it', async () => {
    const deferred = new DeferredSource('starting', ['windows']);
    dashboard = await startDashboard({ source: deferred, tickMs: 20 });
    const before = JSON.parse((await call(dashboard.port, '/api/snapshot')).body);
    expect(before).toMatchObject({ label: 'starting', status: { state: 'loading' }, sensors: [] });
    const real = new ManualSource('real');
    real.emit(...fleetWindows(2, 3));
    deferred.resolve(real);
    await dashboard.ready;
    const after = JSON.parse((await call(dashboard.port, '/api/snapshot')).body);
    expect(after.status).toEqual({ state: 'live' });
    expect(after.sensors).toHaveLength(2);
  });

  it('streams a hello, then updates as the source pushes', async () => {
    const { dashboard, source } = await serve();
    const received: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: dashboard.port,
          path: '/api/events',
          headers: { host: `127.0.0.1:${dashboard.port}` },
        },
        (res) => {
          expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
          res.on('data', (c: Buffer) => {
            received.push(c.toString());
            if (received.join('').includes('event: update')) {
              req.destroy();
              resolve();
            }
          });
        },
      );
      req.on('error', (err) => (received.join('').includes('event: update') ? resolve() : reject(err)));
      req.end();
    });
    await new Promise((r) => setTimeout(r, 50));
    source.emit(...fleetWindows(1, 1));
    await done;
    const text = received.join('');
    expect(text.indexOf('event: hello')).toBeLessThan(text.indexOf('event: update'));
    expect(text).toContain('"sensor_1","tumbling:60000","temperature"');
  });

  it('passes acknowledge and snooze to the AlarmActions with the server-side user, and validates them', async () => {
    const calls: unknown[][] = [];
    const actions: AlarmActions = {
      async ack(id, note, who) {
        calls.push(['ack', id, note, who]);
      },
      async snooze(id, forMs, who) {
        calls.push(['snooze', id, forMs, who]);
      },
    };
    const { dashboard } = await serve(actions);
    expect(JSON.parse((await call(dashboard.port, '/api/snapshot')).body).actions).toBe(true);
    expect((await post(dashboard.port, '/api/alarms/a%2F1/ack', { note: 'on it' })).status).toBe(200);
    expect((await post(dashboard.port, '/api/alarms/a1/snooze', { forMs: 3_600_000 })).status).toBe(200);
    expect(calls).toEqual([
      ['ack', 'a/1', 'on it', 'tester'],
      ['snooze', 'a1', 3_600_000, 'tester'],
    ]);
    const tooShort = await post(dashboard.port, '/api/alarms/a1/snooze', { forMs: 5 });
    expect(tooShort.status).toBe(400);
    expect(tooShort.body).toContain('forMs');
    const extra = await post(dashboard.port, '/api/alarms/a1/ack', { note: 'x', who: 'mallory' });
    expect(extra.status).toBe(400);
    expect(calls).toHaveLength(2);
  });

  it('refuses a POST from another origin or without a JSON body, and actions when none are given', async () => {
    const refused: string[] = [];
    const { dashboard } = await serve({
      async ack(id) {
        refused.push(id);
      },
      async snooze(id) {
        refused.push(id);
      },
    });
    expect(
      (await post(dashboard.port, '/api/alarms/a1/ack', {}, { origin: 'http://evil.example' })).status,
    ).toBe(403);
    expect(
      (await post(dashboard.port, '/api/alarms/a1/ack', {}, { 'content-type': 'text/plain' })).status,
    ).toBe(415);
    expect(refused).toEqual([]);
    await dashboard.close();
    const without = await serve();
    const reply = await post(without.dashboard.port, '/api/alarms/a1/ack', { note: '' });
    expect(reply.status).toBe(501);
  });

  it("npm start's dashboard: buttons say the pipeline is starting, then act through the attached actions", async () => {
    const live = await serveLocalDashboard({ label: 'starting', withActions: true, log: () => {} });
    try {
      expect(JSON.parse((await call(live.dashboard.port, '/api/snapshot')).body).actions).toBe(true);
      const early = await post(live.dashboard.port, '/api/alarms/a1/ack', { note: '' });
      expect(early.status).toBe(503);
      expect(early.body).toContain('still starting');
      const acks: string[] = [];
      const pipeline = { mode: 'embedded', resources: { stream: { name: 'wp-readings' } } };
      live.attach(pipeline as never, { snapshot: { current: new Map() } } as never, {
        async ack(id) {
          acks.push(id);
        },
        async snooze() {},
      });
      expect((await post(live.dashboard.port, '/api/alarms/a1/ack', { note: '' })).status).toBe(200);
      expect(acks).toEqual(['a1']);
    } finally {
      await live.close();
    }
  });
});
