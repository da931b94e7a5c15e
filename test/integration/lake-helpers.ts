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
