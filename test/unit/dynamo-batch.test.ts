/**
 * The batched DynamoDB helper: requests split at DynamoDB's limits, and what DynamoDB
 * leaves unprocessed asked for again until done or the policy gives up. The emulators
 * never leave keys unprocessed, so the client is mocked here (a failure path they cannot
 * produce).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BATCH_GET_MAX_KEYS,
  BATCH_WRITE_MAX_ITEMS,
  BatchLeftoversError,
  batchGetAll,
  batchWriteAll,
  type DynamoKey,
  type WriteRequest,
} from '../../functions/lib/dynamo-batch.js';
import type { BackoffPolicy } from '../../functions/lib/retry.js';

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const mock = mockClient(doc);
afterEach(() => mock.reset());

const TABLE = 'things';
/** Real backoff shape, tiny delays: the test is about the loop, not the waiting. */
const FAST: BackoffPolicy = { baseMs: 1, maxMs: 2, jitter: 'full', maxAttempts: 4 };
const keysOf = (n: number): DynamoKey[] => Array.from({ length: n }, (_, i) => ({ id: `k${i}` }));
const getCommand = (keys: DynamoKey[]) => new BatchGetCommand({ RequestItems: { [TABLE]: { Keys: keys } } });
const requestedKeys = () =>
  mock.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems?.[TABLE]?.Keys ?? []);

describe('batchGetAll', () => {
  it(`reads at most ${BATCH_GET_MAX_KEYS} keys a request and returns every item found`, async () => {
    mock.on(BatchGetCommand).callsFake((input) => ({
      Responses: { [TABLE]: input.RequestItems[TABLE].Keys.map((k: DynamoKey) => ({ ...k, found: true })) },
    }));
    const items = await batchGetAll(doc, {
      table: TABLE,
      keys: keysOf(250),
      command: getCommand,
      policy: FAST,
    });
    expect(requestedKeys().map((k) => k.length)).toEqual([100, 100, 50]);
    expect(items.map((i) => i.id)).toEqual(keysOf(250).map((k) => k.id));
  });

  it('asks again for the unprocessed keys only, until none are left', async () => {
    const keys = keysOf(4);
    mock
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [keys[0]!, keys[1]!] },
        UnprocessedKeys: { [TABLE]: { Keys: [keys[2]!, keys[3]!] } },
      })
      .resolvesOnce({
        Responses: { [TABLE]: [keys[3]!] },
        UnprocessedKeys: { [TABLE]: { Keys: [keys[2]!] } },
      })
      .resolvesOnce({ Responses: { [TABLE]: [keys[2]!] } });
    const items = await batchGetAll(doc, { table: TABLE, keys, command: getCommand, policy: FAST });
    expect(requestedKeys()).toEqual([keys, [keys[2], keys[3]], [keys[2]]]);
    expect(items.map((i) => i.id).sort()).toEqual(['k0', 'k1', 'k2', 'k3']);
  });

  it('gives up after the policy maxAttempts with an error naming the table and what was left', async () => {
    mock.on(BatchGetCommand).resolves({ UnprocessedKeys: { [TABLE]: { Keys: keysOf(3) } } });
    const call = batchGetAll(doc, { table: TABLE, keys: keysOf(3), command: getCommand, policy: FAST });
    await expect(call).rejects.toThrow(BatchLeftoversError);
    await expect(call).rejects.toThrow('BatchGetItem on things left 3 keys unprocessed after 4 tries');
    expect(mock.commandCalls(BatchGetCommand)).toHaveLength(FAST.maxAttempts);
  });

  it('sends nothing for no keys', async () => {
    expect(await batchGetAll(doc, { table: TABLE, keys: [], command: getCommand })).toEqual([]);
    expect(mock.calls()).toHaveLength(0);
  });
});

describe('batchWriteAll', () => {
  const requestsOf = (n: number): WriteRequest[] =>
    Array.from({ length: n }, (_, i) => ({ PutRequest: { Item: { id: `k${i}` } } }));
  const writeCommand = (requests: WriteRequest[]) =>
    new BatchWriteCommand({ RequestItems: { [TABLE]: requests } });
  const written = () =>
    mock.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems?.[TABLE] ?? []);

  it(`writes at most ${BATCH_WRITE_MAX_ITEMS} items a request, re-sends the unprocessed ones, and counts every request`, async () => {
    const requests = requestsOf(30);
    mock
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { [TABLE]: requests.slice(20, 25) } })
      .resolves({});
    const counter = { writes: 0 };
    await batchWriteAll(doc, { table: TABLE, requests, command: writeCommand, counter, policy: FAST });
    expect(written()).toEqual([requests.slice(0, 25), requests.slice(20, 25), requests.slice(25)]);
    expect(counter.writes).toBe(3);
  });

  it('gives up after the policy maxAttempts with an error naming the table', async () => {
    const requests = requestsOf(2);
    mock.on(BatchWriteCommand).resolves({ UnprocessedItems: { [TABLE]: requests } });
    await expect(
      batchWriteAll(doc, { table: TABLE, requests, command: writeCommand, policy: FAST }),
    ).rejects.toThrow('BatchWriteItem on things left 2 items unprocessed after 4 tries');
    expect(mock.commandCalls(BatchWriteCommand)).toHaveLength(FAST.maxAttempts);
  });
});
