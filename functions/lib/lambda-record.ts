/**
 * One Kinesis record as Lambda's event source mapping delivers it to a function: the
 * shape of the Lambda developer guide's example event ("Using Lambda with Amazon
 * Kinesis"). Built by the local mapping (local/esm) and by the handler's catch-up, which
 * reads a shard back and decodes what it reads as the mapping's records
 * (shard-reader.ts).
 */
import type { _Record } from '@aws-sdk/client-kinesis';
import type { KinesisStreamRecord } from 'aws-lambda';

/** Where the records come from and who reads them: fixed for one mapping. */
export interface RecordSource {
  shardId: string;
  streamArn: string;
  region: string;
  /** The function's execution role (Lambda puts it in every record). */
  invokeIdentityArn: string;
}

/** One Kinesis record as Lambda delivers it: base64 data, arrival time in epoch seconds. */
export function toLambdaRecord(record: _Record, source: RecordSource): KinesisStreamRecord {
  const sequenceNumber = record.SequenceNumber ?? '';
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey ?? '',
      sequenceNumber,
      data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
      // Lambda sends seconds with the milliseconds as a fraction (e.g. 1545084650.987).
      approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${source.shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: source.invokeIdentityArn,
    awsRegion: source.region,
    eventSourceARN: source.streamArn,
  };
}
