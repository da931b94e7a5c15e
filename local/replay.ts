/**
 * The replay contract of docs/SEMANTICS.md, callable in-process (tests) and from the CLI
 * (`local/cli/replay.ts`): every line of the input, in file order, becomes one record on
 * the stream; the real handler runs through the local event source mapping until the
 * stream is drained; open windows are flushed; four JSONL files are written.
 *
 * Lines. A line ends at "\n" (a "\r" right before it belongs to the terminator), so a
 * final newline does not make an extra record, while an empty line in the middle is an
 * (invalid, reason `empty`) record of zero bytes. The bytes of a line are sent as they are.
 *
 * Partition keys. Per-sensor order is what the semantics depend on (watermarks, lateness,
 * delta rules), and Kinesis keeps order per shard, so each line is keyed by its sensor id
 * (`sensorId`, else `sensor_id`) when it parses, and by one fixed key otherwise. Records
 * that do not parse can never be readings, so where they go does not change any output.
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
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type KinesisClient,
  PutRecordsCommand,
  type PutRecordsCommandOutput,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import type { Transition } from '../functions/domain/alarms/transition.js';
import type { WindowpaneConfig } from '../functions/domain/config.js';
import { WindowpaneError } from '../functions/domain/errors.js';
import type { Alert } from '../functions/domain/rules.js';
import type { FinalWindow, LateReading } from '../functions/domain/state.js';
import type { ClientOptions, ClientTimeouts } from '../functions/lib/clients.js';
import type { InvalidRecordMessage } from '../functions/lib/effects.js';
import { BACKOFF, backoffDelay, sleep as defaultSleep } from '../functions/lib/retry.js';
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
import { AvroReadingEncoder } from './registry/avro-producer.js';
import { encodeRecords, lineIndex, type ReplayFormat } from './replay-formats.js';
import { readRulesFile } from './rules/rules-file.js';
import type { WindowLine } from './window-lines.js';

/** The input cannot be read, or holds a line too large for a Kinesis record. */

/**
 * How long the drain may go without one more record processed or discarded before the
 * replay fails (`DrainStalledError`): five times the local handler's 60 s timeout, since a
 * timed-out batch is bisected and retried (SEMANTICS.md "Bounds": a backlog is slow on an
 * emulator, never stuck). `--drain-timeout` adds an overall bound.
 */
export const DRAIN_STALL_MS = 300_000;
export class ReplayInputError extends WindowpaneError {}

export class OutputDirError extends WindowpaneError {}

export class ReplaySendError extends WindowpaneError {}

/** Partition key of lines that are not JSON objects with a usable sensor id. */
export const UNPARSED_PARTITION_KEY = 'windowpane-unparsed-lines';

/** Kinesis limits (PutRecords API reference): 500 records and 5 MiB a request, 1 MiB a record. */
export const PUT_RECORDS_MAX_ENTRIES = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;
export const MAX_RECORD_BYTES = 1024 * 1024;
/** Kinesis partition keys are 1 to 256 characters. */
const MAX_PARTITION_KEY_LENGTH = 256;

export const OUTPUT_FILES = {
  windows: 'windows.jsonl',
  alerts: 'alerts.jsonl',
  late: 'late.jsonl',
  invalid: 'invalid.jsonl',
  alarms: 'alarms.jsonl',
} as const;

/** Splits input bytes into records, as described in the module header. */
export function splitLines(data: Uint8Array): Buffer[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const lines: Buffer[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    const end = nl > start && buf[nl - 1] === 0x0d ? nl - 1 : nl;
    lines.push(buf.subarray(start, end));
    start = nl + 1;
  }
  if (start < buf.length) lines.push(buf.subarray(start));
  return lines;
}

// Non-fatal and BOM-stripping, like the handler's decoder: a line the handler can read as a
// reading is always keyed by its sensor id.
const utf8 = new TextDecoder('utf-8');

