/**
 * The replay contract of docs/SEMANTICS.md, callable in-process (tests) and from the CLI
 * (`local/cli/replay.ts`): every line of the input, in file order, becomes one record on
 * the stream; the real handler runs through the local event source mapping until the
 * stream is drained; open windows are flushed; five JSONL files are written.
 *
 * Its input (lines as records, keyed by sensor) is local/replay-input.ts; sending them in
 * order is local/put-in-order.ts.
 *
 * Outputs, and why these orders: every field used is data, not run-specific (sequence
 * numbers and shard ids differ between runs), so two runs of one file give identical files.
 * - windows.jsonl: one line per (final window, metric), by sensorId, windowStart, metric.
 * - alerts.jsonl: alert bodies as SNS delivered them, once per alertId, by timestamp,
 *   sensorId, rule.
 * - late.jsonl / invalid.jsonl: the queue bodies, once per id, identified by `line` (the
 *   1-based line in the input, known from PutRecords' answers) instead of their stream
 *   position, sorted by line: file order.
 * - alarms.jsonl: alarm transitions, once per transitionId, with the `line` of the reading
 *   that caused them instead of its stream position, by line, rule, seq; empty when no
 *   rule is in mode alarm.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Transition } from '../functions/domain/alarms/transition.js';
import type { WindowpaneConfig } from '../functions/domain/config.js';
import type { Alert } from '../functions/domain/rules.js';
import type { FinalWindow, LateReading } from '../functions/domain/state.js';
import type { ClientOptions, ClientTimeouts } from '../functions/lib/clients.js';
import type { InvalidRecordMessage } from '../functions/lib/effects.js';
import {
  type ChaosOptions,
  type ChaosSummary,
  checkReshardContract,
  formatChaosSummary,
  reshardLeftOutNotice,
  reshardPoints,
  reshardTo,
} from './chaos/index.js';
import type { StackTarget } from './deploy/stack-target.js';
import { LakeWriter } from './lake/lake-writer.js';
import { TRANSITIONS_TABLE, WINDOWS_TABLE } from './lake/tables.js';
import { type LocalPipeline, startLocalPipeline } from './pipeline/index.js';
import { putRecordsInOrder, ReplaySendError, type SendResult } from './put-in-order.js';
import { AvroReadingEncoder } from './registry/avro-producer.js';
import { encodeRecords, lineIndex, type ReplayFormat } from './replay-formats.js';
import { OutputDirError, prepareOutputDir, type ReplayRecord, readInput, toRecords } from './replay-input.js';
import { readRulesFile } from './rules/rules-file.js';
import type { WindowLine } from './window-lines.js';

/**
 * How long the drain may go without one more record processed or discarded before the
 * replay fails (`DrainStalledError`): five times the local handler's 60 s timeout, since a
 * timed-out batch is bisected and retried (SEMANTICS.md "Bounds": a backlog is slow on an
 * emulator, never stuck). `--drain-timeout` adds an overall bound.
 */
export const DRAIN_STALL_MS = 300_000;

export const OUTPUT_FILES = {
  windows: 'windows.jsonl',
  alerts: 'alerts.jsonl',
  late: 'late.jsonl',
  invalid: 'invalid.jsonl',
  alarms: 'alarms.jsonl',
} as const;

