/**
 * `npm start`: the local cloud, a simulated sensor fleet, the real handler behind the local
 * event source mapping, and a live view of what comes out (see START_HELP in args.ts).
 *
 * Shutdown. Ctrl-C / SIGTERM (`handleShutdownSignals`) stop the producer, the monitor, the
 * mapping and the emulators, print the summary and exit 130 / 143; `--duration` runs the
 * same steps and exits 0. In every case kinesis-local is gone before the process exits.
 */
import type { WindowpaneConfig } from '../../functions/domain/config.js';
import { ALARMS_TABLE, RULES_TABLE } from '../../functions/lib/resources.js';
import { sleep } from '../../functions/lib/retry.js';
import { removeLocalCloudFile, writeLocalCloudFile } from '../alarms/target.js';
import { demoFaults, demoRules, withDemoRules } from '../anomaly-demo.js';
import { formatFaultCounter, reshardTo } from '../chaos/index.js';
import { loadProjectConfig } from '../config.js';
import { localAlarmActions } from '../dashboard/alarm-actions.js';
import { type LocalDashboard, serveLocalDashboard } from '../dashboard/live.js';
import { type LocalPipeline, startLocalPipeline } from '../pipeline/index.js';
import { putRecordsInOrder } from '../put-in-order.js';
import { createSimulator, PATTERN_FAULT_RULES } from '../simulator.js';
import { parseStartArgs, START_HELP, type StartOptions } from './args.js';
import {
  exitUnlessSignalled,
  handleShutdownSignals,
  quietHandlerOutput,
  reportFailure,
  signalShutdownStarted,
} from './common.js';
import { LiveMonitor } from './monitor.js';
import { type StartIngest, startIngest } from './start-ingest.js';
import {
  ANSI,
  elapsed,
  formatAlarms,
  formatCounters,
  formatCurrent,
  formatEvent,
  renderScreen,
} from './view.js';

const HINT = 'run `npm start -- --help` for usage';
/** The start-up burst of past event time is capped so that it takes seconds, not minutes. */
const MAX_BACKFILL_RECORDS = 20_000;
const POLL_MS = 1_000;
const REDRAW_MS = 500;
const STATUS_EVERY_MS = 5_000;
const CURRENT_EVERY_MS = 15_000;
/** Chaos mode reshards the stream up after this long, and back down after twice this. */
const CHAOS_RESHARD_AFTER_MS = 30_000;

/** The tumbling (or sliding) size the simulator shapes its disorder for. */
function shapingWindowMs(config: WindowpaneConfig): number {
  for (const w of config.windows) if ('sizeMs' in w) return w.sizeMs;
  return 60_000;
}

function describeWindows(config: WindowpaneConfig): string {
  return config.windows
    .map((w) =>
      w.type === 'session'
        ? `session windows (gap ${w.gapMs / 1000} s)`
        : w.type === 'sliding'
          ? `sliding ${w.sizeMs / 1000} s windows every ${w.slideMs / 1000} s`
          : `tumbling ${w.sizeMs / 1000} s windows`,
    )
    .join(', ');
}

/**
 * The simulator's pattern faults and the alarm-mode rules they exercise (A-K6..A-K8), so
 * `npm start` shows every rule kind; only with the metric they read, and never replacing a
 * configured rule of the same name.
 */
function withPatternFaultRules(config: WindowpaneConfig): WindowpaneConfig {
  if (!config.metrics.includes('temperature')) return config;
  const names = new Set(config.rules.map((r) => r.name));
  if (PATTERN_FAULT_RULES.some((r) => names.has(r.name))) return config;
  return { ...config, rules: [...config.rules, ...PATTERN_FAULT_RULES] };
}

function backfillFor(opts: StartOptions, windowMs: number): { ms: number; capped: boolean } {
  const wanted = opts.backfillMs ?? 2 * windowMs;
  const perSecond = opts.sensors * opts.rateHz;
  const cap = Math.floor((MAX_BACKFILL_RECORDS / perSecond) * 1000);
  return wanted > cap ? { ms: cap, capped: true } : { ms: wanted, capped: false };
}

