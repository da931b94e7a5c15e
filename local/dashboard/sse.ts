/**
 * Server-sent events to every open page: one serialisation per broadcast whatever the
 * number of pages, a heartbeat so proxies and the browser keep the stream open, and a
 * bound per page: a page that does not read (a background tab, a stalled socket) is cut
 * off once its unsent bytes pass `maxBufferedBytes`; its EventSource reconnects and
 * reloads the snapshot, so nothing piles up in the server for it.
 */
import type { ServerResponse } from 'node:http';

export interface SseHubOptions {
  heartbeatMs?: number;
  maxBufferedBytes?: number;
  /** Sent to each page on connect, before anything else. */
  hello: () => unknown;
}

export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly maxBufferedBytes: number;

  constructor(private readonly opts: SseHubOptions) {
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), opts.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  attach(res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    // A page reconnects a second after the server went away (a restart).
    res.write(`retry: 1000\n\n${frame('hello', this.opts.hello())}`);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  broadcast(event: string, data: unknown): void {
    if (this.clients.size > 0) this.write(frame(event, data));
  }

  private write(text: string): void {
    for (const res of this.clients) {
      if (res.writableLength > this.maxBufferedBytes) {
        this.clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}

function frame(event: string, data: unknown): string {
  // JSON has no raw newlines, so one `data:` line is always enough.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