export interface ReplayRunOptions {
  /** A file path or `-` (standard input). */
  input: string;
  outDir: string;
  config: WindowpaneConfig;
  /** Run against this endpoint instead of starting the embedded emulators. */
  target?: ClientOptions;
  prefix?: string;
  deleteResourcesOnStop?: boolean;
  resourceSource?: 'auto' | 'config';
  cdkOut?: string;
  /** Run on a deployed stack's resources with its bundled handler (`--stack`; needs `target`). */
  stack?: StackTarget;
  /**
   * A rules file (`--rules`): its rules replace the configured ones for this run, validated
   * as `npm run rules -- put` validates them (docs/SEMANTICS.md A-R6). Not with `stack`.
   */
  rulesFile?: string;
  /** Default: 2 minutes plus 1 s per 200 records. */
  drainTimeoutMs?: number;
  /** Each AWS request's limits (default LOCAL_TIMEOUTS). */
  timeouts?: Partial<ClientTimeouts>;
  /** Budget of the set-up steps, and what to say when it runs out (see startLocalPipeline). */
  setupTimeoutMs?: number;
  setupTimeoutHint?: string;
  stdin?: NodeJS.ReadableStream;
  /** Progress lines (`sent N/M, processed K`), about once a second. */
  progress?: (line: string) => void;
  progressIntervalMs?: number;
  log?: (line: string) => void;
  debug?: (line: string) => void;
  /** Called once the pipeline runs (the CLI registers its shutdown hook here). */
  onStarted?: (pipeline: LocalPipeline) => void;
  /**
   * Chaos mode (`--chaos SEED`): faults injected from the seed, and the stream resharded to
   * twice its shard count after a third of the records and back after two thirds.
   */
  chaos?: ChaosOptions;
  /** The wire format the lines are sent in (replay-formats.ts; default json). */
  format?: ReplayFormat;
  /** Also write the final windows and alarm transitions as partitioned Parquet under this folder (local/lake). */
  lakeDir?: string;
}

/**
 * A late reading as `late.jsonl` has it: identified by its input line, without its stream
 * position (shard, sequence number), which differs from run to run.
 */
export interface LateLine extends Omit<LateReading, 'id'> {
  line: number;
}

/** An invalid record as `invalid.jsonl` has it: by input line, without stream position. */
export interface InvalidLine
  extends Omit<InvalidRecordMessage, 'id' | 'shardId' | 'sequenceNumber' | 'approximateArrivalTimestamp'> {
  line: number;
}

/** A transition as `alarms.jsonl` has it: `line` first, without `recordId`. */
export type AlarmLine = { line: number } & Omit<Transition, 'recordId'>;

export interface ReplayOutputs {
  windows: WindowLine[];
  alerts: Alert[];
  late: LateLine[];
  invalid: InvalidLine[];
  alarms: AlarmLine[];
}

export interface ReplaySummary {
  source: string;
  outDir: string;
  records: number;
  /** Valid readings (on time or late). */
  readings: number;
  /** Distinct final windows (windows.jsonl has one line per metric of each). */
  windows: number;
  windowLines: number;
  alerts: number;
  /** Alarm transitions (alarms.jsonl lines). */
  alarms: number;
  late: number;
  invalid: number;
  /** Records the mapping gave up on (sent to its on-failure queue): outputs are incomplete. */
  discarded: number;
  retried: number;
  reorderedKeys: string[];
  sendMs: number;
  wallMs: number;
  planSource: string;
  outputs: ReplayOutputs;
  /** Alert messages the tap received, repeats included (`alerts` counts distinct alertIds). */
  alertMessages: number;
  /** One entry per extra copy of an alert the tap received (SNS is at-least-once). */
  repeatedAlertIds: string[];
  /**
   * One entry per extra publish of an alert: a copy with an SNS MessageId not seen before
   * for its alertId (the rest of `repeatedAlertIds` are one publish delivered twice).
   */
  republishedAlertIds: string[];
  /** The same three for alarm transitions (by transitionId). */
  transitionMessages: number;
  repeatedTransitionIds: string[];
  republishedTransitionIds: string[];
  /** Chaos mode's figures. */
  chaos?: ChaosSummary;
  /** With `lakeDir`: the Parquet files and rows written, and the rows of each table. */
  lake?: { dir: string; files: number; rows: number; tables: { windows: number; transitions: number } };
}

function byLine<T extends { line: number }>(a: T, b: T): number {
  return a.line - b.line;
}

function repeats(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const extra: string[] = [];
  for (const id of ids) {
    if (seen.has(id)) extra.push(id);
    else seen.add(id);
  }
  return extra;
}

