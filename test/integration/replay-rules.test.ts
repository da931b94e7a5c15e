/**
 * A-R6 `npm run replay -- --rules FILE`: the file's rules replace the configured ones for
 * the run. Golden-style: small's configuration (alert rules only) with the alarms case's
 * rules in a file writes exactly the alarms case's recorded files, byte for byte, so the
 * file is the only thing that changed; and a bad file stops the run before any emulator
 * starts, naming the file and the field.
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
import { RulesFileError } from '../../local/rules/rules-file.js';

const GOLDEN = path.join(REPO_ROOT, 'test', 'golden');
const onMoto = inject('backend') === 'moto';
const endpoints = inject('endpoints');
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `windowpane-replay-rules-${label}-`));
  dirs.push(dir);
  return dir;
}

const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8'));

describe('A-R6 replay --rules FILE', () => {
  it("small's configuration with the alarms case's rules in a file writes the alarms case's files", async () => {
    const small = parseConfig(await readJson(path.join(GOLDEN, 'small', 'config.json')));
    const alarms = await readJson(path.join(GOLDEN, 'alarms', 'config.json'));
    const dir = await tempDir('golden');
    const rulesFile = path.join(dir, 'rules.json');
    await writeFile(rulesFile, JSON.stringify({ rules: alarms.rules }));
    const outDir = path.join(dir, 'out');
    const logs: string[] = [];
    const summary = await runReplay({
      input: path.join(GOLDEN, 'small', 'input.jsonl'),
      outDir,
      config: small,
      rulesFile,
      resourceSource: 'config',
      log: (line) => logs.push(line),
      ...(onMoto ? { target: localClientOptions(endpoints), prefix: uniquePrefix('replay-rules') } : {}),
    });
    expect(summary.discarded).toBe(0);
    expect(logs).toContain(`rules: 4 from ${rulesFile}, in place of the configured ones`);
    for (const file of Object.values(OUTPUT_FILES)) {
      const want = await readFile(path.join(GOLDEN, 'alarms', file), 'utf8');
      expect(await readFile(path.join(outDir, file), 'utf8'), `alarms/${file}`).toBe(want);
    }
  });

  it('a bad rules file stops the run before it starts, naming the file and the field', async () => {
    const small = parseConfig(await readJson(path.join(GOLDEN, 'small', 'config.json')));
    const dir = await tempDir('bad');
    const rulesFile = path.join(dir, 'rules.json');
    await writeFile(
      rulesFile,
      JSON.stringify([{ name: 'hot', type: 'threshold', metric: 'humidity', above: 1 }]),
    );
    const run = runReplay({
      input: path.join(GOLDEN, 'small', 'input.jsonl'),
      outDir: path.join(dir, 'out'),
      config: small,
      rulesFile,
      resourceSource: 'config',
    });
    await expect(run).rejects.toThrowError(RulesFileError);
    await expect(run).rejects.toThrowError(
      `${rulesFile}: [0].metric: "humidity" is not in the configured metrics [temperature]`,
    );
  });
});
