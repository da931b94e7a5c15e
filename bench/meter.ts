/**
 * Counts what a pipeline asks of AWS, through client middleware (the `decorate` hook of
 * the one client factory): DynamoDB write and read requests with the capacity units they
 * would consume on AWS, SNS publishes, SQS requests. The capacity units follow the
 * DynamoDB developer guide's item-size rules (attribute names plus values; numbers about
 * one byte per two significant digits plus one; one write unit per started KB, one
 * strongly consistent read unit per started 4 KB, per item), so they are estimates of
 * what AWS would bill, not what the emulator reports (dynalite reports none).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { ClientOptions } from '../functions/lib/clients.js';

export const DYNAMODB_WRITE_COMMANDS = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);
export const DYNAMODB_READ_COMMANDS = new Set([
  'GetItemCommand',
  'BatchGetItemCommand',
  'QueryCommand',
  'ScanCommand',
]);

export interface MeterTotals {
  dynamodb: {
    writeRequests: number;
    /** Items written (a BatchWriteItem request writes several). */
    writeItems: number;
    writeUnits: number;
    readRequests: number;
    /** Keys asked for (found or not). */
    readItems: number;
    readUnits: number;
    /** Requests per command name. */
    byCommand: Record<string, number>;
    /** Write and read units per table (where the units of the totals go). */
    byTable: Record<string, TableUnits>;
  };
  /** Sizes of items written to the table named `itemSizeTable` (the state table). */
  trackedItems: { count: number; totalBytes: number; maxBytes: number };
  sns: { publishes: number };
  sqs: { requests: number; messages: number };
  /** Kinesis requests per command (the handler reads the stream only to catch a carried state up). */
  kinesis: { requests: number; byCommand: Record<string, number> };
}

export interface TableUnits {
  writeItems: number;
  writeUnits: number;
  readItems: number;
  readUnits: number;
}

const noUnits = (): TableUnits => ({ writeItems: 0, writeUnits: 0, readItems: 0, readUnits: 0 });

export function emptyTotals(): MeterTotals {
  return {
    dynamodb: {
      writeRequests: 0,
      writeItems: 0,
      writeUnits: 0,
      readRequests: 0,
      readItems: 0,
      readUnits: 0,
      byCommand: {},
      byTable: {},
    },
    trackedItems: { count: 0, totalBytes: 0, maxBytes: 0 },
    sns: { publishes: 0 },
    sqs: { requests: 0, messages: 0 },
    kinesis: { requests: 0, byCommand: {} },
  };
}

/** `after - before`, field by field. */
export function diffTotals(after: MeterTotals, before: MeterTotals): MeterTotals {
  const byCommand = diffCounts(after.dynamodb.byCommand, before.dynamodb.byCommand);
  const a = after.dynamodb;
  const b = before.dynamodb;
  return {
    dynamodb: {
      writeRequests: a.writeRequests - b.writeRequests,
      writeItems: a.writeItems - b.writeItems,
      writeUnits: a.writeUnits - b.writeUnits,
      readRequests: a.readRequests - b.readRequests,
      readItems: a.readItems - b.readItems,
      readUnits: a.readUnits - b.readUnits,
      byCommand,
      byTable: diffTables(a.byTable, b.byTable),
    },
    trackedItems: {
      count: after.trackedItems.count - before.trackedItems.count,
      totalBytes: after.trackedItems.totalBytes - before.trackedItems.totalBytes,
      // A maximum cannot be differenced: this is the maximum over the whole meter's life.
      maxBytes: after.trackedItems.maxBytes,
    },
    sns: { publishes: after.sns.publishes - before.sns.publishes },
    sqs: {
      requests: after.sqs.requests - before.sqs.requests,
      messages: after.sqs.messages - before.sqs.messages,
    },
    kinesis: {
      requests: after.kinesis.requests - before.kinesis.requests,
      byCommand: diffCounts(after.kinesis.byCommand, before.kinesis.byCommand),
    },
  };
}

