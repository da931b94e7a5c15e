/**
 * The local lake sink: items (final windows, alarm transitions) appended to a
 * table are written as Parquet files, Hive-partitioned by date, so DuckDB, pandas or
 * Athena can read the folder as one table:
 *
 *   <dir>/<table>/dt=YYYY-MM-DD/part-<runId>-<n>.parquet
 *
 * Parquet is written by hyparquet-writer (pure JavaScript, Snappy). Rows are buffered
 * and written when the buffer reaches `maxRows`, `maxAgeMs` after its first row, on
 * `flush()` and on `close()`; each write makes one new file per partition it touches
 * (files are never appended to or rewritten, as Firehose does too).
 *
 * Nothing is lost quietly: a file is written under a hidden temporary name and renamed
 * into place, so a reader never sees half a file, and rows leave the buffer only once
 * their file is in place. A failed write keeps the rows; `append`, `flush` and `close`
 * reject with a LakeWriteError (a failure of a timed write is reported by the next call),
 * and the next write tries them again.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parquetWriteBuffer, schemaFromColumnData } from 'hyparquet-writer';
import { WindowpaneError } from '../../functions/domain/errors.js';
import { type LakeColumn, type LakeRow, type LakeTable, type LakeValue, partitionDate } from './tables.js';

export interface LakeWriterOptions<T> {
  /** The lake's root folder; the table's files go under `<dir>/<table.name>/`. */
  dir: string;
  table: LakeTable<T>;
  /** Buffered rows that trigger a write. */
  maxRows?: number;
  /** Longest a row waits in the buffer before it is written. */
  maxAgeMs?: number;
  /** Prefix of this writer's file names (default: start time and random), unique per writer. */
  runId?: string;
}

export interface LakeWriterStats {
  rowsWritten: number;
  filesWritten: number;
  rowsBuffered: number;
}

export class LakeWriteError extends WindowpaneError {}

export class LakeClosedError extends WindowpaneError {
  constructor(table: string) {
    super(`lake writer for table ${table} is closed`);
  }
}

const DEFAULT_MAX_ROWS = 50_000;
const DEFAULT_MAX_AGE_MS = 60_000;

export class LakeWriter<T> {
  private readonly tableDir: string;
  private readonly table: LakeTable<T>;
  private readonly maxRows: number;
  private readonly maxAgeMs: number;
  private readonly runId: string;
  private buffer: LakeRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Writes run one at a time, in order. */
  private writing: Promise<void> = Promise.resolve();
  private pendingError: unknown;
  private closed = false;
  private fileSeq = 0;
  private readonly counts = { rowsWritten: 0, filesWritten: 0 };

