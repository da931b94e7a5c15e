/**
 * The lake's Glue tables, as data: their Hive columns, their S3 folders, and the JQ
 * expression Firehose partitions each record by (`dt=YYYY-MM-DD`, the UTC date of the
 * record's event time, as local/lake/tables.ts partitions the local files).
 *
 * `windows` is what the results stream carries: one record per final window, its
 * per-metric aggregates in a `metrics` map. Its columns are derived from the local
 * windows table (local/lake/tables.ts), which has one row per metric: the window-level
 * columns are columns here, `metric` is the map's key and the aggregate columns are the
 * map value's fields, so a change of the local table changes this one or fails synth.
 * Firehose cannot turn one record into several rows, so the flattening is a query
 * (`CROSS JOIN UNNEST(metrics)`, infra/README.md), giving the local rows exactly.
 *
 * `transitions` holds alarm transitions as the alert topic carries them (`kind=alarm`,
 * one record per transition): its columns are the local transitions table's
 * (local/lake/tables.ts), lower-cased, so the two cannot drift apart.
 *
 * Hive column names are lower case: Glue and Athena fold them, and Firehose's OpenX
 * JSON reader matches the records' camelCase keys case-insensitively.
 */
import type { AggregateSummary } from '../functions/domain/aggregate.js';
import { WindowpaneError } from '../functions/domain/errors.js';
import { isPercentileName } from '../functions/domain/percentile-config.js';
import type { FinalWindow } from '../functions/domain/state.js';
import {
  type LakeColumn,
  type LakeColumnType,
  TRANSITIONS_TABLE,
  WINDOWS_TABLE,
  windowsTable,
} from '../local/lake/tables.js';

export class LakeTableError extends WindowpaneError {}

export interface GlueColumn {
  name: string;
  /** A Hive type: `string`, `bigint`, `map<string,struct<...>>`, ... */
  type: string;
}

export interface LakeTableSpec {
  /** The Glue table's name, and its folder in the bucket (`<name>/dt=.../`). */
  name: string;
  columns: readonly GlueColumn[];
  /** Firehose MetadataExtraction query (JQ 1.6) giving `{dt}`. */
  partitionQuery: string;
  description: string;
}

/** The partition column, as the local files name their folders. */
export const PARTITION_KEY = 'dt';

export const HIVE_TYPE: Record<LakeColumnType, string> = {
  STRING: 'string',
  INT64: 'bigint',
  DOUBLE: 'double',
  BOOLEAN: 'boolean',
  STRING_MAP: 'map<string,string>',
};

/** The window-level fields of a final window that the local table has as columns. */
const WINDOW_FIELDS = [
  'sensorId',
  'windowType',
  'windowSizeMs',
  'windowSlideMs',
  'windowGapMs',
  'windowStart',
  'windowEnd',
] as const satisfies readonly (keyof FinalWindow)[];
/** The per-metric fields (a metric's AggregateSummary). */
const AGGREGATE_FIELDS = [
  'count',
  'sum',
  'min',
  'max',
  'mean',
  'stddev',
] as const satisfies readonly (keyof AggregateSummary)[];
/** The local column holding the metric's name: the map key here. */
const METRIC_COLUMN = 'metric';

/** `{dt: "YYYY-MM-DD"}` from an epoch-ms field, in UTC (JQ's todate is UTC). */
export function datePartitionQuery(field: string): string {
  return `{${PARTITION_KEY}: (.${field} / 1000 | floor | todate | .[0:10])}`;
}

const hive = (column: LakeColumn): GlueColumn => ({
  name: column.name.toLowerCase(),
  type: HIVE_TYPE[column.type],
});

/** The Glue columns of the results stream's records, from the local windows table's columns. */
export function windowsColumns(local: readonly LakeColumn[] = WINDOWS_TABLE.columns): GlueColumn[] {
  const isIn = (names: readonly string[]) => (c: LakeColumn) => names.includes(c.name);
  // Configured percentiles (p50, p99_9) are aggregates too, after the fixed ones.
  const isAggregate = (c: LakeColumn) => isIn(AGGREGATE_FIELDS)(c) || isPercentileName(c.name);
  const unplaced = local.filter(
    (c) => c.name !== METRIC_COLUMN && !isIn(WINDOW_FIELDS)(c) && !isAggregate(c),
  );
  if (unplaced.length > 0) {
    throw new LakeTableError(
      `local/lake/tables.ts has columns the windows Glue table cannot place: ${unplaced.map((c) => c.name).join(', ')} ` +
        '(neither a field of a final window nor of its aggregates)',
    );
  }
  const aggregate = local
    .filter(isAggregate)
    .map((c) => `${c.name.toLowerCase()}:${HIVE_TYPE[c.type]}`)
    .join(',');
  return [
    { name: 'resultid', type: 'string' },
    ...local.filter(isIn(WINDOW_FIELDS)).map(hive),
    { name: 'windowkey', type: 'string' },
    { name: 'metrics', type: `map<string,struct<${aggregate}>>` },
  ];
}

/** The windows table, with a field of the metrics map per configured percentile (`p50`, `p99`). */
export function windowsLakeTable(percentileNames: readonly string[] = []): LakeTableSpec {
  return {
    name: WINDOWS_TABLE.name,
    columns: windowsColumns(windowsTable(percentileNames).columns),
    partitionQuery: datePartitionQuery('windowStart'),
    description:
      'windowpane final windows, one row per window (metrics: map of metric -> aggregates), partitioned by the UTC date of windowStart',
  };
}

/** The windows table without percentiles (the default configuration). */
export const WINDOWS_LAKE_TABLE: LakeTableSpec = windowsLakeTable();

export const TRANSITIONS_LAKE_TABLE: LakeTableSpec = {
  name: TRANSITIONS_TABLE.name,
  // Kind-specific numbers and strings are in `detail`; the OpenX reader writes numbers as their text.
  columns: TRANSITIONS_TABLE.columns.map(hive),
  partitionQuery: datePartitionQuery('at'),
  description: 'windowpane alarm transitions (alert topic, kind=alarm), partitioned by the UTC date of at',
};

export const LAKE_TABLES = [WINDOWS_LAKE_TABLE, TRANSITIONS_LAKE_TABLE] as const;