function diffCounts(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] ?? 0);
    if (d !== 0) out[name] = d;
  }
  return out;
}

function diffTables(
  after: Record<string, TableUnits>,
  before: Record<string, TableUnits>,
): Record<string, TableUnits> {
  const out: Record<string, TableUnits> = {};
  for (const [table, a] of Object.entries(after)) {
    const b = before[table] ?? noUnits();
    const d: TableUnits = {
      writeItems: a.writeItems - b.writeItems,
      writeUnits: a.writeUnits - b.writeUnits,
      readItems: a.readItems - b.readItems,
      readUnits: a.readUnits - b.readUnits,
    };
    if (d.writeItems !== 0 || d.readItems !== 0 || d.writeUnits !== 0 || d.readUnits !== 0) out[table] = d;
  }
  return out;
}

type Item = Record<string, AttributeValue>;

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Size of one attribute value, per the DynamoDB developer guide's item-size rules. */
export function attributeValueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return utf8Bytes(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((n, s) => n + utf8Bytes(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((n, s) => n + numberBytes(s), 0);
  if (value.BS !== undefined) return value.BS.reduce((n, b) => n + b.byteLength, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((n, v) => n + 1 + attributeValueBytes(v), 0);
  if (value.M !== undefined) {
    let n = 3;
    for (const [name, v] of Object.entries(value.M)) n += 1 + utf8Bytes(name) + attributeValueBytes(v);
    return n;
  }
  return 0;
}

/** "Approximately (1 byte per two significant digits) + (1 byte)". */
function numberBytes(text: string): number {
  const digits = text
    .replace(/^-/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

export function itemBytes(item: Item): number {
  let n = 0;
  for (const [name, value] of Object.entries(item)) n += utf8Bytes(name) + attributeValueBytes(value);
  return n;
}

export const writeUnitsOf = (bytes: number) => Math.max(1, Math.ceil(bytes / 1_024));
export const strongReadUnitsOf = (bytes: number) => Math.max(1, Math.ceil(bytes / 4_096));

interface Middleware {
  add(
    mw: (
      next: (args: unknown) => Promise<unknown>,
      context: { commandName?: string },
    ) => (args: unknown) => Promise<unknown>,
    opts: { step: string; name: string; priority?: string },
  ): void;
}

interface BuildArgs {
  input: Record<string, unknown>;
}

/**
 * Meters every client built with `meter.decorate`. Counting happens at the build step,
 * after the document client has marshalled its input, once per request (SDK retries
 * happen below it and are not counted twice).
 */
export class RequestMeter {
  totals: MeterTotals = emptyTotals();

  /** @param itemSizeTable table whose written item sizes are tracked (the state table). */
  constructor(public itemSizeTable?: string) {}

  snapshot(): MeterTotals {
    return structuredClone(this.totals);
  }

  readonly decorate: NonNullable<ClientOptions['decorate']> = (client, service) => {
    const stack = client.middlewareStack as Middleware;
    stack.add(
      (next, context) => async (args) => {
        const name = context.commandName ?? '';
        const input = (args as BuildArgs).input ?? {};
        if (service === 'dynamodb') this.beforeDynamo(name, input);
        else if (service === 'sns' && (name === 'PublishCommand' || name === 'PublishBatchCommand')) {
          this.totals.sns.publishes +=
            name === 'PublishCommand' ? 1 : ((input.PublishBatchRequestEntries as unknown[]) ?? []).length;
        } else if (service === 'kinesis') {
          const k = this.totals.kinesis;
          k.requests++;
          k.byCommand[name] = (k.byCommand[name] ?? 0) + 1;
        } else if (service === 'sqs') {
          this.totals.sqs.requests++;
          if (name === 'SendMessageBatchCommand')
            this.totals.sqs.messages += ((input.Entries as unknown[]) ?? []).length;
          else if (name === 'SendMessageCommand') this.totals.sqs.messages++;
        }
        const output = await next(args);
        if (service === 'dynamodb' && DYNAMODB_READ_COMMANDS.has(name))
          this.afterDynamoRead(name, input, output);
        return output;
      },
      { step: 'build', name: 'benchRequestMeter' },
    );
    return client;
  };

  private beforeDynamo(name: string, input: Record<string, unknown>): void {
    const d = this.totals.dynamodb;
    d.byCommand[name] = (d.byCommand[name] ?? 0) + 1;
    if (!DYNAMODB_WRITE_COMMANDS.has(name)) return;
    d.writeRequests++;
    const table = input.TableName as string | undefined;
    if (name === 'PutItemCommand') {
      this.written(table, input.Item as Item);
    } else if (name === 'UpdateItemCommand') {
      // The item after the update is at least its key plus the values set: a lower bound.
      const values = (input.ExpressionAttributeValues as Item | undefined) ?? {};
      this.written(table, { ...(input.Key as Item), ...values });
    } else if (name === 'DeleteItemCommand') {
      this.written(table, input.Key as Item);
    } else if (name === 'BatchWriteItemCommand') {
      const requests = input.RequestItems as Record<
        string,
        { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]
      >;
      for (const [t, list] of Object.entries(requests ?? {})) {
        for (const r of list) this.written(t, r.PutRequest?.Item ?? r.DeleteRequest?.Key ?? {});
      }
    }
  }

  private table(name: string | undefined): TableUnits {
    const byTable = this.totals.dynamodb.byTable;
    const key = name ?? '?';
    byTable[key] ??= noUnits();
    return byTable[key];
  }

  private written(table: string | undefined, item: Item): void {
    const bytes = itemBytes(item);
    this.totals.dynamodb.writeItems++;
    this.totals.dynamodb.writeUnits += writeUnitsOf(bytes);
    const t = this.table(table);
    t.writeItems++;
    t.writeUnits += writeUnitsOf(bytes);
    if (table !== undefined && table === this.itemSizeTable) {
      const tracked = this.totals.trackedItems;
      tracked.count++;
      tracked.totalBytes += bytes;
      if (bytes > tracked.maxBytes) tracked.maxBytes = bytes;
    }
  }

  private afterDynamoRead(name: string, input: Record<string, unknown>, output: unknown): void {
    const d = this.totals.dynamodb;
    d.readRequests++;
    const out = (output as { output?: Record<string, unknown> }).output ?? {};
    if (name === 'GetItemCommand') {
      const item = out.Item as Item | undefined;
      this.read(input.TableName as string | undefined, 1, strongReadUnitsOf(item ? itemBytes(item) : 0));
    } else if (name === 'BatchGetItemCommand') {
      // Each key is its own read, rounded up on its own; a key not found still costs a unit.
      // Unprocessed keys were not read (they are asked for again and counted then).
      const requested = input.RequestItems as Record<string, { Keys: Item[] }>;
      const responses = (out.Responses as Record<string, Item[]> | undefined) ?? {};
      const unprocessed = (out.UnprocessedKeys as Record<string, { Keys?: Item[] }> | undefined) ?? {};
      for (const [table, { Keys }] of Object.entries(requested ?? {})) {
        const found = responses[table] ?? [];
        const notRead = unprocessed[table]?.Keys?.length ?? 0;
        const read = Keys.length - notRead;
        let units = Math.max(0, read - found.length);
        for (const item of found) units += strongReadUnitsOf(itemBytes(item));
        this.read(table, read, units);
      }
    } else {
      const units = Number(
        (out.ConsumedCapacity as { CapacityUnits?: number } | undefined)?.CapacityUnits ?? 1,
      );
      this.read(input.TableName as string | undefined, 0, units);
    }
  }

  private read(table: string | undefined, items: number, units: number): void {
    const d = this.totals.dynamodb;
    d.readItems += items;
    d.readUnits += units;
    const t = this.table(table);
    t.readItems += items;
    t.readUnits += units;
  }
}
