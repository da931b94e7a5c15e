/**
 * The lake's tables: what one item becomes as rows, the Parquet columns, and the date a
 * row is partitioned by. One table per kind of output (final windows, alarm transitions),
 * each one entry here, so the writer knows none of them.
 *
 * The windows table has exactly the fields of a `windows.jsonl` line (one row per metric
 * of a final window, local/window-lines.ts), so a query over the lake and the replay's
 * output agree row for row. Epoch milliseconds stay INT64, as in the JSON, and the same
 * columns are what the Firehose path's Glue table declares (infra/lake-tables.ts). Rows are
 * partitioned by the UTC date of `windowStart`: event time, so a replay of the same input
 * writes the same partitions whenever it runs. Configured percentiles add a column each
 * (`windowsTable`).
 */
import type { Transition } from '../../functions/domain/alarms/transition.js';
import type { FinalWindow } from '../../functions/domain/state.js';
import { windowLines } from '../window-lines.js';

/** `STRING_MAP`: a Parquet MAP of string keys to nullable string values. */
export type LakeColumnType = 'STRING' | 'INT64' | 'DOUBLE' | 'BOOLEAN' | 'STRING_MAP';

export interface LakeColumn {
  name: string;
  type: LakeColumnType;
  nullable: boolean;
}

export type LakeValue = string | number | boolean | Record<string, string | null> | null;
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

/**
 * Every field of a Transition, in the order buildTransition writes them; the type makes a
 * new field a compile error here until it has a column. Fields a transition may leave out
 * are nullable columns.
 */
const TRANSITION_COLUMNS: { [K in keyof Required<Transition>]: LakeColumn } = {
  transitionId: required('transitionId', 'STRING'),
  alarmId: required('alarmId', 'STRING'),
  sensorId: required('sensorId', 'STRING'),
  rule: required('rule', 'STRING'),
  ruleVersion: required('ruleVersion', 'INT64'),
  ruleType: required('ruleType', 'STRING'),
  severity: required('severity', 'STRING'),
  metric: optional('metric', 'STRING'),
  seq: required('seq', 'INT64'),
  transition: required('transition', 'STRING'),
  from: required('from', 'STRING'),
  state: required('state', 'STRING'),
  at: required('at', 'INT64'),
  clock: required('clock', 'STRING'),
  since: optional('since', 'INT64'),
  value: optional('value', 'DOUBLE'),
  peak: optional('peak', 'DOUBLE'),
  peakAt: optional('peakAt', 'INT64'),
  reactivated: optional('reactivated', 'BOOLEAN'),
  snoozedUntil: optional('snoozedUntil', 'INT64'),
  by: optional('by', 'STRING'),
  note: optional('note', 'STRING'),
  recordId: optional('recordId', 'STRING'),
  actionId: optional('actionId', 'STRING'),
  detail: required('detail', 'STRING_MAP'),
};

/**
 * Alarm transitions, one row per transition: the fields of the message the alert topic
 * carries (kind=alarm) and alarms.jsonl writes (without its `line`), so the Glue table of
 * the Firehose path (infra/lake-tables.ts) is derived from these columns. `detail`'s
 * values are written as their text, as Firehose's OpenX JSON reader does for a
 * map<string,string>. Partitioned by the UTC date of `at`.
 */
const transitionColumns = Object.values(TRANSITION_COLUMNS);

export const TRANSITIONS_TABLE: LakeTable<Transition> = {
  name: 'transitions',
  columns: transitionColumns,
  rows(t) {
    const row: LakeRow = {};
    const fields = t as unknown as Record<string, LakeValue | undefined>;
    for (const c of transitionColumns) row[c.name] = fields[c.name] ?? null;
    row.detail = Object.fromEntries(
      Object.entries(t.detail).map(([k, v]) => [k, v === null ? null : String(v)]),
    );
    return [row];
  },
  partitionTime: (row) => row.at as number,
};

/** `YYYY-MM-DD` (UTC) of an epoch-ms instant: the value of a `dt=` partition. */
export function partitionDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
