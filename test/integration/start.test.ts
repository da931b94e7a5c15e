/**
 * `npm start` as a user runs it, in line mode (stdout is a pipe): it shows final windows and
 * alerts within seconds, ends by itself with --duration, and on Ctrl-C (SIGINT to the whole
 * process group, through npm and tsx, as a terminal sends it) or SIGTERM stops cleanly,
 * exits 130 / 143 and leaves no kinesis-local behind.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { isProcessAlive } from '../../local/cloud/emulators.js';
import { uniquePrefix } from '../../local/cloud/index.js';
import { REPO_ROOT } from '../../local/config.js';
import { startLocalPipeline } from '../../local/pipeline/index.js';

interface Started {
  child: ChildProcess;
  output: () => string;
  /** Exit status as a shell reports it: the code, or 128 + the signal's number. */
  exited: Promise<number | null>;
}

const started: Started[] = [];

function start(command: 'node' | 'npm', args: string[]): Started {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('AWS_ENDPOINT_URL')) delete env[name];
  const child =
    command === 'node'
      ? spawn(process.execPath, ['--import', 'tsx', 'local/cli/start.ts', ...args], { cwd: REPO_ROOT, env })
      : // Its own process group, so the test can signal the group as a terminal's Ctrl-C does.
        spawn('npm', ['start', '--silent', '--', ...args], { cwd: REPO_ROOT, env, detached: true });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ? 128 + osConstants.signals[signal] : code)),
  );
  const s = { child, output: () => output, exited };
  started.push(s);
  return s;
}

