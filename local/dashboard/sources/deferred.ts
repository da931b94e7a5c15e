/**
 * A source that is not there yet: the dashboard can serve (and its URL be printed) while
 * what it will show is still starting, e.g. `npm start`'s emulators. The page says it is
 * waiting until `resolve` hands over the real source; `reject` shows why it never came.
 */
import type { DashboardSink, DashboardSource } from '../model.js';

export class DeferredSource implements DashboardSource {
  private source: DashboardSource | undefined;
  private settle: { resolve: (s: DashboardSource) => void; reject: (err: unknown) => void } | undefined;
  private readonly arrived = new Promise<DashboardSource>((resolve, reject) => {
    this.settle = { resolve, reject };
  });

  constructor(
    readonly label: string,
    readonly provides: DashboardSource['provides'],
  ) {
    // A rejection nobody awaits yet (before `start`) is still handled there.
    this.arrived.catch(() => {});
  }

  resolve(source: DashboardSource): void {
    this.source = source;
    this.settle?.resolve(source);
  }

  reject(err: unknown): void {
    this.settle?.reject(err);
  }

  async start(sink: DashboardSink): Promise<void> {
    const source = await this.arrived;
    await source.start(sink);
  }

  async stop(): Promise<void> {
    // A source that never arrived has nothing to stop; the pending start stays pending.
    await this.source?.stop();
  }
}