export function partitionKeyOf(line: Uint8Array): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(line));
  } catch {
    return UNPARSED_PARTITION_KEY;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return UNPARSED_PARTITION_KEY;
  const obj = parsed as Record<string, unknown>;
  const id = typeof obj.sensorId === 'string' ? obj.sensorId : obj.sensor_id;
  // A sensor whose id cannot be a key still gets one fixed key for all its lines: order kept.
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_PARTITION_KEY_LENGTH) {
    return UNPARSED_PARTITION_KEY;
  }
  return id;
}

export interface ReplayRecord {
  /** 1-based line number in the input. */
  line: number;
  partitionKey: string;
  data: Uint8Array;
}

/** Records for `lines`; a line too large for one Kinesis record fails the whole replay up front. */
export function toRecords(lines: readonly Uint8Array[]): ReplayRecord[] {
  return lines.map((data, i) => {
    const partitionKey = partitionKeyOf(data);
    const bytes = data.byteLength + Buffer.byteLength(partitionKey);
    if (bytes > MAX_RECORD_BYTES) {
      throw new ReplayInputError(
        `line ${i + 1} is ${data.byteLength} bytes; a Kinesis record holds at most 1 MiB (data and partition key)`,
      );
    }
    return { line: i + 1, partitionKey, data };
  });
}

/** Reads the whole input: a file path, or `-` for standard input. */
export async function readInput(
  input: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<{ lines: Buffer[]; source: string; bytes: number }> {
  let data: Buffer;
  if (input === '-') {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    } catch (err) {
      throw new ReplayInputError(`cannot read standard input: ${(err as Error).message}`);
    }
    data = Buffer.concat(chunks);
  } else {
    try {
      const info = await stat(input);
      if (info.isDirectory()) throw new ReplayInputError(`input ${input} is a directory, not a file`);
      data = await readFile(input);
    } catch (err) {
      if (err instanceof ReplayInputError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new ReplayInputError(`cannot read input ${input}: ${why}`);
    }
  }
  return {
    lines: splitLines(data),
    source: input === '-' ? 'standard input' : input,
    bytes: data.byteLength,
  };
}

/** Creates DIR if needed and checks that files can be written in it. */
export async function prepareOutputDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const info = await stat(dir);
    if (!info.isDirectory()) throw new OutputDirError(`output ${dir} exists and is not a directory`);
    await access(dir, fsConstants.W_OK);
  } catch (err) {
    if (err instanceof OutputDirError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EACCES' || code === 'EROFS'
        ? 'not writable'
        : code === 'EEXIST' || code === 'ENOTDIR'
          ? 'a path component is a file'
          : (err as Error).message;
    throw new OutputDirError(`cannot write to output directory ${dir}: ${why}`);
  }
}

// ---------------------------------------------------------------------------------------
// Sending in order
// ---------------------------------------------------------------------------------------

export interface SendResult {
  /** `<shardId>:<sequenceNumber>` of every record, by input line (index = line - 1). */
  ids: string[];
  /** Entries sent again after PutRecords reported them failed. */
  retried: number;
  /**
   * Keys whose order a partial failure broke: an entry failed while a later entry of the
   * same key in the same request succeeded. Kinesis cannot undo that, so it is reported.
   */
  reorderedKeys: string[];
}

export interface SendOptions {
  /**
   * Attempts of a failed entry before the replay fails (default 20, more than
   * BACKOFF.failedEntries' 9: a replay cannot hand its records to anyone else, and a
   * throttled stream recovers; the delays follow that policy).
   */
  maxAttempts?: number;
  onProgress?: (sent: number) => void;
  sleep?: (ms: number) => Promise<void>;
  /** Cancels the request in flight (shutdown must not wait for a stream that stopped answering). */
  abortSignal?: AbortSignal;
  /** The clock that times each request (tests). */
  now?: () => number;
}

/**
 * A PutRecords answered slower than this halves the next request's entries (down to
 * `SEND_MIN_ENTRIES`); one answered in under a fifth of it doubles them (up to the API's
 * 500). kinesis-local's cost per record grows with the records already on the shard (a
 * request of 500 took 0.5 s on an empty shard and 5.7 s on one of 15,000, on an idle
 * machine), so a one-sensor backlog on a busy machine would otherwise pass the SDK's 30 s
 * request timeout; real Kinesis answers in milliseconds and keeps the 500.
 */
