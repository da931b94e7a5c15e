/**
 * Batched DynamoDB calls that finish the job (STYLE.md "one batched-request helper"):
 * BatchGetItem of any number of keys and BatchWriteItem of any number of requests, split
 * at DynamoDB's per-request limits, asking again for what DynamoDB left unprocessed
 * (UnprocessedKeys / UnprocessedItems) with the BACKOFF.batchLeftovers policy, and
 * failing with a named error when leftovers remain after the policy's attempts.
 *
 * The caller builds each request's command: it alone knows the consistency and
 * projection it needs, and the command stays in the source of the module that sends it
 * to its table, which is where test/infra/grants.test.ts looks for it.
 */
import type {
  BatchGetCommand,
  BatchWriteCommand,
  BatchWriteCommandInput,
  DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { WindowpaneError } from '../domain/errors.js';
import { BACKOFF, type BackoffPolicy, backoffDelay, sleep } from './retry.js';

/** BatchGetItem reads at most 100 keys a request (DynamoDB limit). */
export const BATCH_GET_MAX_KEYS = 100;
/** BatchWriteItem writes at most 25 items a request (DynamoDB limit). */
export const BATCH_WRITE_MAX_ITEMS = 25;

/** DynamoDB write requests sent, counted by every writer that shares it (reports, bench). */
export interface WriteCounter {
  writes: number;
}

export type DynamoKey = Record<string, unknown>;
export type WriteRequest = NonNullable<BatchWriteCommandInput['RequestItems']>[string][number];

export class BatchLeftoversError extends WindowpaneError {
  readonly operation: 'BatchGetItem' | 'BatchWriteItem';
  readonly table: string;
  /** Keys or items still unprocessed when the helper gave up. */
  readonly left: number;
  readonly attempts: number;

  constructor(options: {
    operation: 'BatchGetItem' | 'BatchWriteItem';
    table: string;
    left: number;
    attempts: number;
  }) {
    const what = options.operation === 'BatchGetItem' ? 'keys' : 'items';
    super(
      `${options.operation} on ${options.table} left ${options.left} ${what} unprocessed after ${options.attempts} tries`,
    );
    this.operation = options.operation;
    this.table = options.table;
    this.left = options.left;
    this.attempts = options.attempts;
  }
}

export interface BatchGetOptions {
  table: string;
  keys: readonly DynamoKey[];
  /** The request for one slice of at most BATCH_GET_MAX_KEYS keys. */
  command: (keys: DynamoKey[]) => BatchGetCommand;
  policy?: BackoffPolicy;
}

/** Every item found for `keys` (absent keys are simply missing from the result). */
export async function batchGetAll(
  doc: DynamoDBDocumentClient,
  options: BatchGetOptions,
): Promise<Record<string, unknown>[]> {
  const { table } = options;
  const items: Record<string, unknown>[] = [];
  for (let i = 0; i < options.keys.length; i += BATCH_GET_MAX_KEYS) {
    await untilProcessed(
      'BatchGetItem',
      table,
      options.keys.slice(i, i + BATCH_GET_MAX_KEYS),
      options,
      async (keys) => {
        const out = await doc.send(options.command(keys));
        for (const item of out.Responses?.[table] ?? []) items.push(item);
        return out.UnprocessedKeys?.[table]?.Keys ?? [];
      },
    );
  }
  return items;
}

export interface BatchWriteOptions {
  table: string;
  requests: readonly WriteRequest[];
  /** The request for one slice of at most BATCH_WRITE_MAX_ITEMS write requests. */
  command: (requests: WriteRequest[]) => BatchWriteCommand;
  /** Counts every BatchWriteItem request sent, retries included. */
  counter?: WriteCounter;
  policy?: BackoffPolicy;
}

export async function batchWriteAll(doc: DynamoDBDocumentClient, options: BatchWriteOptions): Promise<void> {
  const { table } = options;
  for (let i = 0; i < options.requests.length; i += BATCH_WRITE_MAX_ITEMS) {
    const slice = options.requests.slice(i, i + BATCH_WRITE_MAX_ITEMS);
    await untilProcessed('BatchWriteItem', table, slice, options, async (requests) => {
      if (options.counter) options.counter.writes++;
      const out = await doc.send(options.command(requests));
      return out.UnprocessedItems?.[table] ?? [];
    });
  }
}

/** Sends `pending` until `send` reports nothing left, backing off between tries. */
async function untilProcessed<T>(
  operation: BatchLeftoversError['operation'],
  table: string,
  pending: T[],
  options: { policy?: BackoffPolicy },
  send: (pending: T[]) => Promise<T[]>,
): Promise<void> {
  const policy = options.policy ?? BACKOFF.batchLeftovers;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > policy.maxAttempts) {
      throw new BatchLeftoversError({ operation, table, left: pending.length, attempts: attempt - 1 });
    }
    if (attempt > 1) await sleep(backoffDelay(attempt - 1, policy));
    pending = await send(pending);
  }
}