async function main(): Promise<number> {
  const opts = parseStartArgs(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(`${START_HELP}\n`);
    return 0;
  }
  // Chaos mode makes the handler log every injected failure; they are expected, not news.
  if (opts.chaosSeed !== undefined && !opts.verbose) process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  quietHandlerOutput();
  let run: LiveRun | undefined;
  let pipeline: LocalPipeline | undefined;
  handleShutdownSignals(async (signal) => {
    if (run) await run.shutdown(signal);
    else await pipeline?.stop();
  });
  const tty = process.stdout.isTTY === true;
  const out = (line: string) => process.stdout.write(`${line}\n`);

  const loaded = loadProjectConfig(opts.windowMs !== undefined ? { windowSizeMs: opts.windowMs } : {});
  const { source } = loaded;
  // The demo's rules join the configured ones (--no-anomalies leaves both demos out): the
  // anomaly kinds' (zscore, ewma, rate) and the pattern kinds' (n-of-m, sequence, absence).
  // Their faults start with the fleet below.
  const demoRuleSet = opts.anomalies ? demoRules(opts.sensors, opts.rateHz) : [];
  const withPatterns = opts.anomalies ? withPatternFaultRules(loaded.config) : loaded.config;
  const patternFaults = withPatterns !== loaded.config;
  const config: WindowpaneConfig = {
    ...withPatterns,
    rules: withDemoRules(withPatterns.rules, demoRuleSet),
  };
  const windowMs = shapingWindowMs(config);
  const backfill = backfillFor(opts, windowMs);
  const header =
    `windowpane local pipeline: ${opts.sensors} sensors x ${opts.rateHz} Hz (seed ${opts.seed}), ` +
    `${describeWindows(config)}, allowed lateness ${config.allowedLatenessMs / 1000} s`;
  out(header);
  out(`configuration: ${source}`);
  if (demoRuleSet.length > 0) {
    const list = demoRuleSet.map((r) => `${r.name} (${r.type}) on ${(r.scope as { sensor: string }).sensor}`);
    out(`anomaly demo (--no-anomalies to leave out): ${list.join(', ')}`);
  }
  if (patternFaults) {
    out(
      'pattern faults, every 15 min of event time: sensor_1 a burst (burst, n-of-m), ' +
        'sensor_2 cold then hot (cold-then-hot, sequence), sensor_3 silent 6.5 min (sensor-silent, absence)',
    );
  }
  const dashboard: LocalDashboard | undefined = opts.dashboard
    ? await serveLocalDashboard({ label: header, open: opts.open, withActions: true, log: out })
    : undefined;
  if (dashboard) out(`dashboard: ${dashboard.url}`);
  out('starting the local cloud (kinesis-local, dynalite, fauxqs)...');

  let monitor: LiveMonitor | undefined;
  pipeline = await startLocalPipeline({
    config,
    log: out,
    ...(opts.verbose ? { debug: out } : {}),
    onBatch: (info) => {
      monitor?.onBatch(info);
      dashboard?.onBatch(info);
    },
    // As deployed: silent sensors' windows are flushed after idleTimeoutMs of processing time.
    idleSweep: true,
    ...(opts.chaosSeed !== undefined ? { chaos: { seed: opts.chaosSeed } } : {}),
  });
  const e = pipeline.endpoints;
  out(
    `emulators: kinesis-local pid ${pipeline.kinesisPid} at ${e?.kinesis}, dynalite at ${e?.dynamodb}, ` +
      `fauxqs (SNS, SQS) at ${e?.sns}`,
  );
  const rulesTable = pipeline.resources.tables.find((t) => t.def.id === RULES_TABLE.id);
  if (rulesTable) {
    // The table starts empty: the configured rules are its seed (docs/SEMANTICS.md A-R3).
    out(
      `rules at runtime: npm run rules -- list --endpoint ${pipeline.clientOptions.endpoints?.dynamodb} ` +
        `--table ${rulesTable.name} (applied within ${config.alarms.rulesRefreshMs / 1000} s of a change)`,
    );
  }

  // `npm run alarms` finds this local cloud through this file while we run.
  const alarmsTable = pipeline.resources.tables.find((t) => t.def.id === ALARMS_TABLE.id);
  if (e) {
    writeLocalCloudFile({
      region: pipeline.clientOptions.region ?? 'us-east-1',
      endpoints: e,
      streamName: pipeline.resources.stream.name,
      ...(alarmsTable ? { alarmsTable: alarmsTable.name } : {}),
    });
    process.on('exit', () => removeLocalCloudFile());
  }

  const ingest = await startIngest(opts, pipeline, out);
  const sensorIds = Array.from({ length: opts.sensors }, (_, i) => `sensor_${i + 1}`);
  monitor = new LiveMonitor(pipeline, sensorIds);
  // The buttons act as `npm run alarms` does: a control record on the stream, applied by the fold.
  const actions = localAlarmActions(pipeline);
  dashboard?.attach(pipeline, monitor, actions);
  const startedAt = Date.now();
  const startMs =
    backfill.ms > 0 ? Math.floor((startedAt - backfill.ms) / windowMs) * windowMs : Math.floor(startedAt);
  const simulator = createSimulator({
    sensors: opts.sensors,
    rateHz: opts.rateHz,
    seed: opts.seed,
    startMs,
    windowMs,
    allowedLatenessMs: config.allowedLatenessMs,
    ...(opts.anomalies ? { faults: demoFaults(startMs, opts.sensors, opts.rateHz) } : {}),
    patternFaults,
  });

  const live = new LiveRun(pipeline, monitor, simulator, {
    // With the dashboard, a terminal keeps its scrollback (the URL) and shows status lines.
    mode: !tty ? 'lines' : dashboard ? 'status' : 'screen',
    header,
    startedAt,
    out,
    ingest,
    ...(dashboard ? { dashboard } : {}),
  });
  run = live;
  if (backfill.capped) {
    out(
      `notice: backfill cut to ${Math.round(backfill.ms / 1000)} s to stay under ${MAX_BACKFILL_RECORDS} records`,
    );
  }
  out(
    `pipeline running: ${backfill.ms > 0 ? `event time starts ${Math.round((startedAt - startMs) / 1000)} s in the past (backfill), then ` : ''}` +
      `${opts.sensors * opts.rateHz} readings/s in real time${opts.durationMs > 0 ? ` for ${opts.durationMs / 1000} s` : ''}. Ctrl-C to stop.`,
  );
  live.start();

  const ended = await Promise.race([
    live.failed,
    opts.durationMs > 0
      ? sleep(opts.durationMs).then(() => 'duration' as const)
      : new Promise<never>(() => {}),
  ]);
  if (ended === 'duration') {
    await live.shutdown('duration reached', true);
    return 0;
  }
  await live.shutdown('failed');
  throw ended;
}

