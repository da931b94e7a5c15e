/**
 * ALL_OLD against a real DynamoDB implementation: when the store's conditional put
 * fails, moto (like DynamoDB) returns the item as stored, and the conflict carries it
 * decoded as the state that won, with no second read. dynalite, the project's default
 * DynamoDB emulator, ignores ReturnValuesOnConditionCheckFailure, so this file starts
 * its own moto_server on a free port (the fallback read is covered by the sweeper race
 * tests on dynalite and test/unit/commit-conflict.test.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { newSensorState, type SensorRecord } from '../../functions/domain/state.js';
import { type AwsClients, createClients, localClientOptions } from '../../functions/lib/clients.js';
import { StateConflictError, WindowStateStore } from '../../functions/lib/state-store.js';
import { registerChild } from '../../local/cloud/emulators.js';
import { createActiveTable } from '../../local/cloud/provision.js';
import { record } from '../unit/factories.js';

const TABLE = 'state-conflict';
const T0 = Date.UTC(2026, 0, 1);
const config = parseConfig({ rules: [], windows: [{ type: 'tumbling', sizeMs: 60_000 }] });

let moto: ChildProcess | undefined;
let clients: AwsClients;
/** Command names sent by `clients.doc`, in order. */
const sent: string[] = [];

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address !== 'object') throw new Error('no free port assigned');
  return address.port;
}

beforeAll(async () => {
  const port = await freePort();
  moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  registerChild(moto);
  moto.once('error', (err) => {
    throw new Error(`could not start moto_server (pip install 'moto[server]'): ${err.message}`);
  });
  clients = createClients({
    ...localClientOptions({ dynamodb: `http://127.0.0.1:${port}` }),
    decorate: (client, service) => {
      if (service !== 'dynamodb') return client;
      const stack = client.middlewareStack as { add(mw: unknown, o: { step: string; name: string }): void };
      stack.add(
        (next: (a: unknown) => Promise<unknown>, ctx: { commandName?: string }) => (args: unknown) => {
          sent.push(ctx.commandName ?? '?');
          return next(args);
        },
        { step: 'initialize', name: 'recordCommands' },
      );
      return client;
    },
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await clients.dynamodb.send(new ListTablesCommand({}));
      break;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`moto_server did not answer on port ${port}`, { cause: err });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await createActiveTable(clients.dynamodb, {
    TableName: TABLE,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'sensorId', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'sensorId', KeyType: 'HASH' }],
  });
});

afterAll(async () => {
  clients?.dynamodb.destroy();
  if (moto && moto.exitCode === null && moto.signalCode === null) {
    const exited = once(moto, 'exit');
    moto.kill('SIGTERM');
    await exited;
  }
});

const store = () => new WindowStateStore({ doc: clients.doc, tableName: TABLE, ttlDays: 1 });
const recs = (sensorId: string, from: number, n: number): SensorRecord[] =>
  Array.from({ length: n }, (_, i) => record(sensorId, T0 + (from + i) * 1_000, 20 + i, from + i));

/** Runs `commit` and returns the conflict it must fail with, and the commands it sent. */
async function conflictOf(
  commit: () => Promise<unknown>,
): Promise<{ err: StateConflictError; commands: string[] }> {
  const before = sent.length;
  const err = await commit().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StateConflictError);
  return { err: err as StateConflictError, commands: sent.slice(before) };
}

describe('State store: a failed conditional put returns the state that won (ALL_OLD)', () => {
  it('a stale version gets the stored state, equal to a fresh read, without a read', async () => {
    const s = store();
    const v0 = newSensorState('stale');
    const v1 = await s.commit(v0, foldSensorRecords(v0, recs('stale', 0, 3), config).state);
    const v2 = await s.commit(v1, foldSensorRecords(v1, recs('stale', 3, 2), config).state);
    const zombie = foldSensorRecords(v1, recs('stale', 3, 4), config).state;
    const { err, commands } = await conflictOf(() => s.commit(v1, zombie));
    expect(commands).toEqual(['PutItemCommand']);
    expect(err.expectedVersion).toBe(1);
    expect(err.current?.version).toBe(2);
    expect(err.current).toEqual(await s.load('stale'));
    expect(err.current?.applied).toEqual(v2.applied);
  });

  it('a first write that finds the item already created gets that item', async () => {
    const s = store();
    const v0 = newSensorState('first');
    const winner = await s.commit(v0, foldSensorRecords(v0, recs('first', 0, 2), config).state);
    const { err, commands } = await conflictOf(() =>
      s.commit(v0, foldSensorRecords(v0, recs('first', 0, 5), config).state),
    );
    expect(commands).toEqual(['PutItemCommand']);
    expect(err.current).toEqual(await s.load('first'));
    expect(err.current?.windows).toEqual(winner.windows);
  });
});
