/**
 * KPL aggregation for the local producers (`npm run replay -- --format kpl`) and the
 * tests: the aws-kinesis-agg package's own RecordAggregator (awslabs/kinesis-aggregation),
 * an encoder that is not windowpane's, so the handler's de-aggregator is checked against
 * records made elsewhere. The package ships no usable types (its index.d.ts imports
 * aws-sdk v2), so the few members used are typed here.
 */
import { createRequire } from 'node:module';

interface LibUserRecord {
  partitionKey: string;
  explicitHashKey?: string;
  data: Buffer | string;
}

interface RecordAggregator {
  addUserRecord(record: LibUserRecord): void;
  build(): { partitionKey: string; data: Buffer } | undefined;
}

const require = createRequire(import.meta.url);
const lib = require('aws-kinesis-agg') as { RecordAggregator: new () => RecordAggregator };

export interface PlainUserRecord {
  partitionKey: string;
  explicitHashKey?: string;
  data: Uint8Array;
}

export class EmptyAggregateError extends Error {
  constructor() {
    super('a KPL aggregate needs at least one user record');
    this.name = 'EmptyAggregateError';
  }
}

/** One aggregated Kinesis record's data (magic, protobuf, MD5), from the library's aggregator. */
export function aggregate(records: readonly PlainUserRecord[]): Buffer {
  const aggregator = new lib.RecordAggregator();
  for (const r of records) {
    aggregator.addUserRecord({
      partitionKey: r.partitionKey,
      ...(r.explicitHashKey === undefined ? {} : { explicitHashKey: r.explicitHashKey }),
      data: Buffer.from(r.data),
    });
  }
  const built = aggregator.build();
  if (built === undefined) throw new EmptyAggregateError();
  return built.data;
}
