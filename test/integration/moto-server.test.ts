/**
 * moto_server as the local cloud starts it (local/cloud/moto.ts): on a free 127.0.0.1
 * port, answering every service windowpane uses on one endpoint, and never outliving the
 * process that started it: not after SIGINT (Ctrl-C), SIGTERM, process.exit or SIGKILL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { ListTopicsCommand } from '@aws-sdk/client-sns';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createClients, localClientOptions } from '../../functions/lib/clients.js';
import { isProcessAlive } from '../../local/cloud/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/moto-process.ts', import.meta.url));

/** Pids of live moto_server processes listening on `port` (from their command lines). */
function motoPids(port: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    // The supervisor's command line names moto_server too; the Python process is the one.
    const isMoto =
      argv.some((a) => a.endsWith('moto_server')) && !argv.some((a) => a.endsWith('supervise.cjs'));
    if (isMoto && argv.includes(port) && isProcessAlive(Number(entry))) pids.push(Number(entry));
  }
  return pids;
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

interface Started {
  child: ChildProcess;
  port: string;
  supervisorPid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Started[] = [];
afterEach(() => {
  for (const s of started.splice(0)) {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    for (const pid of [s.supervisorPid, ...motoPids(s.port)])
      if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
  }
});

async function startFixture(mode: 'wait' | 'exit'): Promise<Started> {
  const { NODE_OPTIONS: _ignored, ...env } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = await new Promise<{ supervisorPid: number; endpoint: string }>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.includes('"ready"'));
      if (line) resolve(JSON.parse(line) as { supervisorPid: number; endpoint: string });
    });
    void exited.then((e) =>
      reject(new Error(`fixture exited (${e.code ?? e.signal}) before ready: ${stderr}`)),
    );
  });
  const s: Started = {
    child,
    port: new URL(ready.endpoint).port,
    supervisorPid: ready.supervisorPid,
    exited,
  };
  started.push(s);
  expect(motoPids(s.port)).toHaveLength(1);
  return s;
}

describe('moto_server under the local cloud', () => {
  it('serves Kinesis, DynamoDB, SNS and SQS on the one endpoint the setup provides', async () => {
    const endpoints = inject('endpoints');
    expect(new Set(Object.values(endpoints)).size).toBe(1);
    expect(new URL(endpoints.kinesis).hostname).toBe('127.0.0.1');
    const clients = createClients(localClientOptions(endpoints));
    try {
      await clients.kinesis.send(new ListStreamsCommand({}));
      await clients.dynamodb.send(new ListTablesCommand({}));
      await clients.sns.send(new ListTopicsCommand({}));
      await clients.sqs.send(new ListQueuesCommand({}));
    } finally {
      for (const c of [clients.kinesis, clients.dynamodb, clients.sns, clients.sqs]) c.destroy();
    }
  });

  // SIGTERM takes the same handler (local/cloud/processes.ts; cloud.test.ts covers both).
  it('SIGINT (Ctrl-C) to the process that started it: moto_server stops, exit 130', async () => {
    const s = await startFixture('wait');
    s.child.kill('SIGINT');
    expect(await s.exited).toEqual({ code: 130, signal: null });
    expect(await waitUntil(() => motoPids(s.port).length === 0, 3_000)).toBe(true);
    expect(isProcessAlive(s.supervisorPid)).toBe(false);
  });

  it('process.exit without stop(): the exit hook kills moto_server with its supervisor', async () => {
    const s = await startFixture('exit');
    s.child.stdin?.write('go\n');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(await waitUntil(() => motoPids(s.port).length === 0, 3_000)).toBe(true);
  });

  it('SIGKILL of the process that started it: the watchdog takes moto_server down', async () => {
    const s = await startFixture('wait');
    s.child.kill('SIGKILL');
    expect(await s.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await waitUntil(() => motoPids(s.port).length === 0, 5_000)).toBe(true);
    expect(await waitUntil(() => !isProcessAlive(s.supervisorPid), 2_000)).toBe(true);
  });
});
