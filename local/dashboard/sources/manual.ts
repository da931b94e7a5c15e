/**
 * A source fed by its owner: events given to `emit` go to the dashboard as they are. For
 * a program that already has the data in hand (a synthetic fleet in the benchmark, a test,
 * a tool that wants to show what it computed) and no AWS to read it from.
 */
import type { DashboardEvent, DashboardSink, DashboardSource } from '../model.js';

export class ManualSource implements DashboardSource {
  private sink: DashboardSink | undefined;
  private readonly pending: DashboardEvent[] = [];

  constructor(
    readonly label: string,
    readonly provides: DashboardSource['provides'] = [
      'windows',
      'open',
      'alerts',
      'alarms',
      'setAside',
      'health',
    ],
  ) {}

  emit(...events: DashboardEvent[]): void {
    this.emitAll(events);
  }

  /** Before `start`, events wait (unbounded: the owner decides how many it emits). */
  emitAll(events: readonly DashboardEvent[]): void {
    if (this.sink) this.sink.push(events);
    else for (const e of events) this.pending.push(e);
  }

  async start(sink: DashboardSink): Promise<void> {
    this.sink = sink;
    sink.push(this.pending.splice(0));
  }

  async stop(): Promise<void> {
    this.sink = undefined;
  }
}