interface RunView {
  /** `screen`: redrawn in place; `lines`: one line per event; `status`: counters only. */
  mode: 'screen' | 'lines' | 'status';
  dashboard?: LocalDashboard;
  ingest: StartIngest;
  header: string;
  startedAt: number;
  out: (line: string) => void;
}

/** The producer, monitor and view loops of one run, and its one shutdown. */
class LiveRun {
  private stopped = false;
  private readonly abort = new AbortController();
  private stopping: Promise<void> | undefined;
  private loops: Promise<void>[] = [];
  private redraw: NodeJS.Timeout | undefined;
  private fail: (err: unknown) => void = () => {};
  /** Settles only if a loop fails (the emulators died, ...). */
  readonly failed = new Promise<Error>((resolve) => {
    this.fail = (err) => resolve(err instanceof Error ? err : new Error(String(err)));
  });

  constructor(
    private readonly pipeline: LocalPipeline,
    private readonly monitor: LiveMonitor,
    private readonly simulator: ReturnType<typeof createSimulator>,
    private readonly view: RunView,
  ) {}

  start(): void {
    this.loops = [this.produce(), this.watch(), ...(this.pipeline.chaos ? [this.reshard()] : [])];
    if (this.view.mode === 'screen') {
      process.stdout.write(ANSI.hideCursor + ANSI.clearScreen);
      // A crash must not leave the terminal without a cursor.
      process.once('exit', () => process.stdout.write(ANSI.showCursor));
      this.redraw = setInterval(() => this.draw(), REDRAW_MS);
    }
  }

  private since(): number {
    return Date.now() - this.view.startedAt;
  }

  private async produce(): Promise<void> {
    const { kinesis } = this.pipeline.clients;
    const stream = this.pipeline.resources.stream.name;
    try {
      while (!this.stopped) {
        const due = this.simulator.next(Date.now());
        if (due.length === 0) {
          await sleep(20);
          continue;
        }
        const records = due.map((r, i) => ({
          line: i + 1,
          partitionKey: r.partitionKey,
          data: this.view.ingest.encode(r.data),
        }));
        await putRecordsInOrder(kinesis, stream, records, { abortSignal: this.abort.signal });
        this.monitor.snapshot.sent += records.length;
      }
    } catch (err) {
      if (!this.stopped) this.fail(err);
    }
  }