  constructor(options: LakeWriterOptions<T>) {
    this.table = options.table;
    this.tableDir = path.join(options.dir, options.table.name);
    this.maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.runId = options.runId ?? `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  }

  get stats(): LakeWriterStats {
    return { ...this.counts, rowsBuffered: this.buffer.length };
  }

  /** Buffers the item's rows; resolves once they are buffered, or written when the buffer was full. */
  async append(item: T): Promise<void> {
    if (this.closed) throw new LakeClosedError(this.table.name);
    this.throwPending();
    this.buffer.push(...this.table.rows(item));
    if (this.buffer.length >= this.maxRows) {
      await this.flush();
    } else if (this.timer === undefined && this.buffer.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush().catch((err: unknown) => {
          this.pendingError ??= err;
        });
      }, this.maxAgeMs);
      this.timer.unref();
    }
  }

  /** Writes every buffered row. */
  flush(): Promise<void> {
    this.clearTimer();
    const run = this.writing.then(() => this.writeBuffered());
    // The chain continues after a failure; the failure goes to this caller.
    this.writing = run.catch(() => {});
    return run;
  }

  /** Writes what is buffered and refuses further appends. Rejects if rows could not be written. */
  async close(): Promise<void> {
    this.closed = true;
    this.pendingError = undefined;
    await this.flush();
  }

  private async writeBuffered(): Promise<void> {
    if (this.buffer.length === 0) return;
    const taken = this.buffer.length;
    const byDate = new Map<string, LakeRow[]>();
    for (const row of this.buffer.slice(0, taken)) {
      const dt = partitionDate(this.table.partitionTime(row));
      const rows = byDate.get(dt) ?? [];
      rows.push(row);
      byDate.set(dt, rows);
    }
    const written = new Set<string>();
    try {
      for (const [dt, rows] of byDate) {
        await this.writeFile(dt, rows);
        written.add(dt);
      }
    } catch (err) {
      // Keep the rows of partitions not written; the written ones are in place.
      const kept = this.buffer
        .slice(0, taken)
        .filter((row) => !written.has(partitionDate(this.table.partitionTime(row))));
      this.buffer = [...kept, ...this.buffer.slice(taken)];
      throw new LakeWriteError(
        `lake table ${this.table.name}: ${kept.length} rows not written (${(err as Error).message})`,
        { cause: err },
      );
    }
    this.buffer = this.buffer.slice(taken);
  }

  private async writeFile(dt: string, rows: LakeRow[]): Promise<void> {
    const dir = path.join(this.tableDir, `dt=${dt}`);
    const name = `part-${this.runId}-${String(this.fileSeq++).padStart(5, '0')}.parquet`;
    const temporary = path.join(dir, `.${name}.tmp`);
    const bytes = parquetWriteBuffer({
      schema: parquetSchema(this.table.columns),
      columnData: this.table.columns.map((c) => ({
        name: c.name,
        // hyparquet-writer takes INT64 values as bigint only.
        data: c.type === 'INT64' ? rows.map((r) => toBigInt(r[c.name])) : rows.map((r) => r[c.name] ?? null),
      })),
      codec: 'SNAPPY',
      createdBy: 'windowpane lake writer (hyparquet-writer)',
    });
    await mkdir(dir, { recursive: true });
    try {
      await writeFile(temporary, new Uint8Array(bytes));
      await rename(temporary, path.join(dir, name));
    } catch (err) {
      await rm(temporary, { force: true }).catch(() => {});
      throw err;
    }
    this.counts.rowsWritten += rows.length;
    this.counts.filesWritten++;
  }

  private throwPending(): void {
    if (this.pendingError === undefined) return;
    const err = this.pendingError;
    this.pendingError = undefined;
    throw err;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function toBigInt(value: LakeValue | undefined): bigint | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'number') throw new LakeWriteError(`an INT64 column holds ${JSON.stringify(value)}`);
  return BigInt(value);
}

type SchemaElement = ReturnType<typeof schemaFromColumnData>[number];

/**
 * The Parquet schema: scalar columns as hyparquet-writer types them itself, and a
 * STRING_MAP as the MAP group the format specifies (repeated key_value of a required key
 * and an optional value), which its basic types do not cover.
 */
function parquetSchema(columns: readonly LakeColumn[]): SchemaElement[] {
  const string = (name: string, repetition: 'REQUIRED' | 'OPTIONAL'): SchemaElement => ({
    name,
    type: 'BYTE_ARRAY',
    converted_type: 'UTF8',
    repetition_type: repetition,
  });
  const elements = columns.flatMap((c): SchemaElement[] =>
    c.type === 'STRING_MAP'
      ? [
          {
            name: c.name,
            repetition_type: c.nullable ? 'OPTIONAL' : 'REQUIRED',
            converted_type: 'MAP',
            num_children: 1,
          },
          { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
          string('key', 'REQUIRED'),
          string('value', 'OPTIONAL'),
        ]
      : schemaFromColumnData({
          columnData: [{ name: c.name, type: c.type, nullable: c.nullable, data: [] }],
        }).slice(1),
  );
  return [{ name: 'root', num_children: columns.length }, ...elements];
}
