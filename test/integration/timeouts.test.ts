/**
 * No hang without a message (issue 13, item 4): every client has connection and request
 * timeouts, the local pipeline's set-up has a deadline, and each failure names the
 * endpoint and what was being done. The endpoint here is a TCP server that accepts
 * connections and never answers; bad endpoint variables and flags are refused up front.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../functions/domain/config.js';
import {
  createClients,
  destroyClients,
  HANDLER_TIMEOUTS,
  localClientOptions,
} from '../../functions/lib/clients.js';
import { REPO_ROOT } from '../../local/config.js';
import { SetupTimeoutError, startLocalPipeline } from '../../local/pipeline/index.js';

const DATASET = 'events/readings-small.jsonl';

/** Accepts every connection, reads what it is sent, never writes a byte. */
function silentServer(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        connections: () => connections,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

function runReplayCli(args: string[], env: Record<string, string> = {}) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(childEnv)) if (name.startsWith('AWS_ENDPOINT_URL')) delete childEnv[name];
  Object.assign(childEnv, env);
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/cli/replay.ts', ...args], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdout.resume();
  return new Promise<{ code: number | null; stderr: string; ms: number }>((resolve) => {
    child.on('exit', (code) => resolve({ code, stderr, ms: Date.now() - started }));
  });
}

let server: Awaited<ReturnType<typeof silentServer>>;
let outDir: string;

beforeAll(async () => {
  server = await silentServer();
  outDir = await mkdtemp(path.join(tmpdir(), 'windowpane-timeouts-'));
});

afterAll(async () => {
  await server.close();
  await rm(outDir, { recursive: true, force: true });
});

describe('SDK clients', () => {
  it('give up on an endpoint that never answers, naming the service, operation and endpoint', async () => {
    const clients = createClients({
      ...localClientOptions({ kinesis: server.url }),
      timeouts: { requestMs: 300 },
      maxAttempts: 2,
    });
    const started = Date.now();
    try {
      const call = clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'any' }));
      await expect(call).rejects.toMatchObject({ name: 'TimeoutError' });
      await expect(call).rejects.toThrow(
        `Kinesis DescribeStreamSummary to ${server.url} got no answer (2 attempts)`,
      );
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      destroyClients(clients);
    }
  });

  it('have timeouts without options: the handler limit, below the smallest function timeout (3 s)', async () => {
    const clients = createClients({
      ...localClientOptions({ kinesis: server.url }),
      timeouts: undefined,
      maxAttempts: 1,
    });
    try {
      await expect(
        clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'any' })),
      ).rejects.toThrow(`exceeded the configured ${HANDLER_TIMEOUTS.requestMs} ms requestTimeout`);
      expect(HANDLER_TIMEOUTS.requestMs).toBeLessThan(3_000);
    } finally {
      destroyClients(clients);
    }
  });
});

describe('local pipeline set-up', () => {
  it('fails within its deadline on an endpoint that never answers, naming the step and endpoint', async () => {
    const endpoints = { kinesis: server.url, dynamodb: server.url, sns: server.url, sqs: server.url };
    const started = Date.now();
    const run = startLocalPipeline({
      config: DEFAULT_CONFIG,
      target: localClientOptions(endpoints),
      resourceSource: 'config',
      setupTimeoutMs: 1_500,
    });
    await expect(run).rejects.toThrow(SetupTimeoutError);
    await expect(run).rejects.toThrow(
      `set-up did not finish within 1.5 s: still creating the stream, tables, topic and queues ` +
        `and waiting for them to be ACTIVE on ${server.url}`,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(server.connections()).toBeGreaterThan(0);
  });
});

describe('npm run replay', () => {
  const replayOnSilentEndpoint = (...flags: string[]) =>
    runReplayCli(['--input', DATASET, '--out', outDir, '--endpoint', server.url, '-q', ...flags]);

  it('on a silent --endpoint: exit 1 within --setup-timeout, naming it', async () => {
    const r = await replayOnSilentEndpoint('--setup-timeout', '2s');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`replay: SetupTimeoutError: set-up did not finish within 2 s: still creating`);
    expect(r.stderr).toContain(`on ${server.url}`);
    expect(r.stderr).toContain('--setup-timeout sets the limit');
    // Process start-up (tsx, slow on a loaded machine) plus the 2 s budget: far below the
    // 90 s the SDK alone would take (3 attempts of 30 s).
    expect(r.ms).toBeLessThan(45_000);
  });

  it('with a short --request-timeout: the SDK gives up first, and the error names the call', async () => {
    const r = await replayOnSilentEndpoint('--request-timeout', '300ms');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`replay: SetupError: creating the stream, .* on ${server.url} failed: TimeoutError: `),
    );
    expect(r.stderr).toMatch(new RegExp(`(Kinesis|DynamoDB|SNS|SQS) \\w+ to ${server.url} got no answer`));
  });

  it.each([
    [
      { AWS_ENDPOINT_URL: 'garbage' },
      'AWS_ENDPOINT_URL must be a URL such as http://localhost:4566, got "garbage"',
    ],
    [
      { AWS_ENDPOINT_URL: 'http://localhost:4566', AWS_ENDPOINT_URL_SQS: 'ftp://queues' },
      'AWS_ENDPOINT_URL_SQS must be an http(s) URL',
    ],
  ])('refuses a malformed endpoint variable, naming it (exit 2): %j', async (env, message) => {
    const r = await runReplayCli(['--input', DATASET, '--out', outDir], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('refuses --keep-resources without --endpoint (exit 2)', async () => {
    const r = await runReplayCli(['--input', DATASET, '--out', outDir, '--keep-resources']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('flag --keep-resources needs --endpoint URL');
  });
});
