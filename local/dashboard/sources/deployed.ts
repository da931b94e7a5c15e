/**
 * A deployed stack (or any endpoint holding windowpane's resources) as a dashboard
 * source, read with the user's AWS credentials on the server side only:
 * - history: one scan of the results table for windows that ended within the horizon
 *   (bounded by `maxInitialWindows`; a filtered scan reads the whole table, so its size,
 *   not the horizon, is what it costs);
 * - live: the output stream of final windows when the stack has one (read from "now",
 *   opened before the scan so nothing falls between them), else the results table again
 *   every `tablePollMs` for windows finalised since the previous read.
 * - alarms: with an alarms projection table (docs/SEMANTICS.md A-C4), every alarm's
 *   current row, read at start and again every `alarmsPollMs`; the store keeps each
 *   alarm's highest seq, so a re-read changes only what changed.
 * - open windows: with the state table, each sensor's newest open window as last
 *   committed, read at start and again every `openPollMs` (an eventually consistent scan
 *   of the whole table, items with open windows kept: about half a read unit per 4 KB of
 *   state, 1,000 sensors about 90 units a read). With carried state (the default) an item
 *   is written about twice a Lambda window, so the open window shown can be up to that
 *   window (300 s) behind: the page says as of when, and that the sensor was carried.
 * Repeats (stream and scan overlap, at-least-once delivery) are harmless: the store keeps
 * one point per window start.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { paginateScan, type ScanCommandInput } from '@aws-sdk/lib-dynamodb';
import type { PercentileSettings } from '../../../functions/domain/percentile-config.js';
import type { SensorState } from '../../../functions/domain/state.js';
import type { AwsClients } from '../../../functions/lib/clients.js';
import { BACKOFF, type BackoffPolicy, backoffDelay } from '../../../functions/lib/retry.js';
import { fromBody } from '../../../functions/lib/state-store.js';
import { listAlarms } from '../../alarms/projection.js';
import { newestOpenWindow } from '../../cli/monitor.js';
import { alarmViewOf } from '../alarm-view.js';
import {
  type DashboardEvent,
  type DashboardSink,
  type DashboardSource,
  DEFAULT_OPEN_POLL_MS,
  type OpenWindowView,
} from '../model.js';
import { parseFinalWindow, ResultsStreamReader } from './results-stream.js';

export interface DeployedResources {
  resultsTable: string;
  resultsStream?: string;
  /** The readings stream (the alarm actions' control records go there). */
  stream?: string;
  /** The alarms projection, when the deployment has one. */
  alarmsTable?: string;
  /** The per-sensor state table (open windows as last committed). */
  stateTable?: string;
}

export interface DeployedSourceOptions {
  clients: AwsClients;
  resources: DeployedResources;
  label: string;
  horizonMs?: number;
  maxInitialWindows?: number;
  streamPollMs?: number;
  tablePollMs?: number;
  alarmsPollMs?: number;
  /** How often the state table is read for open windows (default 15 s; 0: never). */
  openPollMs?: number;
  /** The deployment's percentiles (cdk.json), to estimate them for the open windows. */
  percentiles?: PercentileSettings;
  log?: (line: string) => void;
}

/** A failing read is retried with this, up to a few seconds apart, for as long as the page is up. */
const READ_RETRY: BackoffPolicy = { ...BACKOFF.failedEntries, baseMs: 500, maxMs: 15_000 };
/** Finalisation stamps come from the handler's clock; this much overlap covers skew and in-flight writes. */
const TABLE_OVERLAP_MS = 30_000;

export class DeployedSource implements DashboardSource {
  readonly label: string;
  readonly provides: DashboardSource['provides'];
  private stopped = false;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private alarmsLoop: Promise<void> | undefined;
  private openLoop: Promise<void> | undefined;
  private badRecords = 0;
  private badStates = 0;
  /** What was last pushed per sensor, so a re-read pushes only what changed. */
  private readonly lastOpen = new Map<string, string>();

  constructor(private readonly opts: DeployedSourceOptions) {
    this.label = opts.label;
    const provides: ('windows' | 'alarms' | 'open')[] = ['windows'];
    if (opts.resources.alarmsTable) provides.push('alarms');
    if (this.openTable()) provides.push('open');
    this.provides = provides;
  }

  /** The state table to read open windows from, unless there is none or reading is off. */
  private openTable(): string | undefined {
    return (this.opts.openPollMs ?? DEFAULT_OPEN_POLL_MS) > 0 ? this.opts.resources.stateTable : undefined;
  }

