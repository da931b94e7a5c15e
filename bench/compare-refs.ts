/**
 * The pure path of several commits side by side: `npx tsx bench/compare-refs.ts REF...`
 * (e.g. `5aee8c9 5a2dfdb HEAD`; the first is the baseline). How issue 15's "no worse"
 * was shown: a renovation or a feature measured against the commit before it, in one run.
 *
 * Each ref is checked out (detached, `git worktree add`) under a temporary folder sharing
 * this checkout's node_modules, and its own `bench/pure-path.ts` and configuration parser
 * are loaded into this one process. Every ref then folds the same bytes: one 10,000-record
 * batch of a 1,000-sensor fleet at 1 Hz (bench/data.ts of this checkout), after the same
 * history folded by that ref's code. Samples alternate between the refs, so a machine
 * that is busy or slows down weighs on all of them alike; the medians' ratios to the
 * first ref are the result, not the absolute rates. The worktrees are removed at the end,
 * also on Ctrl-C.
 *
 * Environment: ROUNDS (default 12), SENSORS (1,000), HISTORY (20,000 records).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../local/config.js';
import { fleetRecords, toEvents } from './data.js';
import { median } from './stats.js';

const refs = process.argv.slice(2);
if (refs.length < 2 || refs.some((r) => r.startsWith('-'))) {
  console.error('usage: npx tsx bench/compare-refs.ts BASELINE_REF REF [REF...]');
  process.exit(2);
}
const positive = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
};
const ROUNDS = positive('ROUNDS', 12);
const SENSORS = positive('SENSORS', 1_000);
const HISTORY = positive('HISTORY', 20_000);
const BATCH = 10_000;

const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
const root = mkdtempSync(path.join(tmpdir(), 'windowpane-refs-'));
const trees: string[] = [];
const cleanUp = () => {
  for (const dir of trees.splice(0)) {
    try {
      git('worktree', 'remove', '--force', dir);
    } catch {
      // already gone
    }
  }
  rmSync(root, { recursive: true, force: true });
};
process.once('SIGINT', () => {
  cleanUp();
  process.exit(130);
});

interface Runner {
  ref: string;
  commit: string;
  run: () => number;
  rates: number[];
}

try {
  const records = fleetRecords({ sensors: SENSORS, rateHz: 1 }, HISTORY + BATCH);
  const events = toEvents(records, BATCH);
  const measured = events.pop()!;
  const runners: Runner[] = [];
  for (const [i, ref] of refs.entries()) {
    const commit = git('rev-parse', '--short', `${ref}^{commit}`);
    const dir = path.join(root, `${i}-${commit}`);
    git('worktree', 'add', '--quiet', '--detach', dir, commit);
    trees.push(dir);
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    const pure = await import(pathToFileURL(path.join(dir, 'bench', 'pure-path.ts')).href);
    const { parseConfig } = await import(
      pathToFileURL(path.join(dir, 'functions', 'domain', 'config.ts')).href
    );
    const config = parseConfig({});
    const prior = pure.foldHistory(events, config);
    runners.push({
      ref,
      commit,
      rates: [],
      run: () => pure.runPurePath(measured, prior, config).readings as number,
    });
  }
  for (const r of runners) for (let i = 0; i < 3; i++) r.run();
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of runners) {
      const before = process.cpuUsage();
      const readings = r.run();
      const used = process.cpuUsage(before);
      r.rates.push(readings / ((used.user + used.system) / 1e6));
    }
  }
  const base = median(runners[0]!.rates);
  console.log(
    `pure path, ${SENSORS} sensors, batch ${BATCH} after ${HISTORY} records of history, ${ROUNDS} alternated rounds`,
  );
  for (const r of runners) {
    const m = median(r.rates);
    console.log(
      `${r.ref.padEnd(12)} ${r.commit}  ${Math.round(m).toLocaleString('en-US').padStart(9)} readings/CPU-s  ${(m / base).toFixed(3)}x`,
    );
  }
} finally {
  cleanUp();
}
