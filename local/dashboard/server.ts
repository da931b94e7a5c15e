/**
 * The dashboard's HTTP surface on 127.0.0.1: the page and uPlot (from node_modules, never
 * a CDN) as static files, a JSON API over the store, the server-sent event stream, and the
 * alarm actions. Security by default, for a server anyone on the machine can reach:
 * - a Content-Security-Policy that allows this origin's scripts, styles and connections
 *   only (no inline script, no eval, no framing);
 * - the Host header must name the loopback address (a DNS-rebinding page cannot reach
 *   the API), and a POST must come from the page's own origin with a JSON body (so a
 *   cross-site form cannot acknowledge an alarm);
 * - the page gets data, never credentials: the AWS clients live in the source.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { WindowpaneError } from '../../functions/domain/errors.js';
import type { AlarmActions } from './model.js';
import type { SseHub } from './sse.js';
import type { DashboardStore } from './store.js';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const MAX_BODY_BYTES = 4_096;
/** Snooze at most this long: a longer silence is "disable", which the alarms CLI owns. */
export const MAX_SNOOZE_MS = 7 * 24 * 3_600_000;

export class DashboardRequestError extends WindowpaneError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface StaticFile {
  type: string;
  body: Buffer;
}

/** The page's files and uPlot's, read once: the set of paths served is fixed at start. */
export function loadStaticFiles(): Map<string, StaticFile> {
  const pageDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'page');
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(pageDir)) {
    const type = TYPES[path.extname(name)];
    if (type) files.set(`/${name}`, { type, body: readFileSync(path.join(pageDir, name)) });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  const require = createRequire(import.meta.url);
  for (const [route, file] of [
    ['/vendor/uPlot.esm.js', 'uplot/dist/uPlot.esm.js'],
    ['/vendor/uPlot.min.css', 'uplot/dist/uPlot.min.css'],
  ] as const) {
    files.set(route, { type: TYPES[path.extname(file)]!, body: readFileSync(require.resolve(file)) });
  }
  return files;
}

export interface RouterOptions {
  store: DashboardStore;
  hub: SseHub;
  files: Map<string, StaticFile>;
  actions?: AlarmActions;
  who: string;
  /** Extra fields of /api/snapshot (label, provides, instance, source status). */
  meta: () => Record<string, unknown>;
  /** Filled in once the server listens: the allowed Host headers and origin. */
  origin: { port: number };
  log: (line: string) => void;
}

const seriesQuery = z.object({
  sensor: z.string().min(1, 'sensor is required').max(256),
  points: z.coerce.number().int().min(10).max(5_000).default(1_000),
  from: z.coerce.number().finite().optional(),
  to: z.coerce.number().finite().optional(),
});
const ackBody = z.object({ note: z.string().max(500).default('') }).strict();
const snoozeBody = z.object({ forMs: z.number().int().min(60_000).max(MAX_SNOOZE_MS) }).strict();

function send(res: ServerResponse, status: number, body: string | Buffer, type: string, extra = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, ...extra });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, data: unknown): void {
  send(res, status, JSON.stringify(data), 'application/json; charset=utf-8', { 'Cache-Control': 'no-store' });
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new DashboardRequestError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new DashboardRequestError(400, 'body is not JSON');
  }
}

export function createRouter(opts: RouterOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const allowedHosts = () => [`127.0.0.1:${opts.origin.port}`, `localhost:${opts.origin.port}`];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = req.headers.host ?? '';
    if (!allowedHosts().includes(host)) {
      throw new DashboardRequestError(421, `unexpected Host header "${host}"`);
    }
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (req.method === 'POST') return handlePost(req, res, url, host);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new DashboardRequestError(405, 'method not allowed');

    const file = opts.files.get(url.pathname);
    if (file) return send(res, 200, file.body, file.type, { 'Cache-Control': 'no-cache' });
    switch (url.pathname) {
      case '/api/snapshot':
        return sendJson(res, 200, {
          ...opts.meta(),
          actions: opts.actions !== undefined,
          ...opts.store.snapshot(),
        });
      case '/api/series': {
        const q = seriesQuery.safeParse(Object.fromEntries(url.searchParams));
        if (!q.success) throw new DashboardRequestError(400, issues(q.error));
        const { sensor, points, from, to } = q.data;
        return sendJson(res, 200, {
          sensor,
          series: opts.store.sensorSeries(sensor, {
            points,
            ...(from !== undefined ? { from } : {}),
            ...(to !== undefined ? { to } : {}),
          }),
        });
      }
      case '/api/events':
        opts.hub.attach(res);
        return;
      default:
        throw new DashboardRequestError(404, `no such page: ${url.pathname}`);
    }
  }

  async function handlePost(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    host: string,
  ): Promise<void> {
    if (req.headers.origin !== `http://${host}`) {
      throw new DashboardRequestError(403, 'a POST must come from the dashboard page itself');
    }
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      throw new DashboardRequestError(415, 'a POST body must be application/json');
    }
    const m = /^\/api\/alarms\/([^/]+)\/(ack|snooze)$/.exec(url.pathname);
    if (!m) throw new DashboardRequestError(404, `no such action: ${url.pathname}`);
    const actions = opts.actions;
    if (!actions) throw new DashboardRequestError(501, 'alarm actions are not available from this source');
    const id = decodeURIComponent(m[1]!);
    const body = await readJson(req);
    if (m[2] === 'ack') {
      const parsed = ackBody.safeParse(body);
      if (!parsed.success) throw new DashboardRequestError(400, issues(parsed.error));
      await actions.ack(id, parsed.data.note, opts.who);
      opts.log(`alarm ${id} acknowledged by ${opts.who}`);
    } else {
      const parsed = snoozeBody.safeParse(body);
      if (!parsed.success) throw new DashboardRequestError(400, issues(parsed.error));
      await actions.snooze(id, parsed.data.forMs, opts.who);
      opts.log(`alarm ${id} snoozed for ${parsed.data.forMs / 60_000} min by ${opts.who}`);
    }
    sendJson(res, 200, { ok: true });
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof DashboardRequestError) return sendJson(res, err.status, { error: err.message });
      // The alarms module refusing (unknown id, wrong state) says why; anything else is ours.
      if (err instanceof WindowpaneError) return sendJson(res, 409, { error: err.message });
      opts.log(
        `dashboard: ${req.method} ${req.url} failed: ${err instanceof Error ? err.message : String(err)}`,
      );
      sendJson(res, 500, { error: 'internal error (see the server log)' });
    });
  };
}
