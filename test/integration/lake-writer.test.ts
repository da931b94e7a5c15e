/**
 * The local lake sink (local/lake): final windows appended to a LakeWriter come back from
 * DuckDB, reading the Hive-partitioned Parquet folder, equal to the replay's
 * windows.jsonl row for row; `replay --lake` writes the alarm transitions beside them,
 * equal to alarms.jsonl; flushes by size, by time and on close lose nothing, and a
 * failed write keeps its rows for the next one.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { Transition } from '../../functions/domain/alarms/transition.js';
import { parseConfig } from '../../functions/domain/config.js';
import type { FinalWindow } from '../../functions/domain/state.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { uniquePrefix } from '../../local/cloud/index.js';
import { LakeClosedError, LakeWriteError, LakeWriter } from '../../local/lake/lake-writer.js';
import { TRANSITIONS_TABLE, WINDOWS_TABLE, windowsTable } from '../../local/lake/tables.js';
import { OUTPUT_FILES, runReplay } from '../../local/replay.js';
import type { WindowLine } from '../../local/window-lines.js';
import { lakeLines, lakeTransitions, query } from './lake-helpers.js';

const GOLDEN = path.resolve(import.meta.dirname, '../golden');
const DAY = 86_400_000;

async function goldenLines(name: string): Promise<WindowLine[]> {
  const text = await readFile(path.join(GOLDEN, name, 'windows.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as WindowLine);
}

/** The final windows the lines were made from (local/window-lines.ts's windowLines, inverted). */
function finalWindowsOf(lines: readonly WindowLine[]): FinalWindow[] {
  const byWindow = new Map<string, FinalWindow>();
  for (const {
    sensorId,
    metric,
    windowType,
    windowSizeMs,
    windowSlideMs,
    windowGapMs,
    windowStart,
    windowEnd,
    ...s
  } of lines) {
    const key = JSON.stringify([
      sensorId,
      windowType,
      windowSizeMs,
      windowSlideMs,
      windowGapMs,
      windowStart,
      windowEnd,
    ]);
    let final = byWindow.get(key);
    if (!final) {
      final = { sensorId, windowKey: key, windowType, windowSizeMs, windowStart, windowEnd, metrics: {} };
      if (windowSlideMs !== undefined) final.windowSlideMs = windowSlideMs;
      if (windowGapMs !== undefined) final.windowGapMs = windowGapMs;
      byWindow.set(key, final);
    }
    final.metrics[metric] = s;
  }
  return [...byWindow.values()];
}

function window(sensorId: string, windowStart: number, value: number): FinalWindow {
  return {
    sensorId,
    windowKey: `t60000:${windowStart}`,
    windowType: 'tumbling',
    windowSizeMs: 60_000,
    windowStart,
    windowEnd: windowStart + 60_000,
    metrics: { temperature: { count: 1, sum: value, min: value, max: value, mean: value, stddev: null } },
  };
}

const sortKey = (l: object) => {
  const r = l as Record<string, unknown>;
  return JSON.stringify([r.sensorId, r.windowType, r.windowStart, r.windowEnd, r.metric]);
};
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'windowpane-lake-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('lake sink: DuckDB reads back exactly windows.jsonl', () => {
  it.each(['small', 'multi'])('golden %s: every line, every value, in Parquet', async (name) => {
    const lines = await goldenLines(name);
    const writer = new LakeWriter({ dir, table: WINDOWS_TABLE, maxRows: 40 });
    for (const final of finalWindowsOf(lines)) await writer.append(final);
    await writer.close();
    expect(writer.stats.rowsWritten).toBe(lines.length);
    const expected = [...lines].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
    const actual = (await lakeLines(dir)).sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
    // stddev is written as null where windows.jsonl has null or leaves it out (stddev off).
    expect(actual).toEqual(expected.map((l) => ({ ...l, stddev: l.stddev ?? null })));
  });

  it('partitions by the UTC date of windowStart, Hive style', async () => {
    const t0 = Date.parse('2026-03-01T23:59:00Z');
    const writer = new LakeWriter({ dir, table: WINDOWS_TABLE, runId: 'run1' });
    await writer.append(window('a', t0, 1)); // ends after midnight: still 2026-03-01
    await writer.append(window('a', t0 + 60_000, 2));
    await writer.append(window('b', t0 + 2 * DAY, 3));
    await writer.close();
    expect((await readdir(path.join(dir, 'windows'))).sort()).toEqual([
      'dt=2026-03-01',
      'dt=2026-03-02',
      'dt=2026-03-03',
    ]);
    expect(await readdir(path.join(dir, 'windows', 'dt=2026-03-01'))).toEqual(['part-run1-00000.parquet']);
    const rows = await query(
      `SELECT CAST(dt AS VARCHAR) AS dt, count(*)::INTEGER AS n,
              count(*) FILTER (WHERE strftime(epoch_ms(windowStart), '%Y-%m-%d') <> CAST(dt AS VARCHAR))::INTEGER AS wrong
       FROM read_parquet('${dir}/windows/*/*.parquet', hive_partitioning = true) GROUP BY dt ORDER BY dt`,
    );
    expect(rows).toEqual([
      { dt: '2026-03-01', n: 1, wrong: 0 },
      { dt: '2026-03-02', n: 1, wrong: 0 },
      { dt: '2026-03-03', n: 1, wrong: 0 },
    ]);
  });
});

