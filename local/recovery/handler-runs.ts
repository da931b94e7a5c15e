/**
 * What the recovery tools share on the stream side: reading a shard range page by page,
 * and invoking the real window handler with records shaped as Lambda shapes them, summing
 * its batch reports.
 */
import { randomUUID } from 'node:crypto';
import {
  type _Record,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { AwsClients } from '../../functions/lib/clients.js';
import { BACKOFF, backoffDelay, sleep } from '../../functions/lib/retry.js';
import type { BatchReport } from '../../functions/pipeline/report.js';
import type { WindowHandler } from '../../functions/window-handler/build.js';
import {
  type FunctionIdentity,
  invocationContext,
  type RecordSource,
  toLambdaRecord,
} from '../esm/records.js';

/** Identity of the recovery "function" in the events and contexts it builds. */
const RECOVERY_FUNCTION: FunctionIdentity = {
  functionName: 'windowpane-recovery',
  region: 'us-east-1',
  accountId: '000000000000',
  partition: 'aws',
  memoryLimitInMB: 512,
  timeoutMs: 15 * 60_000,
};

/**
 * Sums of the handler's batch reports (`readings`: newly applied; `duplicates`: at or below
 * their sensor's last applied sequence number, so they changed nothing).
 */
export interface HandlerTotals
  extends Pick<
    BatchReport,
    | 'records'
    | 'readings'
    | 'duplicates'
    | 'invalid'
    | 'late'
    | 'alerts'
    | 'windowsFinalised'
    | 'failedSensors'
  > {
  invocations: number;
}

export function emptyTotals(): HandlerTotals {
  return {
    invocations: 0,
    records: 0,
    readings: 0,
    duplicates: 0,
    invalid: 0,
    late: 0,
    alerts: 0,
    windowsFinalised: 0,
    failedSensors: 0,
  };
}

function addReport(totals: HandlerTotals, report: BatchReport | undefined): void {
  totals.invocations++;
  if (!report) return;
  totals.records += report.records;
  totals.readings += report.readings;
  totals.duplicates += report.duplicates;
  totals.invalid += report.invalid;
  totals.late += report.late;
  totals.alerts += report.alerts;
  totals.windowsFinalised += report.windowsFinalised;
  totals.failedSensors += report.failedSensors;
}

/**
 * One invocation of the real handler with records of one shard, shaped as Lambda shapes
 * them. Returns whether the handler reported every record done; a throw propagates.
 */
async function invoke(
  handler: WindowHandler,
  source: { shardId: string; streamArn: string },
  records: readonly _Record[],
  totals: HandlerTotals,
): Promise<boolean> {
  const recordSource: RecordSource = {
    shardId: source.shardId,
    streamArn: source.streamArn,
    region: RECOVERY_FUNCTION.region,
    invokeIdentityArn: `arn:aws:iam::${RECOVERY_FUNCTION.accountId}:role/${RECOVERY_FUNCTION.functionName}`,
  };
  const event: KinesisStreamEvent = { Records: records.map((r) => toLambdaRecord(r, recordSource)) };
  const response = await handler(event, invocationContext(RECOVERY_FUNCTION, randomUUID()));
  addReport(totals, handler.lastReport());
  return (response?.batchItemFailures ?? []).length === 0;
}

/**
 * Runs one batch through the handler, again as a whole while it reports failed records
 * (it is idempotent: records already applied are duplicates). False when it never succeeded.
 */
export async function invokeWithRetries(
  handler: WindowHandler,
  source: { shardId: string; streamArn: string },
  records: readonly _Record[],
  totals: HandlerTotals,
): Promise<boolean> {
  const policy = BACKOFF.handlerRetry;
  for (let attempt = 1; ; attempt++) {
    if (await invoke(handler, source, records, totals)) return true;
    if (attempt >= policy.maxAttempts) return false;
    await sleep(backoffDelay(attempt, policy));
  }
}

/**
 * Records of one shard from `iterator`, page by page, until `stop` says a record is past
 * the range (it is not returned), the shard's tip is reached or a closed shard ends.
 */
export async function* readShard(
  clients: AwsClients,
  iteratorInput: GetShardIteratorCommandInput,
  stop: (record: _Record) => boolean,
): AsyncGenerator<_Record[]> {
  let { ShardIterator: iterator } = await clients.kinesis.send(new GetShardIteratorCommand(iteratorInput));
  while (iterator) {
    const page = await clients.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1_000 }));
    const records = page.Records ?? [];
    const cut = records.findIndex(stop);
    if (cut >= 0) {
      if (cut > 0) yield records.slice(0, cut);
      return;
    }
    if (records.length > 0) yield records;
    // At the tip: MillisBehindLatest 0 with nothing (more) to read.
    if (records.length === 0 && page.MillisBehindLatest === 0) return;
    iterator = page.NextShardIterator;
  }
}

export function mergeTotals(into: HandlerTotals, from: HandlerTotals): void {
  for (const key of Object.keys(into) as (keyof HandlerTotals)[]) into[key] += from[key];
}
