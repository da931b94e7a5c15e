/** dynalite (DynamoDB) in-process and in memory, on a free port, tables ACTIVE at once. */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { answeringOrStopped, EmulatorStartError, listen, type RunningService } from './startup.js';

interface DynaliteOptions {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}
type Dynalite = (options: DynaliteOptions) => Server;

export async function startDynalite(timeoutMs: number): Promise<RunningService> {
  // dynalite is CommonJS without type declarations.
  const dynalite = createRequire(import.meta.url)('dynalite') as Dynalite;
  // No `path`: an in-memory store. Zero table delays: tables are ACTIVE at once.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  let port: number;
  try {
    port = await listen(server);
  } catch (err) {
    throw new EmulatorStartError('dynalite', `could not listen: ${(err as Error).message}`);
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!server.listening) return;
    // Idle keep-alive sockets of SDK clients would otherwise hold close() open.
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  };
  return answeringOrStopped(
    { endpoint, stop },
    'dynalite',
    'ListTables',
    { dynamodb: endpoint },
    (clients, abortSignal) => clients.dynamodb.send(new ListTablesCommand({}), { abortSignal }),
    timeoutMs,
  );
}