  async start(sink: DashboardSink): Promise<void> {
    const { clients, resources } = this.opts;
    const log = this.opts.log ?? (() => {});
    const horizonMs = this.opts.horizonMs ?? 24 * 3_600_000;
    let reader: ResultsStreamReader | undefined;
    if (resources.resultsStream) {
      reader = new ResultsStreamReader({
        kinesis: clients.kinesis,
        streamName: resources.resultsStream,
        onWindows: (windows) => sink.push(windows.map((window) => ({ kind: 'window', window }))),
        onBadRecord: (reason) => {
          if (this.badRecords++ < 10) log(`dashboard: skipped a results stream record: ${reason}`);
        },
      });
      await reader.open();
    }
    const alarmsTable = resources.alarmsTable;
    let alarms = 0;
    if (alarmsTable) alarms = await this.readAlarms(sink, alarmsTable);
    const openTable = this.openTable();
    const openPollMs = this.opts.openPollMs ?? DEFAULT_OPEN_POLL_MS;
    let open = 0;
    if (openTable) open = await this.readOpen(sink, openTable);
    const startedAt = Date.now();
    const loaded = await this.scan(
      sink,
      { attribute: 'windowEnd', since: startedAt - horizonMs },
      this.opts.maxInitialWindows ?? 2_000_000,
    );
    log(
      `dashboard: ${loaded} final window(s) of the last ${horizonMs / 3_600_000} h from ${resources.resultsTable}; ` +
        (reader
          ? `following ${resources.resultsStream} (${reader.shards} shard(s))`
          : `re-reading it every ${(this.opts.tablePollMs ?? 10_000) / 1000} s`) +
        (alarmsTable
          ? `; ${alarms} alarm(s) from ${alarmsTable}, re-read every ${(this.opts.alarmsPollMs ?? 5_000) / 1000} s`
          : '; no alarms projection table') +
        (openTable
          ? `; ${open} open window(s) from ${openTable}, re-read every ${openPollMs / 1000} s`
          : '; no open windows (no state table, or --open-every 0)'),
    );
    if (openTable) this.openLoop = this.follow(() => this.readOpen(sink, openTable), openPollMs);
    if (alarmsTable)
      this.alarmsLoop = this.follow(
        () => this.readAlarms(sink, alarmsTable),
        this.opts.alarmsPollMs ?? 5_000,
      );
    this.loop = reader
      ? this.follow(() => reader.poll(), this.opts.streamPollMs ?? 1_000)
      : this.followTable(sink, startedAt);
  }

  private async followTable(sink: DashboardSink, from: number): Promise<void> {
    let cursor = from;
    await this.follow(async () => {
      const readAt = Date.now();
      const n = await this.scan(
        sink,
        { attribute: 'finalisedAt', since: cursor - TABLE_OVERLAP_MS },
        Number.POSITIVE_INFINITY,
      );
      cursor = readAt;
      return n;
    }, this.opts.tablePollMs ?? 10_000);
  }

  private async follow(step: () => Promise<number>, everyMs: number): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        await step();
        failures = 0;
        await this.pause(everyMs);
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 20 === 0) {
          this.opts.log?.(
            `dashboard: reading ${this.label} failed (${failures}x): ${err instanceof Error ? err.message : String(err)}`,
          );
        }
        await this.pause(backoffDelay(failures, READ_RETRY));
      }
    }
  }

  /** Every alarm's current row of the projection, as alarm views; returns how many. */
  private async readAlarms(sink: DashboardSink, table: string): Promise<number> {
    const rows = await listAlarms(this.opts.clients.doc, table);
    sink.push(rows.map((row) => ({ kind: 'alarm' as const, alarm: alarmViewOf(row) })));
    return rows.length;
  }

  /**
   * Each sensor's newest open window as its state item holds it, pushed page by page when
   * it changed; returns how many sensors have one.
   */
  private async readOpen(sink: DashboardSink, table: string): Promise<number> {
    let found = 0;
    for await (const items of this.pages({
      TableName: table,
      FilterExpression: 'openWindows > :none',
      ProjectionExpression: 'sensorId, version, body, updatedAt, carriedBy',
      ExpressionAttributeValues: { ':none': 0 },
    })) {
      const events: DashboardEvent[] = [];
      for (const item of items) {
        const view = this.openView(item);
        if (!view) continue;
        found++;
        const key = JSON.stringify(view);
        if (this.lastOpen.get(view.sensorId) === key) continue;
        this.lastOpen.set(view.sensorId, key);
        events.push({ kind: 'open', open: view });
      }
      sink.push(events);
    }
    return found;
  }

  /** The items of a scan, page by page (the SDK's paginator), until its last page or `stop()`. */
  private async *pages(input: ScanCommandInput): AsyncGenerator<Record<string, unknown>[]> {
    for await (const page of paginateScan({ client: this.opts.clients.doc }, input)) {
      yield page.Items ?? [];
      if (this.stopped) return;
    }
  }

  private openView(item: Record<string, unknown>): OpenWindowView | undefined {
    const sensorId = String(item.sensorId);
    let state: SensorState;
    try {
      if (typeof item.body !== 'string') throw new Error('it has no body');
      state = fromBody(sensorId, Number(item.version), item.body);
    } catch (err) {
      if (this.badStates++ < 10) {
        this.opts.log?.(
          `dashboard: skipped the state of sensor ${sensorId}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      return undefined;
    }
    const newest = newestOpenWindow(state, this.opts.percentiles);
    if (!newest) return undefined;
    return {
      sensorId,
      ...newest,
      ...(typeof item.updatedAt === 'number' ? { asOf: item.updatedAt } : {}),
      ...(item.carriedBy !== undefined ? { carried: true } : {}),
    };
  }

  /** Windows whose `attribute` is at least `since`, pushed page by page; returns how many. */
  private async scan(
    sink: DashboardSink,
    filter: { attribute: string; since: number },
    max: number,
  ): Promise<number> {
    let pushed = 0;
    for await (const items of this.pages({
      TableName: this.opts.resources.resultsTable,
      FilterExpression: '#a >= :since',
      ExpressionAttributeNames: { '#a': filter.attribute },
      ExpressionAttributeValues: { ':since': filter.since },
    })) {
      const windows = [];
      for (const item of items) {
        const parsed = parseFinalWindow(item);
        if ('window' in parsed) windows.push({ kind: 'window' as const, window: parsed.window });
        else if (this.badRecords++ < 10)
          this.opts.log?.(`dashboard: skipped a results table item: ${parsed.error}`);
      }
      sink.push(windows);
      pushed += windows.length;
      if (pushed >= max) {
        this.opts.log?.(`dashboard: stopped the initial scan at ${pushed} windows (--max-windows)`);
        break;
      }
    }
    return pushed;
  }

  /** Sleeps, but not past `stop()`. */
  private pause(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: this.stopping.signal }).catch(() => {});
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    await Promise.all([this.loop, this.alarmsLoop, this.openLoop]);
  }
}