/** One entry per extra publish of an id: a copy with an SNS MessageId not seen before for it. */
function republished(ids: readonly string[], messageIds: readonly string[]): string[] {
  const publishes = new Map<string, Set<string>>();
  ids.forEach((id, i) => {
    const seen = publishes.get(id) ?? new Set<string>();
    seen.add(messageIds[i] ?? '');
    publishes.set(id, seen);
  });
  return [...publishes].flatMap(([id, seen]) => Array<string>(seen.size - 1).fill(id));
}

function jsonl(items: readonly unknown[]): string {
  return items.map((i) => `${JSON.stringify(i)}\n`).join('');
}

export async function runReplay(opts: ReplayRunOptions): Promise<ReplaySummary> {
  const started = Date.now();
  // Everything that can fail without the cloud fails before it starts.
  if (opts.rulesFile !== undefined) {
    const rules = readRulesFile(opts.rulesFile, opts.config);
    opts.log?.(`rules: ${rules.length} from ${opts.rulesFile}, in place of the configured ones`);
    opts = { ...opts, config: { ...opts.config, rules } };
  }
  const input = await readInput(opts.input, opts.stdin);
  const records = toRecords(input.lines);
  await prepareOutputDir(opts.outDir);

  const pipeline = await startLocalPipeline({
    config: opts.config,
    ...(opts.target ? { target: opts.target } : {}),
    ...(opts.prefix ? { prefix: opts.prefix } : {}),
    ...(opts.deleteResourcesOnStop !== undefined
      ? { deleteResourcesOnStop: opts.deleteResourcesOnStop }
      : {}),
    ...(opts.resourceSource ? { resourceSource: opts.resourceSource } : {}),
    ...(opts.cdkOut ? { cdkOut: opts.cdkOut } : {}),
    ...(opts.stack ? { stack: opts.stack } : {}),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.debug ? { debug: opts.debug } : {}),
    ...(opts.chaos ? { chaos: opts.chaos } : {}),
    ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
    ...(opts.setupTimeoutMs !== undefined ? { setupTimeoutMs: opts.setupTimeoutMs } : {}),
    ...(opts.setupTimeoutHint ? { setupTimeoutHint: opts.setupTimeoutHint } : {}),
  });
  opts.onStarted?.(pipeline);

  let sent = 0;
  // Records on the stream: an aggregate (--format kpl) is one record of many lines.
  let toSend = records.length;
  const timer = opts.progress
    ? setInterval(() => {
        opts.progress?.(`sent ${sent}/${toSend}, processed ${pipeline.mapping.stats().records}`);
      }, opts.progressIntervalMs ?? 1_000)
    : undefined;
  try {
    const sendStarted = Date.now();
    const encoded = encodeRecords(
      records,
      opts.format ?? 'json',
      opts.format === 'avro'
        ? new AvroReadingEncoder({ registry: pipeline.schemaRegistry, metrics: opts.config.metrics })
        : undefined,
    );
    toSend = encoded.length;
    const result = await sendRecords(
      pipeline,
      encoded,
      (n) => {
        sent = n;
      },
      opts.log,
    );
    const sendMs = Date.now() - sendStarted;
    // Every record is on the stream: the last batches need not wait out the batching window.
    pipeline.mapping.inputComplete();
    await pipeline.mapping.drain({
      timeoutMs: opts.drainTimeoutMs ?? Number.POSITIVE_INFINITY,
      stallMs: DRAIN_STALL_MS,
    });
    await pipeline.flush();
    if (timer) clearInterval(timer);
    const collected = await pipeline.collect({ waitMs: pipeline.mode === 'endpoint' ? 1_000 : 500 });

    // The queues identify records by stream position (what consumers dedupe by); the
    // files identify them by input line, so two runs of one file give identical files.
    const lineOf = lineIndex(encoded, result.ids);
    const lineFor = (id: string): number => {
      const line = lineOf.get(id);
      if (line === undefined)
        throw new ReplaySendError(`a sink holds record ${id}, which this replay did not send`);
      return line;
    };
    const outputs: ReplayOutputs = {
      windows: collected.windows,
      alerts: collected.alerts,
      late: collected.late.map(({ id, ...rest }): LateLine => ({ ...rest, line: lineFor(id) })).sort(byLine),
      invalid: collected.invalid
        .map(
          ({
            id,
            shardId: _s,
            sequenceNumber: _q,
            approximateArrivalTimestamp: _a,
            ...rest
          }): InvalidLine => ({
            ...rest,
            line: lineFor(id),
          }),
        )
        .sort(byLine),
      alarms: collected.transitions
        .map(({ recordId, ...rest }): AlarmLine => {
          // Replay has no actions or sweeps: every transition was caused by a record.
          if (recordId === undefined)
            throw new ReplaySendError(`transition ${rest.transitionId} has no record that caused it`);
          return { line: lineFor(recordId), ...rest };
        })
        .sort((a, b) => a.line - b.line || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0) || a.seq - b.seq),
    };
    await Promise.all([
      writeFile(path.join(opts.outDir, OUTPUT_FILES.windows), jsonl(outputs.windows)),
      writeFile(path.join(opts.outDir, OUTPUT_FILES.alerts), jsonl(outputs.alerts)),
      writeFile(path.join(opts.outDir, OUTPUT_FILES.late), jsonl(outputs.late)),
      writeFile(path.join(opts.outDir, OUTPUT_FILES.invalid), jsonl(outputs.invalid)),
      writeFile(path.join(opts.outDir, OUTPUT_FILES.alarms), jsonl(outputs.alarms)),
    ]).catch((err: Error) => {
      throw new OutputDirError(`cannot write outputs to ${opts.outDir}: ${err.message}`);
    });

    const lake = opts.lakeDir
      ? await writeLake(opts.lakeDir, collected.finalWindows, collected.transitions)
      : undefined;
    const windows = new Set(
      outputs.windows.map((w) => `${w.sensorId}|${w.windowType}|${w.windowSizeMs}|${w.windowStart}`),
    );
    const discarded = pipeline.mapping.stats().discarded;
    return {
      source: input.source,
      outDir: opts.outDir,
      records: records.length,
      readings: records.length - outputs.invalid.length,
      windows: windows.size,
      windowLines: outputs.windows.length,
      alerts: outputs.alerts.length,
      alarms: outputs.alarms.length,
      late: outputs.late.length,
      invalid: outputs.invalid.length,
      discarded,
      retried: result.retried,
      reorderedKeys: result.reorderedKeys,
      sendMs,
      wallMs: Date.now() - started,
      planSource: pipeline.planSource,
      outputs,
      alertMessages: collected.alertMessages.length,
      repeatedAlertIds: repeats(collected.alertMessages.map((a) => a.alertId)),
      republishedAlertIds: republished(
        collected.alertMessages.map((a) => a.alertId),
        collected.alertMessageIds,
      ),
      transitionMessages: collected.transitionMessages.length,
      repeatedTransitionIds: repeats(collected.transitionMessages.map((t) => t.transitionId)),
      republishedTransitionIds: republished(
        collected.transitionMessages.map((t) => t.transitionId),
        collected.transitionMessageIds,
      ),
      ...(pipeline.chaos ? { chaos: pipeline.chaos.summary(pipeline.mapping.stats()) } : {}),
      ...(lake ? { lake } : {}),
    };
  } finally {
    if (timer) clearInterval(timer);
    await pipeline.stop();
  }
}

