/**
 * The replay contract end to end on events/readings-small.jsonl: once in-process against
 * the shared emulators, once as the command a user runs (`tsx local/cli/replay.ts`, its own
 * emulators). The expected outputs are computed from the file's lines by the small
 * reference implementation of SEMANTICS.md in test/proof/reference.ts (it shares no code
 * with the pipeline).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClients, localClientOptions } from '../../functions/lib/clients.js';
import { buildApp, cdkJsonContext } from '../../infra/build-app.js';
import { sdkEnv, uniquePrefix } from '../../local/cloud/index.js';
import { loadProjectConfig, REPO_ROOT } from '../../local/config.js';
import { type ReplaySummary, runReplay } from '../../local/replay.js';
import { OutputDirError, ReplayInputError } from '../../local/replay-input.js';
import { type Expected, reference } from '../proof/reference.js';

const DATASET = path.join(REPO_ROOT, 'events', 'readings-small.jsonl');
const endpoints = inject('endpoints');
const onEmbedded = inject('backend') === 'embedded';
const { config } = loadProjectConfig();

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** The dataset's lines, split here independently of the replay's own splitting. */
async function datasetLines(): Promise<Buffer[]> {
  const text = await readFile(DATASET, 'utf8');
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return body === '' ? [] : body.split('\n').map((l) => Buffer.from(l));
}

