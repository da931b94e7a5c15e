/**
 * What the Powertools peer (bench/peer.ts) writes to: DynamoDB and SNS for the peer
 * suite's emulator runs, and an in-memory persistence layer with no-op sinks for its CPU
 * runs (so that, like every other design in the pure measurements, it is timed without
 * network or SDK).
 */

import { IdempotencyItemAlreadyExistsError } from '@aws-lambda-powertools/idempotency';
import { BasePersistenceLayer, type IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PeerSinks } from './peer.js';

/**
 * Powertools' persistence contract kept in a Map: a conditional put that refuses a live
 * record, get, update, delete. Only for timing the handler's own work.
 */
export class MemoryPersistenceLayer extends BasePersistenceLayer {
  private readonly records = new Map<string, IdempotencyRecord>();

  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const existing = this.records.get(record.idempotencyKey);
    if (existing && !existing.isExpired()) {
      throw new IdempotencyItemAlreadyExistsError(`record ${record.idempotencyKey} exists`, existing);
    }
    this.records.set(record.idempotencyKey, record);
  }

  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const record = this.records.get(idempotencyKey);
    if (!record) throw new Error(`no idempotency record ${idempotencyKey}`);
    return record;
  }

  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    this.records.set(record.idempotencyKey, record);
  }

  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    this.records.delete(record.idempotencyKey);
  }
}

export const memorySinks = (): PeerSinks => ({
  addReading: async () => undefined,
  publish: async () => undefined,
});

/** One UpdateItem per reading (as the tutorial writer's), one SNS publish per alert. */
export function awsSinks(opts: {
  doc: DynamoDBDocumentClient;
  aggregatesTable: string;
  sns: SNSClient;
  topicArn: string;
}): PeerSinks {
  return {
    async addReading(sensorId, windowKey, value, timestamp) {
      await opts.doc.send(
        new UpdateCommand({
          TableName: opts.aggregatesTable,
          Key: { sensorId, windowKey },
          UpdateExpression: 'ADD #count :one, #sum :value SET #last = :value, #lastTs = :ts',
          ExpressionAttributeNames: {
            '#count': 'count',
            '#sum': 'sum',
            '#last': 'last',
            '#lastTs': 'lastTs',
          },
          ExpressionAttributeValues: { ':one': 1, ':value': value, ':ts': timestamp },
        }),
      );
    },
    async publish(alert) {
      await opts.sns.send(new PublishCommand({ TopicArn: opts.topicArn, Message: JSON.stringify(alert) }));
    },
  };
}