export const SEND_TARGET_MS = 5_000;
export const SEND_MIN_ENTRIES = 25;

/**
 * PutRecords in file order: one request at a time (so a later request never overtakes an
 * earlier one), at most 500 entries and 5 MiB each, fewer while the stream answers slowly
 * (`SEND_TARGET_MS`). Entries a response reports failed
 * (throttled, internal error) are sent again, only them and in their original order: sending
 * again entries that had succeeded would put a second copy of them on the stream, with new
 * sequence numbers the handler cannot recognise, and count those readings twice.
 */
export async function putRecordsInOrder(
  kinesis: KinesisClient,
  streamName: string,
  records: readonly ReplayRecord[],
  opts: SendOptions = {},
): Promise<SendResult> {
  const maxAttempts = opts.maxAttempts ?? 20;
  const sleep = opts.sleep ?? defaultSleep;
  const ids: string[] = new Array(records.length);
  const reordered = new Set<string>();
  const now = opts.now ?? Date.now;
  let retried = 0;
  let sent = 0;
  let i = 0;
  let limit = PUT_RECORDS_MAX_ENTRIES;
  while (i < records.length) {
    let bytes = 0;
    const chunk: ReplayRecord[] = [];
    while (i < records.length && chunk.length < limit) {
      const r = records[i]!;
      const size = r.data.byteLength + Buffer.byteLength(r.partitionKey);
      if (chunk.length > 0 && bytes + size > PUT_RECORDS_MAX_BYTES) break;
      chunk.push(r);
      bytes += size;
      i++;
    }
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const entries: PutRecordsRequestEntry[] = pending.map((r) => ({
        PartitionKey: r.partitionKey,
        Data: r.data,
      }));
      let out: PutRecordsCommandOutput;
      try {
        const started = now();
        out = await kinesis.send(
          new PutRecordsCommand({ StreamName: streamName, Records: entries }),
          opts.abortSignal ? { abortSignal: opts.abortSignal } : {},
        );
        const took = now() - started;
        if (took > SEND_TARGET_MS) limit = Math.max(SEND_MIN_ENTRIES, Math.floor(limit / 2));
        else if (took < SEND_TARGET_MS / 5) limit = Math.min(PUT_RECORDS_MAX_ENTRIES, limit * 2);
      } catch (err) {
        // The SDK already retried throttling and transient errors of the whole request.
        throw new ReplaySendError(
          `PutRecords to ${streamName} failed at line ${pending[0]!.line}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const results = out.Records ?? [];
      if (results.length !== pending.length) {
        throw new ReplaySendError(
          `PutRecords answered ${results.length} results for ${pending.length} records`,
        );
      }
      const failed: ReplayRecord[] = [];
      const failedKeys = new Set<string>();
      let lastError = '';
      results.forEach((res, k) => {
        const r = pending[k]!;
        if (res.ErrorCode) {
          failed.push(r);
          failedKeys.add(r.partitionKey);
          lastError = `${res.ErrorCode}: ${res.ErrorMessage ?? ''}`;
        } else {
          if (failedKeys.has(r.partitionKey)) reordered.add(r.partitionKey);
          ids[r.line - 1] = `${res.ShardId}:${res.SequenceNumber}`;
          sent++;
        }
      });
      opts.onProgress?.(sent);
      if (failed.length === 0) break;
      if (attempt >= maxAttempts) {
        throw new ReplaySendError(
          `${failed.length} record(s) from line ${failed[0]!.line} still failed after ${attempt} attempts (${lastError})`,
        );
      }
      retried += failed.length;
      pending = failed;
      await sleep(backoffDelay(attempt, BACKOFF.failedEntries));
    }
  }
  return { ids, retried, reorderedKeys: [...reordered] };
}

// ---------------------------------------------------------------------------------------
// The replay
// ---------------------------------------------------------------------------------------

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