async function readJsonl(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8');
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function readOutputs(dir: string) {
  return {
    windows: await readJsonl(path.join(dir, 'windows.jsonl')),
    alerts: await readJsonl(path.join(dir, 'alerts.jsonl')),
    late: await readJsonl(path.join(dir, 'late.jsonl')),
    invalid: await readJsonl(path.join(dir, 'invalid.jsonl')),
  };
}

function runCli(args: string[], opts: { stdin?: Buffer; env?: Record<string, string> } = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('AWS_ENDPOINT_URL')) delete env[name];
  Object.assign(env, opts.env);
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/cli/replay.ts', ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdin.end(opts.stdin);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

describe('replay of events/readings-small.jsonl', () => {
  let lines: Buffer[];
  let expected: Expected;
  let dir: string;
  let summary: ReplaySummary;

  beforeAll(async () => {
    const data = await readFile(DATASET);
    lines = await datasetLines();
    expected = reference(lines, config);
    dir = await mkdtemp(path.join(tmpdir(), 'windowpane-replay-'));
    // Through the --stdin path, on the shared emulators under a prefix of its own.
    summary = await runReplay({
      input: '-',
      stdin: Readable.from([data]),
      outDir: dir,
      config,
      target: localClientOptions(endpoints),
      prefix: uniquePrefix('replay'),
      resourceSource: 'config',
    });
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the dataset exercises every output (a precondition of the comparisons below)', () => {
    expect(lines.length).toBeGreaterThan(500);
    expect(expected.windows.length).toBeGreaterThan(5);
    expect(expected.alerts.length).toBeGreaterThan(3);
    expect(expected.late.length).toBeGreaterThan(0);
    expect(expected.invalid.length).toBeGreaterThan(0);
  });

  it('writes every final window once, sorted by sensorId, windowStart, metric, with exact aggregates', async () => {
    const { windows } = await readOutputs(dir);
    expect(windows.map((w) => [w.sensorId, w.windowStart, w.metric])).toEqual(
      expected.windows.map((w) => [w.sensorId, w.windowStart, w.metric]),
    );
    windows.forEach((w, i) => {
      const e = expected.windows[i]!;
      const sum = e.values.reduce((a, b) => a + b, 0);
      const size = (config.windows[0] as { sizeMs: number }).sizeMs;
      expect(w).toMatchObject({
        windowType: 'tumbling',
        windowSizeMs: size,
        windowEnd: e.windowStart + size,
        count: e.values.length,
        min: Math.min(...e.values),
        max: Math.max(...e.values),
      });
      expect(w.sum as number).toBeCloseTo(sum, 6);
      expect(w.mean as number).toBeCloseTo(sum / e.values.length, 9);
    });
    expect(summary.windows).toBe(expected.windows.length);
  });

  it('writes each alert once, as delivered through SNS, sorted by timestamp, sensorId, rule', async () => {
    const { alerts } = await readOutputs(dir);
    expect(
      alerts.map((a) => ({
        sensorId: a.sensorId,
        rule: a.rule,
        metric: a.metric,
        value: a.value,
        timestamp: a.timestamp,
        late: a.late,
      })),
    ).toEqual(expected.alerts);
    expect(new Set(alerts.map((a) => a.alertId)).size).toBe(alerts.length);
    expect(summary.alerts).toBe(expected.alerts.length);
  });

  it('writes each late reading with its reason and input line, in file order', async () => {
    const { late } = await readOutputs(dir);
    expect(late.map((l) => ({ line: l.line, sensorId: l.sensorId, timestamp: l.timestamp }))).toEqual(
      expected.late,
    );
    for (const l of late) expect(l.reason).toBe('window-final');
  });

  it('writes each invalid record with its reason, its original bytes and input line, in file order', async () => {
    const { invalid } = await readOutputs(dir);
    expect(invalid.map((m) => ({ line: m.line, reason: m.reason, data: m.data }))).toEqual(expected.invalid);
    expect(summary).toMatchObject({
      records: lines.length,
      readings: lines.length - expected.invalid.length,
      late: expected.late.length,
      invalid: expected.invalid.length,
      discarded: 0,
    });
  });

  it('on the resources of a synthesized CDK template: same outputs as from the configuration', async () => {
    const cdkOut = await mkdtemp(path.join(tmpdir(), 'windowpane-cdk-out-'));
    const viaTemplate = await mkdtemp(path.join(tmpdir(), 'windowpane-replay-template-'));
    try {
      // Bundling skipped: the plan reads resources and settings, not the function code.
      buildApp({
        context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
        outdir: cdkOut,
        nag: false,
      }).app.synth();
      const fromTemplate = await runReplay({
        input: DATASET,
        outDir: viaTemplate,
        config,
        target: localClientOptions(endpoints),
        prefix: uniquePrefix('tpl'),
        resourceSource: 'auto',
        cdkOut,
      });
      expect(summary.planSource).toMatch(/: configuration$/);
      expect(fromTemplate.planSource).toMatch(/\.template\.json \(synthesized CDK template\)$/);
      for (const file of ['windows.jsonl', 'alerts.jsonl']) {
        expect(await readFile(path.join(viaTemplate, file), 'utf8')).toBe(
          await readFile(path.join(dir, file), 'utf8'),
        );
      }
      expect(fromTemplate).toMatchObject({
        late: expected.late.length,
        invalid: expected.invalid.length,
        discarded: 0,
      });
    } finally {
      for (const d of [cdkOut, viaTemplate]) await rm(d, { recursive: true, force: true });
    }
  });

  // The CLI without --endpoint starts embedded emulators of its own: nothing of moto's is used.
  it.runIf(onEmbedded)(
    '`tsx local/cli/replay.ts --input FILE --out DIR` exits 0 and writes the same four files',
    async () => {
      const cliDir = await mkdtemp(path.join(tmpdir(), 'windowpane-replay-cli-'));
      try {
        const run = await runCli(['--input', DATASET, '--out', cliDir]);
        expect(run.stderr).toContain(`replayed ${lines.length} records`);
        expect(run.code).toBe(0);
        // No output carries a run-specific field: all four files are byte-identical across runs.
        for (const file of ['windows.jsonl', 'alerts.jsonl', 'late.jsonl', 'invalid.jsonl']) {
          expect(await readFile(path.join(cliDir, file), 'utf8'), file).toBe(
            await readFile(path.join(dir, file), 'utf8'),
          );
        }
      } finally {
        await rm(cliDir, { recursive: true, force: true });
      }
    },
  );
});

describe('replay against an endpoint (the LocalStack path, here the shared emulators)', () => {
  it('provisions under a fresh prefix, replays stdin, and deletes what it created', async () => {
    const head = (await readFile(DATASET, 'utf8')).split('\n').slice(0, 200);
    const input = Buffer.from(`${head.join('\n')}\n`);
    const expectedHead = reference(
      head.map((l) => Buffer.from(l)),
      config,
    );
    const out = await mkdtemp(path.join(tmpdir(), 'windowpane-replay-endpoint-'));
    try {
      // The SDK's own variables, one per service: the path `AWS_ENDPOINT_URL` takes.
      const run = await runCli(['--stdin', '--out', out], { stdin: input, env: sdkEnv(endpoints) });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('no emulators are started');
      const prefix = run.stderr.match(/resource prefix: (\S+)/)?.[1];
      expect(prefix).toMatch(/^replay-/);
      const { windows, alerts } = await readOutputs(out);
      expect(windows.map((w) => [w.sensorId, w.windowStart, w.count])).toEqual(
        expectedHead.windows.map((w) => [w.sensorId, w.windowStart, w.values.length]),
      );
      expect(alerts.length).toBe(expectedHead.alerts.length);
      // Deletion is asynchronous on the emulators (DELETING, then gone): poll briefly.
      const clients = createClients(localClientOptions(endpoints));
      try {
        const leftovers = async () => {
          const { StreamNames = [] } = await clients.kinesis.send(new ListStreamsCommand({}));
          const { TableNames = [] } = await clients.dynamodb.send(new ListTablesCommand({}));
          return [...StreamNames, ...TableNames].filter((n) => n.startsWith(`${prefix}-`));
        };
        const deadline = Date.now() + 5_000;
        let left = await leftovers();
        while (left.length > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          left = await leftovers();
        }
        expect(left, run.stderr).toEqual([]);
      } finally {
        clients.kinesis.destroy();
        clients.dynamodb.destroy();
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

// Checks made before any backend is reached: running them on moto again would prove nothing.
describe.runIf(onEmbedded)('replay failures', () => {
  it('a missing input file: exit 1 and a message naming it', async () => {
    const run = await runCli([
      '--input',
      'events/no-such-file.jsonl',
      '--out',
      path.join(tmpdir(), 'wp-never'),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('cannot read input events/no-such-file.jsonl: no such file');
  });

  it('a bad flag: exit 2 and a message naming the flag', async () => {
    const run = await runCli(['--input', DATASET, '--out', 'x', '--speed', '3']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown flag --speed');
    expect(run.stderr).toContain('--help');
  });

  it('fails before starting anything when the input cannot be read or the output cannot be written', async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'windowpane-replay-bad-'));
    try {
      const file = path.join(base, 'a-file');
      await writeFile(file, '');
      const common = { config, target: localClientOptions(endpoints), prefix: uniquePrefix('bad') };
      await expect(runReplay({ ...common, input: base, outDir: path.join(base, 'out') })).rejects.toThrow(
        ReplayInputError,
      );
      await expect(runReplay({ ...common, input: DATASET, outDir: path.join(file, 'out') })).rejects.toThrow(
        OutputDirError,
      );
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
