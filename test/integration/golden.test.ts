/**
 * Golden outputs: `npm run replay` on three fixed inputs must write exactly the files
 * recorded in test/golden/<case>/, byte for byte. They were recorded before the house
 * renovation (issue 15) and guard every later change that claims to keep behaviour:
 * a refactor, a new state encoding, a new rule engine. A change that means to alter an
 * output re-records it (`UPDATE_GOLDEN=1 npx vitest run test/integration/golden.test.ts`)
 * and says why in its commit.
 *
 * Cases (each with its own config.json, so cdk.json edits do not move them):
 * - small: events/readings-small.jsonl as recorded (copied, so regenerating the sample
 *   data does not move it), the default configuration;
 * - multi: 12 simulated sensors over 8 minutes with tumbling, sliding and session windows
 *   at once;
 * - alarms: small's input with alarm-mode rules (threshold with clear bounds, clearAfter
 *   and a version; a latching threshold; delta with a clear bound) beside one alert rule;
 * - small-chaos, multi-chaos, alarms-chaos: the same inputs under `--chaos` (faults,
 *   redeliveries, a reshard up and down), compared with the clean case's recorded files:
 *   the same bytes.
 *
 * small and multi have no alarm-mode rule: their alarms.jsonl must be empty, and is not
 * recorded (docs/SEMANTICS.md, Replay contract).
 *
 * On the embedded emulators each replay starts its own; in the integration-moto project
 * they run on the shared moto_server instead, against the same recorded files: the
 * chaos runs there leave out the reshard (moto does not reshard as Kinesis documents).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { uniquePrefix } from '../../local/cloud/index.js';
import { REPO_ROOT } from '../../local/config.js';
import { OUTPUT_FILES, runReplay } from '../../local/replay.js';

const GOLDEN = path.join(REPO_ROOT, 'test', 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const onMoto = inject('backend') === 'moto';
const endpoints = inject('endpoints');

interface GoldenCase {
  name: string;
  /** The recorded outputs and config.json it is compared with. */
  golden: string;
  input: string;
  chaosSeed?: number;
  /** The case's config has alarm-mode rules: alarms.jsonl is recorded; otherwise it is empty. */
  alarms?: true;
}

const CASES: GoldenCase[] = [
  { name: 'small', golden: 'small', input: 'small/input.jsonl' },
  { name: 'multi', golden: 'multi', input: 'multi/input.jsonl' },
  { name: 'alarms', golden: 'alarms', input: 'small/input.jsonl', alarms: true },
  // Under chaos the files must be those of the clean run: compared with small's.
  { name: 'small-chaos', golden: 'small', input: 'small/input.jsonl', chaosSeed: 7 },
  { name: 'multi-chaos', golden: 'multi', input: 'multi/input.jsonl', chaosSeed: 11 },
  { name: 'alarms-chaos', golden: 'alarms', input: 'small/input.jsonl', chaosSeed: 5, alarms: true },
];

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('golden replay outputs', () => {
  it.each(CASES)('$name: the output files are byte-identical to the recorded ones', async (c) => {
    const caseDir = path.join(GOLDEN, c.golden);
    const config = parseConfig(JSON.parse(await readFile(path.join(caseDir, 'config.json'), 'utf8')));
    const outDir = await mkdtemp(path.join(tmpdir(), `windowpane-golden-${c.name}-`));
    dirs.push(outDir);
    const summary = await runReplay({
      input: path.join(GOLDEN, c.input),
      outDir,
      config,
      resourceSource: 'config',
      ...(onMoto ? { target: localClientOptions(endpoints), prefix: uniquePrefix(`golden-${c.name}`) } : {}),
      ...(c.chaosSeed !== undefined ? { chaos: { seed: c.chaosSeed } } : {}),
    });
    expect(summary.discarded).toBe(0);
    if (c.chaosSeed !== undefined) {
      const { faults, totalFaults } = summary.chaos!;
      expect(totalFaults - faults.reshard, 'faults other than the reshard').toBeGreaterThan(0);
      // moto cannot reshard as Kinesis does, so the run leaves that fault out (local/chaos/reshard.ts).
      expect(faults.reshard).toBe(onMoto ? 0 : 2);
    }
    for (const file of Object.values(OUTPUT_FILES)) {
      const got = await readFile(path.join(outDir, file), 'utf8');
      if (file === OUTPUT_FILES.alarms && !c.alarms) {
        expect(got, `${c.name}/${file} is empty: no rule is in mode alarm`).toBe('');
        continue;
      }
      const goldenFile = path.join(caseDir, file);
      if (UPDATE && !onMoto && c.chaosSeed === undefined) await writeFile(goldenFile, got);
      const want = await readFile(goldenFile, 'utf8');
      expect(want.length, `${c.name}/${file} is recorded and not empty`).toBeGreaterThan(0);
      expect(got, `${c.name}/${file}`).toBe(want);
    }
  });
});