/** The final windows and alarm transitions as the lake's tables (Parquet, `dt=` partitions) under `dir`. */
async function writeLake(
  dir: string,
  finals: readonly FinalWindow[],
  transitions: readonly Transition[],
): Promise<NonNullable<ReplaySummary['lake']>> {
  const windows = new LakeWriter({ dir, table: WINDOWS_TABLE });
  for (const final of finals) await windows.append(final);
  await windows.close();
  const alarms = new LakeWriter({ dir, table: TRANSITIONS_TABLE });
  for (const t of transitions) await alarms.append(t);
  await alarms.close();
  return {
    dir,
    files: windows.stats.filesWritten + alarms.stats.filesWritten,
    rows: windows.stats.rowsWritten + alarms.stats.rowsWritten,
    tables: { windows: windows.stats.rowsWritten, transitions: alarms.stats.rowsWritten },
  };
}

/**
 * Sends the records in order; in chaos mode in three parts, resharding the stream up
 * between the first two and back down between the last two.
 */
async function sendRecords(
  pipeline: LocalPipeline,
  records: readonly ReplayRecord[],
  onProgress: (sent: number) => void,
  log?: (line: string) => void,
): Promise<SendResult> {
  const { kinesis } = pipeline.clients;
  const stream = pipeline.resources.stream.name;
  const chaos = pipeline.chaos;
  if (!chaos || records.length < 3) return putRecordsInOrder(kinesis, stream, records, { onProgress });
  if (pipeline.mode === 'endpoint') {
    // An endpoint we did not choose may not reshard as Kinesis does (moto): then the run
    // goes without the reshard fault rather than never draining.
    const contract = await checkReshardContract(pipeline.clients, `${stream}-reshard-probe`);
    if (!contract.conforms) {
      log?.(reshardLeftOutNotice(contract));
      return putRecordsInOrder(kinesis, stream, records, { onProgress });
    }
  }
  const [a, b] = reshardPoints(records.length);
  const base = pipeline.resources.stream.shardCount;
  const ids: string[] = new Array(records.length);
  let retried = 0;
  const reordered = new Set<string>();
  const parts: [number, number, number | undefined][] = [
    [0, a, base * 2],
    [a, b, base],
    [b, records.length, undefined],
  ];
  for (const [from, to, reshardAfter] of parts) {
    const part = await putRecordsInOrder(kinesis, stream, records.slice(from, to), {
      onProgress: (n) => onProgress(from + n),
    });
    for (const r of records.slice(from, to)) ids[r.line - 1] = part.ids[r.line - 1]!;
    retried += part.retried;
    for (const k of part.reorderedKeys) reordered.add(k);
    if (reshardAfter !== undefined) await reshardTo(pipeline.clients, chaos.plan, stream, reshardAfter, log);
  }
  return { ids, retried, reorderedKeys: [...reordered] };
}

