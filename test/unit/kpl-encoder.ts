/**
 * Aggregates made by an encoder that is not windowpane's: the aws-kinesis-agg package's
 * own RecordAggregator (awslabs/kinesis-aggregation, node; wrapped in local/kpl-aggregator.ts),
 * with its own protobufjs copy, and its de-aggregator.
 * The package ships no usable types (its index.d.ts imports aws-sdk v2), so the few members
 * used here are typed locally.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

export { aggregate, type PlainUserRecord } from '../../local/kpl-aggregator.js';

interface ProtobufType {
  encode(message: Record<string, unknown>): { finish(): Uint8Array };
}

interface LibKinesisRecord {
  partitionKey: string;
  sequenceNumber: string;
  data: string;
}

interface LibDeaggregated {
  partitionKey: string;
  explicitPartitionKey?: string;
  sequenceNumber: string;
  subSequenceNumber: number;
  data: string;
}

const require = createRequire(import.meta.url);
const lib = require('aws-kinesis-agg') as {
  deaggregateSync(
    record: LibKinesisRecord,
    computeChecksums: boolean,
    done: (err: Error | null, records?: LibDeaggregated[]) => void,
  ): void;
};
const common = require('aws-kinesis-agg/lib/common.js') as { AggregatedRecord: ProtobufType; magic: Buffer };

/**
 * An AggregatedRecord protobuf with arbitrary contents (out-of-range indexes, no records),
 * encoded by the library's protobuf type, which does not check what it is given.
 */
export function encodeRawAggregate(message: Record<string, unknown>): Uint8Array {
  return common.AggregatedRecord.encode(message).finish();
}

/** magic | protobuf | MD5(protobuf): how the library frames a body, for crafted bodies. */
export function frame(protobufBody: Uint8Array): Buffer {
  const md5 = createHash('md5').update(protobufBody).digest();
  return Buffer.concat([common.magic, protobufBody, md5]);
}

/** The library's own de-aggregation of one Kinesis record, with checksums verified. */
export function libraryDeaggregate(data: Uint8Array, sequenceNumber = '1'): LibDeaggregated[] {
  let result: LibDeaggregated[] | undefined;
  let failure: Error | null = null;
  lib.deaggregateSync(
    { partitionKey: 'outer', sequenceNumber, data: Buffer.from(data).toString('base64') },
    true,
    (err, records) => {
      failure ??= err;
      result ??= records;
    },
  );
  if (failure) throw failure;
  return result ?? [];
}