describe('lake sink: configured percentiles are DOUBLE columns after stddev (docs/SEMANTICS.md "Windows", percentiles)', () => {
  it('writes p50 and p99 of a metric with percentiles, null for a metric without', async () => {
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const final = window('a', t0, 20);
    final.metrics.temperature = { ...final.metrics.temperature!, p50: 20.1, p99: 34.5 };
    final.metrics.humidity = { count: 1, sum: 40, min: 40, max: 40, mean: 40, stddev: null };
    const table = windowsTable(['p50', 'p99']);
    expect(table.columns.map((c) => c.name).slice(-3)).toEqual(['stddev', 'p50', 'p99']);
    const writer = new LakeWriter({ dir, table });
    await writer.append(final);
    await writer.close();
    const rows = await query(
      `SELECT metric, p50, p99, typeof(p50) AS t FROM read_parquet('${dir}/windows/*/*.parquet') ORDER BY metric`,
    );
    expect(rows).toEqual([
      { metric: 'humidity', p50: null, p99: null, t: 'DOUBLE' },
      { metric: 'temperature', p50: 20.1, p99: 34.5, t: 'DOUBLE' },
    ]);
  });

  it('has exactly the columns of WINDOWS_TABLE without percentiles', () => {
    expect(windowsTable().columns).toEqual(WINDOWS_TABLE.columns);
  });
});

