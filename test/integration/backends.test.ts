/**
 * The difference report: one input replayed on both backends in the same run, the embedded
 * emulators (kinesis-local, dynalite, fauxqs) and moto_server, must give the same four
 * output files byte for byte, clean and under `--chaos`. The input and configuration are
 * the golden `alarms` case's (alert rules and alarm-mode rules), so the alarm transitions
 * are compared too. Small batches make many
 * invocations, so chaos meets many of them. On moto the chaos run leaves out the reshard
 * (moto cannot reshard as Kinesis documents: local/chaos/reshard.ts) and keeps every other
 * fault; the outputs must not show it.
 */

import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseConfig, type WindowpaneConfig } from '../../functions/domain/config.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { uniquePrefix } from '../../local/cloud/index.js';
import { REPO_ROOT } from '../../local/config.js';
import { OUTPUT_FILES, type ReplaySummary, runReplay } from '../../local/replay.js';

const GOLDEN = path.join(REPO_ROOT, 'test', 'golden');
const INPUT = path.join(GOLDEN, 'small', 'input.jsonl');
const CHAOS_SEED = 5;
const endpoints = inject('endpoints');

const base = parseConfig(JSON.parse(readFileSync(path.join(GOLDEN, 'alarms', 'config.json'), 'utf8')));
const config: WindowpaneConfig = { ...base, eventSource: { ...base.eventSource, batchSize: 10 } };

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function replay(
  backend: 'embedded' | 'moto',
  chaos: boolean,
): Promise<{ summary: ReplaySummary; files: Record<string, string> }> {
  const outDir = await mkdtemp(path.join(tmpdir(), `windowpane-backends-${backend}-`));
  dirs.push(outDir);
  const summary = await runReplay({
    input: INPUT,
    outDir,
    config,
    resourceSource: 'config',
    ...(backend === 'moto'
      ? { target: localClientOptions(endpoints), prefix: uniquePrefix('backends') }
      : {}),
    ...(chaos ? { chaos: { seed: CHAOS_SEED } } : {}),
  });
  const files: Record<string, string> = {};
  for (const file of Object.values(OUTPUT_FILES))
    files[file] = await readFile(path.join(outDir, file), 'utf8');
  return { summary, files };
}

describe('difference report: embedded emulators vs moto_server', () => {
  it.each([
    ['clean', false],
    ['--chaos', true],
  ] as const)('%s: the four output files are byte-identical on both backends', async (_what, chaos) => {
    const embedded = await replay('embedded', chaos);
    const moto = await replay('moto', chaos);
    for (const { summary } of [embedded, moto]) expect(summary.discarded).toBe(0);
    expect(embedded.summary.windows).toBeGreaterThan(5);
    expect(embedded.summary.alerts).toBeGreaterThan(3);
    for (const file of Object.values(OUTPUT_FILES)) {
      expect(embedded.files[file]!.length, `${file} is not empty`).toBeGreaterThan(0);
      expect(moto.files[file], file).toBe(embedded.files[file]);
    }
    if (chaos) {
      const e = embedded.summary.chaos!;
      const m = moto.summary.chaos!;
      expect(e.faults.reshard).toBe(2);
      expect(m.faults.reshard).toBe(0);
      const kinds = Object.entries(m.faults).filter(([kind, n]) => kind !== 'reshard' && n > 0);
      expect(
        kinds.length,
        `fault kinds injected on moto: ${JSON.stringify(m.faults)}`,
      ).toBeGreaterThanOrEqual(3);
    }
  });
});
