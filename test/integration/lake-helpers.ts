/** DuckDB over the local lake's Parquet folders, for the lake tests. */
import { DuckDBInstance } from '@duckdb/node-api';

export async function query(sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

/** Every row of the lake's windows table, as windows.jsonl writes it (absent, not null). */
export async function lakeLines(dir: string): Promise<Record<string, unknown>[]> {
  const rows = await query(
    `SELECT * EXCLUDE (dt), CAST(dt AS VARCHAR) AS dt FROM read_parquet('${dir}/windows/*/*.parquet', hive_partitioning = true)
     ORDER BY sensorId, windowType, windowStart, windowEnd, metric`,
  );
  return rows.map((row) => {
    const { dt: _dt, ...rest } = row;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rest)) {
      if (v === null && k !== 'stddev') continue;
      // BIGINT columns come back as strings from getRowObjectsJson; the values are safe integers.
      out[k] = typeof v === 'string' && /^-?\d+$/.test(v) && k !== 'sensorId' ? Number(v) : v;
    }
    return out;
  });
}

/** The Transition fields a transition may leave out: NULL in the lake, absent in alarms.jsonl. */
const OMITTED_WHEN_UNSET = new Set(['reactivated', 'snoozedUntil', 'by', 'note', 'recordId', 'actionId']);
const TRANSITION_BIGINTS = new Set(['ruleVersion', 'seq', 'at', 'since', 'peakAt', 'snoozedUntil']);

/** Every row of the lake's transitions table, as a Transition (absent where unset; `dt` kept). */
export async function lakeTransitions(dir: string): Promise<Record<string, unknown>[]> {
  const rows = await query(
    `SELECT * EXCLUDE (dt), CAST(dt AS VARCHAR) AS dt FROM read_parquet('${dir}/transitions/*/*.parquet', hive_partitioning = true)
     ORDER BY "at", rule, sensorId, seq`,
  );
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) {
      if (v === null && OMITTED_WHEN_UNSET.has(k)) continue;
      if (k === 'detail') {
        // A MAP comes back as its key/value entries.
        const entries = v as { key: string; value: string | null }[];
        out[k] = Object.fromEntries(entries.map((e) => [e.key, e.value]));
      } else {
        out[k] = TRANSITION_BIGINTS.has(k) && typeof v === 'string' ? Number(v) : v;
      }
    }
    return out;
  });
}