async function waitForOutput(s: Started, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = s.output().match(pattern);
    if (m) return m;
    if (Date.now() > deadline || s.child.exitCode !== null) {
      throw new Error(`no ${pattern} in the output:\n${s.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function kinesisPidOf(s: Started): number {
  const m = s.output().match(/kinesis-local pid (\d+)/);
  if (!m) throw new Error(`no kinesis-local pid in the output:\n${s.output()}`);
  return Number(m[1]);
}

/** The kinesis-local child is SIGKILLed and reaped around the parent's exit. */
async function expectGone(pid: number): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (isProcessAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(isProcessAlive(pid)).toBe(false);
}

afterEach(() => {
  // A failed assertion must not leave a pipeline running.
  for (const s of started.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      if (s.child.spawnargs[0] === 'npm' && s.child.pid) process.kill(-s.child.pid, 'SIGKILL');
      else s.child.kill('SIGKILL');
    }
  }
});

describe('npm start', () => {
  it('shows final windows and alerts within seconds, then ends by itself with --duration (exit 0)', async () => {
    const s = start('node', ['--duration', '12s', '--sensors', '3']);
    const code = await s.exited;
    const out = s.output();
    expect(code).toBe(0);
    expect(out).toMatch(/^\[\s*[\d.]+s\] window {2}sensor_\d+ tumbling .* count \d+ mean/m);
    expect(out).toMatch(/^\[\s*[\d.]+s\] alert {3}(critical|warning) (too-hot|too-cold|jump) sensor_\d+/m);
    expect(out).toMatch(/^\[\s*[\d.]+s\] status {2}sent \d+, processed \d+/m);
    // Where `npm run rules` finds this run's rules table (A-R4, A-R5).
    expect(out).toMatch(
      /^rules at runtime: npm run rules -- list --endpoint http:\/\/\S+:\d+ --table windowpane-Rules \(applied within 30 s of a change\)$/m,
    );
    expect(out).toMatch(/^stopped \(duration reached\)/m);
    // The backfill closes windows at once, so the first window shows with the first batch:
    // within the default batching window (5 s) and some start-up margin.
    const first = out.match(/^\[\s*([\d.]+)s\] window/m);
    expect(Number(first?.[1])).toBeLessThan(10);
    await expectGone(kinesisPidOf(s));
  });

  it('Ctrl-C (SIGINT to the process group of `npm start`): clean stop, exit 130, no emulator left', async () => {
    const s = start('npm', ['--sensors', '2']);
    await waitForOutput(s, /^pipeline running/m);
    const pid = kinesisPidOf(s);
    expect(isProcessAlive(pid)).toBe(true);
    process.kill(-s.child.pid!, 'SIGINT');
    // npm ends itself with the signal its script died of: a shell shows 130 either way.
    expect(await s.exited).toBe(130);
    expect(s.output()).toMatch(/^stopped \(SIGINT\) after [\d.]+ s; emulators stopped/m);
    expect(s.output()).toMatch(/^summary: sent \d+/m);
    await expectGone(pid);
  });

  it('SIGTERM: clean stop, exit 143, no emulator left', async () => {
    const s = start('node', ['--sensors', '2']);
    await waitForOutput(s, /^pipeline running/m);
    const pid = kinesisPidOf(s);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(143);
    expect(s.output()).toMatch(/^stopped \(SIGTERM\)/m);
    await expectGone(pid);
  });

  it('--format avro --mqtt --lake DIR: Avro readings, a broker whose printed mosquitto_pub line works, Parquet windows', async () => {
    const lake = await mkdtemp(path.join(tmpdir(), 'windowpane-start-lake-'));
    try {
      const s = start('node', [
        ...['--duration', '25s', '--sensors', '2', '--no-dashboard'],
        ...['--format', 'avro', '--mqtt', '--lake', lake],
      ]);
      const [printed] = await waitForOutput(s, /^ {2}mosquitto_pub .*$/m, 60_000);
      await promisify(execFile)('sh', ['-c', printed!.trim()]);
      expect(await s.exited).toBe(0);
      const out = s.output();
      expect(out).toMatch(/^format: Avro, Glue Schema Registry framing/m);
      expect(out).toMatch(/^mqtt: broker at mqtt:\/\/127\.0\.0\.1:\d+/m);
      // Every valid simulated reading was Avro: windows show only if the handler read them.
      expect(out).toMatch(/^\[\s*[\d.]+s\] window {2}sensor_\d+ tumbling/m);
      expect(out).toMatch(/^\[\s*[\d.]+s\] alert {3}\w+ too-hot my-sensor/m);
      const rows = Number(out.match(/^lake: (\d+) rows in \d+ file/m)?.[1]);
      expect(rows).toBeGreaterThan(0);
      const parts = await readdir(path.join(lake, 'windows'));
      expect(parts.every((d) => /^dt=\d{4}-\d{2}-\d{2}$/.test(d))).toBe(true);
      await expectGone(kinesisPidOf(s));
    } finally {
      await rm(lake, { recursive: true, force: true });
    }
  });

  it('a bad flag: exit 2 with a message naming the flag, nothing started', async () => {
    const s = start('node', ['--sensors', 'many']);
    expect(await s.exited).toBe(2);
    expect(s.output()).toContain('flag --sensors must be a whole number, got "many"');
    expect(s.output()).not.toContain('kinesis-local pid');
  });
});

describe('the live pipeline (what npm start runs)', () => {
  // Per batch, and with carried state (the default) at W = idleTimeoutMs (CS8: a shard
  // silent altogether is handed back at its window's final invocation, within W).
  it.each([
    ['per batch', 0],
    ['carried state', 1],
  ])(
    'runs the idle sweeper, %s: the open window of a silent sensor is flushed after idleTimeoutMs',
    async (_, w) => {
      const config = parseConfig({ idleTimeoutMs: 1_000, eventSource: { tumblingWindowSeconds: w } });
      const pipeline = await startLocalPipeline({
        config,
        target: localClientOptions(inject('endpoints')),
        prefix: uniquePrefix('sweep'),
        resourceSource: 'config',
        idleSweep: true,
        idleSweepIntervalMs: 300,
      });
      try {
        const timestamp = Date.now();
        await pipeline.clients.kinesis.send(
          new PutRecordsCommand({
            StreamName: pipeline.resources.stream.name,
            Records: [
              {
                PartitionKey: 's-1',
                Data: Buffer.from(JSON.stringify({ sensorId: 's-1', temperature: 21, timestamp })),
              },
            ],
          }),
        );
        await pipeline.mapping.drain();
        // No flush is called: only the sweeper can close the window (its end is a minute away).
        const deadline = Date.now() + 10_000;
        let windows = (await pipeline.collect({ waitMs: 0 })).windows;
        while (windows.length === 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
          windows = (await pipeline.collect({ waitMs: 0 })).windows;
        }
        expect(windows).toMatchObject([{ sensorId: 's-1', count: 1, sum: 21 }]);
        expect(windows[0]!.windowEnd).toBeGreaterThan(timestamp);
      } finally {
        await pipeline.stop();
      }
    },
  );
});
