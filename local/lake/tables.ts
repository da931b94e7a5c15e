/**
 * The lake's tables: what one item becomes as rows, the Parquet columns, and the date a
 * row is partitioned by. One table per kind of output (final windows now, alarm
 * transitions later), each one entry here, so the writer knows none of them.
 *
 * The windows table has exactly the fields of a `windows.jsonl` line (one row per metric
 * of a final window, local/window-lines.ts), so a query over the lake and the replay's
 * output agree row for row. Epoch milliseconds stay INT64, as in the JSON, and the same
 * columns are what the Firehose path's Glue table declares (infra/lake-tables.ts). Rows are
 * partitioned by the UTC date of `windowStart`: event time, so a replay of the same input
 * writes the same partitions whenever it runs. Configured percentiles add a column each
 * (`windowsTable`).
 */
import type { FinalWindow } from '../../functions/domain/state.js';
import { windowLines } from '../window-lines.js';

export type LakeColumnType = 'STRING' | 'INT64' | 'DOUBLE';

export interface LakeColumn {
  name: string;
  type: LakeColumnType;
  nullable: boolean;
}

export type LakeValue = string | number | null;
export type LakeRow = Record<string, LakeValue>;

export interface LakeTable<T> {
  /** Folder under the lake root, and the table's name in a catalog. */
  name: string;
  columns: readonly LakeColumn[];
  rows(item: T): LakeRow[];
  /** Event time (epoch ms) whose UTC date names the row's `dt=` partition. */
  partitionTime(row: LakeRow): number;
}

const required = (name: string, type: LakeColumnType): LakeColumn => ({ name, type, nullable: false });
const optional = (name: string, type: LakeColumnType): LakeColumn => ({ name, type, nullable: true });

const WINDOW_COLUMNS: readonly LakeColumn[] = [
  required('sensorId', 'STRING'),
  required('metric', 'STRING'),
  required('windowType', 'STRING'),
  required('windowSizeMs', 'INT64'),
  optional('windowSlideMs', 'INT64'),
  optional('windowGapMs', 'INT64'),
  required('windowStart', 'INT64'),
  required('windowEnd', 'INT64'),
  required('count', 'INT64'),
  required('sum', 'DOUBLE'),
  required('min', 'DOUBLE'),
  required('max', 'DOUBLE'),
  required('mean', 'DOUBLE'),
  optional('stddev', 'DOUBLE'),
];

/**
 * The windows table; with percentiles configured (`PercentilePlan.names`: `p50`, `p99`,
 * ...) one nullable DOUBLE column each after `stddev`, null in the rows of a metric
 * without percentiles. Without them it is exactly WINDOWS_TABLE.
 */
export function windowsTable(percentileNames: readonly string[] = []): LakeTable<FinalWindow> {
  const names = percentileNames as readonly `p${string}`[];
  return {
    name: 'windows',
    columns: [...WINDOW_COLUMNS, ...names.map((n) => optional(n, 'DOUBLE'))],
    rows(final) {
      return windowLines(final).map((line) => {
        const row: LakeRow = {
          sensorId: line.sensorId,
          metric: line.metric,
          windowType: line.windowType,
          windowSizeMs: line.windowSizeMs,
          windowSlideMs: line.windowSlideMs ?? null,
          windowGapMs: line.windowGapMs ?? null,
          windowStart: line.windowStart,
          windowEnd: line.windowEnd,
          count: line.count,
          sum: line.sum,
          min: line.min,
          max: line.max,
          mean: line.mean,
          stddev: line.stddev ?? null,
        };
        for (const n of names) row[n] = line[n] ?? null;
        return row;
      });
    },
    partitionTime: (row) => row.windowStart as number,
  };
}

export const WINDOWS_TABLE: LakeTable<FinalWindow> = windowsTable();

/** `YYYY-MM-DD` (UTC) of an epoch-ms instant: the value of a `dt=` partition. */
export function partitionDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