/** The end-of-run summary the CLI prints (stderr). */
export function formatSummary(s: ReplaySummary): string[] {
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const rate = s.wallMs > 0 ? Math.round((s.records / s.wallMs) * 1000) : s.records;
  const lines = [
    `replayed ${s.records} records from ${s.source} in ${secs(s.wallMs)} (${rate} records/s; sending took ${secs(s.sendMs)})`,
    `  readings ${s.readings}, windows ${s.windows} (${s.windowLines} lines), alerts ${s.alerts}, alarms ${s.alarms}, late ${s.late}, invalid ${s.invalid}`,
    `  wrote ${Object.values(OUTPUT_FILES)
      .map((f) => path.join(s.outDir, f))
      .join(', ')}`,
  ];
  if (s.lake)
    lines.push(
      `  lake: ${s.lake.rows} rows in ${s.lake.files} Parquet file(s) under ${s.lake.dir} ` +
        `(windows ${s.lake.tables.windows}, transitions ${s.lake.tables.transitions})`,
    );
  if (s.retried > 0) lines.push(`  ${s.retried} record(s) were throttled and sent again`);
  if (s.alertMessages > s.alerts) {
    lines.push(
      `  ${s.alertMessages - s.alerts} repeated alert message(s) dropped by alertId (SNS is at-least-once)`,
    );
  }
  if (s.chaos) lines.push(...formatChaosSummary(s.chaos));
  if (s.reorderedKeys.length > 0) {
    lines.push(
      `  warning: a partial PutRecords failure changed the order of ${s.reorderedKeys.length} key(s): ${s.reorderedKeys.slice(0, 5).join(', ')}`,
    );
  }
  return lines;
}