describe('lake sink: alarm transitions beside the windows', () => {
  it('replay --lake of the golden alarms case: DuckDB reads the transitions back as alarms.jsonl, partitioned by the date of at', async () => {
    const config = parseConfig(
      JSON.parse(await readFile(path.join(GOLDEN, 'alarms', 'config.json'), 'utf8')),
    );
    const outDir = path.join(dir, 'out');
    const lake = path.join(dir, 'lake');
    const summary = await runReplay({
      input: path.join(GOLDEN, 'small', 'input.jsonl'),
      outDir,
      config,
      target: localClientOptions(inject('endpoints')),
      prefix: uniquePrefix('lake-alarms'),
      resourceSource: 'config',
      lakeDir: lake,
    });
    const alarms = (await readFile(path.join(outDir, OUTPUT_FILES.alarms), 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(alarms.length).toBeGreaterThan(0);
    expect(summary.lake!.tables).toEqual({ windows: summary.windowLines, transitions: alarms.length });
    expect((await readdir(lake)).sort()).toEqual(['transitions', 'windows']);

    const rows = await lakeTransitions(lake);
    for (const r of rows) {
      expect(r.dt).toBe(new Date(r.at as number).toISOString().slice(0, 10));
      // Replay's transitions are all caused by a record; alarms.jsonl gives its line instead.
      expect(r.recordId).toMatch(/^shardId-\d+:\d+$/);
    }
    const key = (r: Record<string, unknown>) => r.transitionId as string;
    const got = rows.map(({ dt: _dt, recordId: _r, ...t }) => t).sort((a, b) => key(a).localeCompare(key(b)));
    // detail's values are text in the lake, as Firehose's OpenX reader writes a map<string,string>.
    const want = alarms
      .map(({ line: _l, detail, ...t }) => ({
        ...t,
        detail: Object.fromEntries(
          Object.entries(detail as Record<string, unknown>).map(([k, v]) => [
            k,
            v === null ? null : String(v),
          ]),
        ),
      }))
      .sort((a, b) => key(a).localeCompare(key(b)));
    expect(got).toEqual(want);
  }, 300_000);

  it('every Transition field has its Parquet type; optional fields are NULL when unset', async () => {
    const at = Date.parse('2026-03-01T23:59:59.999Z');
    const base: Transition = {
      transitionId: 't1',
      alarmId: 'hot@s1',
      sensorId: 's1',
      rule: 'hot',
      ruleVersion: 2,
      ruleType: 'threshold',
      severity: 'critical',
      metric: null,
      seq: 4,
      transition: 'SNOOZED',
      from: 'ACTIVE',
      state: 'ACTIVE',
      at,
      clock: 'processing',
      since: null,
      value: null,
      peak: 31.5,
      peakAt: at - 1,
      detail: { above: 30, label: 'x', gone: null },
    };
    const full: Transition = {
      ...base,
      transitionId: 't2',
      at: at + 1,
      reactivated: true,
      snoozedUntil: at + 3_600_000,
      by: 'ops@example.com',
      note: 'maintenance',
      actionId: 'a-1',
      recordId: 'shardId-000000000000:49',
      detail: {},
    };
    const writer = new LakeWriter({ dir, table: TRANSITIONS_TABLE });
    await writer.append(base);
    await writer.append(full);
    await writer.close();
    expect((await readdir(path.join(dir, 'transitions'))).sort()).toEqual(['dt=2026-03-01', 'dt=2026-03-02']);
    const types = await query(
      `SELECT column_name AS name, column_type AS type FROM (DESCRIBE SELECT * FROM read_parquet('${dir}/transitions/*/*.parquet'))`,
    );
    expect(Object.fromEntries(types.map((t) => [t.name, t.type]))).toMatchObject({
      ruleVersion: 'BIGINT',
      metric: 'VARCHAR',
      peak: 'DOUBLE',
      reactivated: 'BOOLEAN',
      snoozedUntil: 'BIGINT',
      detail: 'MAP(VARCHAR, VARCHAR)',
    });
    expect(await lakeTransitions(dir)).toEqual([
      { ...base, detail: { above: '30', label: 'x', gone: null }, dt: '2026-03-01' },
      { ...full, dt: '2026-03-02' },
    ]);
  });
});

describe('lake sink: flushed on size, on time and on close, nothing lost', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z');

  it('writes a file each time the buffer reaches maxRows', async () => {
    const writer = new LakeWriter({ dir, table: WINDOWS_TABLE, maxRows: 10 });
    for (let i = 0; i < 25; i++) await writer.append(window('a', t0 + i * 60_000, i));
    expect(writer.stats).toEqual({ rowsWritten: 20, filesWritten: 2, rowsBuffered: 5 });
    await writer.close();
    expect(writer.stats).toEqual({ rowsWritten: 25, filesWritten: 3, rowsBuffered: 0 });
    expect(
      await query(`SELECT sum(count)::INTEGER AS n FROM read_parquet('${dir}/windows/*/*.parquet')`),
    ).toEqual([{ n: 25 }]);
  });

  it('writes buffered rows maxAgeMs after the first of them', async () => {
    const writer = new LakeWriter({ dir, table: WINDOWS_TABLE, maxAgeMs: 50 });
    await writer.append(window('a', t0, 1));
    expect(writer.stats.filesWritten).toBe(0);
    const deadline = Date.now() + 5_000;
    while (writer.stats.filesWritten === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(writer.stats).toEqual({ rowsWritten: 1, filesWritten: 1, rowsBuffered: 0 });
    await writer.close();
    expect(writer.stats.filesWritten).toBe(1);
  });

  it('a failed write keeps its rows and says so; the next write delivers them', async () => {
    // A plain file where the table folder must go: mkdir fails until it is removed.
    await writeFile(path.join(dir, 'windows'), 'in the way');
    const writer = new LakeWriter({ dir, table: WINDOWS_TABLE, maxRows: 3 });
    await writer.append(window('a', t0, 1));
    await writer.append(window('a', t0 + 60_000, 2));
    await expect(writer.append(window('a', t0 + 120_000, 3))).rejects.toThrow(LakeWriteError);
    expect(writer.stats).toEqual({ rowsWritten: 0, filesWritten: 0, rowsBuffered: 3 });
    await expect(writer.flush()).rejects.toThrow(/3 rows not written/);
    await rm(path.join(dir, 'windows'));
    await writer.close();
    expect(writer.stats).toEqual({ rowsWritten: 3, filesWritten: 1, rowsBuffered: 0 });
    await expect(writer.append(window('a', t0, 9))).rejects.toThrow(LakeClosedError);
    // No temporary file is left behind, and readers see only whole files.
    const files = await readdir(path.join(dir, 'windows', 'dt=2026-01-01'));
    expect(files.every((f) => f.endsWith('.parquet') && !f.startsWith('.'))).toBe(true);
  });

  it('close with nothing buffered writes nothing', async () => {
    const writer = new LakeWriter({ dir, table: WINDOWS_TABLE });
    await writer.close();
    expect(await readdir(dir)).toEqual([]);
  });
});
