/**
 * The physical floor of a per-record handler: base64 decode, `JSON.parse`, and one Map
 * fold (count and sum per sensor). No validation, no windows, no rules: nothing a real
 * handler could skip. The pure suite measures it on the same bytes as the pipeline and
 * the naive baseline, so each rate can be read as a share of what the machine can do.
 */
import type { KinesisStreamEvent } from 'aws-lambda';

export interface FloorTotals {
  count: number;
  sum: number;
}

/** Folds every record's metric into `totals` by sensor; returns the records folded. */
export function floorProcessBatch(
  event: KinesisStreamEvent,
  metric: string,
  totals: Map<string, FloorTotals>,
): number {
  let folded = 0;
  for (const record of event.Records) {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString('utf8'));
    } catch {
      continue;
    }
    const value = body?.[metric];
    if (typeof value !== 'number') continue;
    const key = record.kinesis.partitionKey;
    const t = totals.get(key);
    if (t) {
      t.count++;
      t.sum += value;
    } else totals.set(key, { count: 1, sum: value });
    folded++;
  }
  return folded;
}
