/**
 * `npm run bench -- --quick` works: it exits 0, prints its table, and writes a JSON report
 * in which every suite produced numbers. Checks that the benchmark runs, never how fast:
 * no assertion here depends on a timing. (The bench starts its own emulators; the ones of
 * this project's globalSetup are not used.)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SUITES } from '../../bench/args.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'bench-test-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'bench', '--', ...args], {
      cwd: ROOT,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every number-valued leaf of `value`, with its path. */
function numbers(value: unknown, at = ''): [string, number][] {
  if (typeof value === 'number') return [[at, value]];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => numbers(v, `${at}.${k}`));
}

describe('npm run bench', () => {
  it('fails on a bad flag, naming it', async () => {
    const r = await runBench(['--fastest']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown flag --fastest');
  });

  it('runs every suite with --quick and reports numbers for each', { timeout: 420_000 }, async () => {
    const out = path.join(dir, 'quick.json');
    const r = await runBench(['--quick', '--out', out]);
    expect(r.stderr).not.toMatch(/FAILED/);
    expect(r.code).toBe(0);
    for (const suite of SUITES) expect(r.stdout).toMatch(new RegExp(`^${suite}\\s`, 'm'));

    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.mode).toBe('quick');
    expect(report.machine.node).toBe(process.version);
    expect(typeof report.machine.cpuModel).toBe('string');
    for (const suite of SUITES) {
      expect(report.suites[suite], suite).toBeDefined();
      expect(report.suites[suite].error, suite).toBeUndefined();
      const values = numbers(report.suites[suite]);
      expect(values.length, suite).toBeGreaterThan(0);
      for (const [where, n] of values) expect(Number.isFinite(n), `${suite}${where}`).toBe(true);
    }

    const { pure, writes, peer, e2e, memory, cost, dashboard, percentiles } = report.suites;
    expect(pure.cases.map((c: { batchSize: number }) => c.batchSize)).toEqual([100, 1_000, 10_000]);
    expect(pure.headline.recordsPerSecond).toBeGreaterThan(0);
    for (const c of writes.cases) {
      expect(c.ours.writeRequests).toBeGreaterThan(0);
      expect(c.naive.formulaMatched).toBe(true);
    }
    // Carried state (bench/carried.ts): the handler path counted over whole Lambda windows.
    expect(writes.carried.length).toBeGreaterThan(0);
    for (const c of writes.carried) {
      expect(c.invocations, c.id).toBeGreaterThan(0);
      expect(c.finalInvocations, c.id).toBe(c.lambdaWindows);
      expect(c.readings, c.id).toBeGreaterThan(0);
      // Every claim is released by a checkpoint; no state was lost, so nothing was caught up.
      expect(c.claims, c.id).toBeGreaterThan(0);
      expect(c.checkpoints, c.id).toBe(c.claims);
      // The measured window follows a warm-up one in the same process: its claims of the
      // sensors that window checkpointed are made without a read (SEMANTICS.md CS2).
      expect(c.claimsUnread, c.id).toBeGreaterThan(0);
      expect(c.claimsUnread, c.id).toBeLessThanOrEqual(c.claims);
      expect(c.caughtUpRecords, c.id).toBe(0);
      expect(c.stateItems.writes, c.id).toBe(c.claims + c.checkpoints + c.stateItems.ruleCommits);
      expect(c.stateItems.ruleCommits, c.id).toBeGreaterThanOrEqual(0);
      expect(c.kinesisRequests, c.id).toBe(0);
      expect(c.carriedBytes.max, c.id).toBeGreaterThan(0);
      expect(c.carriedBytes.max, c.id).toBeLessThanOrEqual(c.carriedBytes.budget);
      expect(c.ours.writeUnits, c.id).toBeGreaterThan(0);
      expect(c.ours.readUnits, c.id).toBeGreaterThan(0);
      expect(c.naive.writeRequests, c.id).toBeGreaterThanOrEqual(c.readings);
      expect(c.ratio, c.id).toBeGreaterThan(0);
      expect(c.ratio, c.id).toBeLessThan(1);
      expect(typeof c.targetMet, c.id).toBe('boolean');
    }
    for (const c of peer.cases) expect(c.measured.formulaMatched).toBe(true);
    expect(peer.cpu.recordsPerSecond.peer.median).toBeGreaterThan(0);
    expect(e2e.pipeline.readings).toBeGreaterThan(0);
    expect(e2e.latency.alerts).toBeGreaterThanOrEqual(20);
    expect(memory.heap.handler.readings).toBeGreaterThan(0);
    expect(memory.bundle.bytes).toBeGreaterThan(0);
    // windowpane, naive and the Powertools peer for each of the four scenarios.
    expect(cost.rows.length).toBe(12);
    expect(cost.scale.length).toBe(6);
    for (const row of cost.rows) expect(row.dollarsPerMillion.totalOnDemand).toBeGreaterThan(0);
    // One carried cost row per carried case, priced beside naive on the same records.
    expect(cost.carried.length).toBe(writes.carried.length);
    for (const row of cost.carried) {
      expect(row.invocationsPerMillion).toBeGreaterThan(row.finalInvocationsPerMillion);
      expect(row.finalInvocationsPerMillion).toBeGreaterThan(0);
      expect(row.dollarsPerMillion.lambda).toBeGreaterThan(0);
      expect(row.dollarsPerMillion.totalOnDemand).toBeGreaterThan(0);
      expect(row.naive.totalOnDemand).toBeGreaterThan(0);
      expect(row.vsNaive.onDemand).toBeCloseTo(
        row.dollarsPerMillion.totalOnDemand / row.naive.totalOnDemand,
        2,
      );
      expect(row.carriedStateWithinBudget).toBe(true);
      expect(typeof row.goalMet).toBe('boolean');
    }
    const carriedTargets = report.headlines.filter((h: { metric: string }) => h.metric.includes('carried'));
    expect(carriedTargets.length).toBe(writes.carried.length + cost.carried.length);
    // The scale scenario against its baseline, each with first-chart runs and frames.
    expect([dashboard.scale.sensors, dashboard.baseline.sensors]).toEqual([1_000, 10]);
    for (const s of [dashboard.scale, dashboard.baseline]) {
      expect(s.timeToFirstChartMs.runs.length).toBeGreaterThan(0);
      expect(s.frames.count).toBeGreaterThan(0);
    }
    // Percentiles off and on in the same run, on the same batch: both folded every reading.
    for (const v of [percentiles.off, percentiles.on]) {
      expect(v.recordsPerCpuSecond.median).toBeGreaterThan(0);
      expect(v.state.meanBodyBytes).toBeGreaterThan(0);
    }
    expect(percentiles.on.state.meanBodyBytes).toBeGreaterThan(percentiles.off.state.meanBodyBytes);
    expect(percentiles.sketchBytesPerOpenWindow).toBeGreaterThan(0);
    expect(report.headlines.length).toBeGreaterThan(0);
  });
});
