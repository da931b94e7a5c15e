/**
 * The realistic peer: the Kinesis handler an AWS engineer would write today from the
 * Powertools documentation. `BatchProcessor` with partial batch responses
 * (`@aws-lambda-powertools/batch`), each record made idempotent by Powertools Idempotency
 * on DynamoDB (`makeIdempotent`, key = the record's `eventID`), and per-reading aggregates
 * with one `UpdateItem` (ADD count and sum, SET the last value) per reading; rules as the
 * tutorial baseline evaluates them, one SNS publish per firing rule.
 *
 * What it costs per valid reading: the idempotency record's conditional PutItem
 * (INPROGRESS), the aggregate UpdateItem, the idempotency UpdateItem (COMPLETED): three
 * write requests. A record that does not parse is logged and skipped, which still
 * completes its idempotency record: two writes. Records run in parallel (the
 * processor's default), so the delta rule sees "previous" in completion order, as such a
 * handler would; its alert count is reported, not compared.
 *
 * The sinks are an interface so the pure suite can measure the handler's own CPU with
 * in-memory sinks and persistence (the pure suite does the same for every design: no
 * network, no SDK), while the peer suite runs it against the emulators.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';
import type { WindowpaneConfig } from '../functions/domain/config.js';
import { type NaiveAlert, naiveParse, naiveRules, naiveWindowStart, tumblingSizeMs } from './baseline.js';

/** Where the peer's writes go: DynamoDB and SNS in the peer suite, nowhere in the CPU runs. */
export interface PeerSinks {
  addReading(sensorId: string, windowKey: string, value: number, timestamp: number): Promise<void>;
  publish(alert: NaiveAlert): Promise<void>;
}

export interface PeerCounters {
  valid: number;
  invalid: number;
  alerts: number;
}

export interface PeerHandlerOptions {
  config: WindowpaneConfig;
  persistence: BasePersistenceLayer;
  sinks: PeerSinks;
  /** Seconds an idempotency record is kept (Powertools' default is one hour). */
  expiresAfterSeconds?: number;
}

export interface PeerHandler {
  (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse>;
  counters: PeerCounters;
}

/** A Lambda context good enough for Powertools (it reads the remaining time). */
export function benchContext(remainingMs = 300_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'windowpane-bench-peer',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:windowpane-bench-peer',
    memoryLimitInMB: '512',
    awsRequestId: 'bench',
    logGroupName: '/aws/lambda/windowpane-bench-peer',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export function buildPeerHandler(opts: PeerHandlerOptions): PeerHandler {
  const metric = opts.config.metrics[0]!;
  const sizeMs = tumblingSizeMs(opts.config);
  const rules = opts.config.rules.filter((r) => r.metric === metric);
  const last = new Map<string, number>();
  const counters: PeerCounters = { valid: 0, invalid: 0, alerts: 0 };
  const processor = new BatchProcessor(EventType.KinesisDataStreams);
  const idempotency = new IdempotencyConfig({
    eventKeyJmesPath: 'eventID',
    expiresAfterSeconds: opts.expiresAfterSeconds ?? 3_600,
  });

  const recordHandler = async (record: KinesisStreamRecord): Promise<void> => {
    const reading = naiveParse(record.kinesis.data, metric);
    if (!reading) {
      counters.invalid++;
      return;
    }
    counters.valid++;
    await opts.sinks.addReading(
      reading.sensorId,
      String(naiveWindowStart(reading.timestamp, sizeMs)),
      reading.value,
      reading.timestamp,
    );
    const alerts: NaiveAlert[] = [];
    naiveRules(rules, reading, last.get(reading.sensorId), alerts);
    last.set(reading.sensorId, reading.value);
    for (const alert of alerts) await opts.sinks.publish(alert);
    counters.alerts += alerts.length;
  };

  const idempotentRecord = makeIdempotent(recordHandler, {
    persistenceStore: opts.persistence,
    config: idempotency,
  });

  const handler = async (event: KinesisStreamEvent, context: Context) => {
    idempotency.registerLambdaContext(context);
    return processPartialResponse(event, idempotentRecord, processor, { context });
  };
  return Object.assign(handler, { counters });
}