  /** Chaos mode: the stream to twice its shards and back, while the fleet keeps sending. */
  private async reshard(): Promise<void> {
    const chaos = this.pipeline.chaos;
    if (!chaos) return;
    const stream = this.pipeline.resources.stream.name;
    const base = this.pipeline.resources.stream.shardCount;
    const wait = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.abort.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    try {
      for (const target of [base * 2, base]) {
        await wait(CHAOS_RESHARD_AFTER_MS);
        if (this.stopped) return;
        await reshardTo(this.pipeline.clients, chaos.plan, stream, target, this.view.out);
      }
    } catch (err) {
      if (!this.stopped) this.fail(err);
    }
  }

  private async watch(): Promise<void> {
    let lastStatus = 0;
    let lastCurrent = 0;
    try {
      while (!this.stopped) {
        const polled = Date.now();
        const events = await this.monitor.poll(polled);
        this.view.dashboard?.observe(events, polled);
        await this.view.ingest.observe(events);
        if (this.view.mode !== 'screen') {
          const t = this.since();
          if (this.view.mode === 'lines') for (const e of events) this.view.out(formatEvent(e, t));
          if (polled - lastStatus >= STATUS_EVERY_MS) {
            lastStatus = polled;
            this.view.out(`[${elapsed(t)}] status  ${formatCounters(this.monitor.snapshot)}`);
            if (this.pipeline.chaos) {
              this.view.out(`[${elapsed(t)}] chaos   ${formatFaultCounter(this.pipeline.chaos)}`);
            }
          }
          if (
            this.view.mode === 'lines' &&
            polled - lastCurrent >= CURRENT_EVERY_MS &&
            this.monitor.snapshot.current.size > 0
          ) {
            lastCurrent = polled;
            for (const line of formatCurrent(this.monitor.snapshot, t)) this.view.out(line);
            for (const line of formatAlarms(this.monitor.snapshot, t)) this.view.out(line);
          }
        }
        await sleep(Math.max(0, POLL_MS - (Date.now() - polled)));
      }
    } catch (err) {
      if (!this.stopped) this.fail(err);
    }
  }

  private draw(): void {
    const size = { columns: process.stdout.columns ?? 100, rows: process.stdout.rows ?? 30 };
    const lines = renderScreen(this.monitor.snapshot, this.view.header, this.since(), size);
    if (this.pipeline.chaos) lines.splice(1, 0, formatFaultCounter(this.pipeline.chaos));
    process.stdout.write(
      ANSI.home + lines.map((l) => l + ANSI.clearLine).join('\n') + ANSI.clearLine + ANSI.clearBelow,
    );
  }

  /** Stops everything once; safe to call from the signal hook and the duration timer. */
  shutdown(reason: string, drain = false): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      // A Ctrl-C from a terminal reaches kinesis-local too (same process group), which may
      // then stop answering: nothing here waits for it.
      this.abort.abort();
      if (this.redraw) clearInterval(this.redraw);
      await Promise.all(this.loops);
      await this.view.ingest.stopInput().catch((err: Error) => this.view.out(`notice: ${err.message}`));
      if (drain) {
        // A run that ends by itself shows everything it sent: let the mapping catch up
        // (bounded) and read the sinks once more.
        await this.pipeline.mapping.drain({ timeoutMs: 5_000 }).catch(() => {});
        const events = await this.monitor.poll().catch(() => []);
        this.view.dashboard?.observe(events);
        await this.view.ingest.observe(events).catch(() => {});
        if (this.view.mode === 'lines') for (const e of events) this.view.out(formatEvent(e, this.since()));
      }
      await this.view.dashboard?.close();
      await this.view.ingest.close().catch((err: Error) => this.view.out(`notice: ${err.message}`));
      if (this.view.mode === 'screen') {
        this.draw();
        process.stdout.write(`\n${ANSI.showCursor}`);
      }
      const s = this.monitor.snapshot;
      const secs = this.since() / 1000;
      const chaosLine = this.pipeline.chaos ? formatFaultCounter(this.pipeline.chaos) : undefined;
      await this.pipeline.stop();
      if (chaosLine) this.view.out(`summary: ${chaosLine}`);
      this.view.out(`stopped (${reason}) after ${secs.toFixed(1)} s; emulators stopped`);
      this.view.out(
        `summary: ${formatCounters(s).replace(/, throughput.*$/, '')}; ` +
          `average ${(s.processed / Math.max(secs, 0.001)).toFixed(1)} records/s`,
      );
    })();
    return this.stopping;
  }
}

main().then(exitUnlessSignalled, (error: unknown) => {
  if (!signalShutdownStarted()) process.exit(reportFailure('start', error, HINT));
});
