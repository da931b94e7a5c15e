/**
 * `npm run replay -- --format json|avro|kpl`: the same input lines sent in another wire
 * format, so a replay shows that the format does not change the outputs.
 *
 * - `json` (default): each line as it is.
 * - `avro`: each line that is a valid reading becomes Glue-framed Avro, written with the
 *   readings schema of the pipeline's registry stand-in; other lines are sent as they are
 *   (local/registry/avro-producer.ts), so invalid lines keep their reasons and bytes.
 * - `kpl`: consecutive lines of one partition key are packed, in order, into KPL
 *   aggregates of up to `AGGREGATE_MAX_RECORDS` user records (by aws-kinesis-agg's
 *   aggregator). Per-key order is the order that matters and is kept; records of
 *   different keys may leave in another order, as a KPL producer's do.
 *
 * The files name records by input line; an aggregate carries the lines of its user
 * records, so `<shard>:<seq>.<k>` (the sink's id of user record k) maps back to its line.
 */

import { aggregate } from './kpl-aggregator.js';
import type { AvroReadingEncoder } from './registry/avro-producer.js';
import type { ReplayRecord } from './replay-input.js';

export const REPLAY_FORMATS = ['json', 'avro', 'kpl'] as const;
export type ReplayFormat = (typeof REPLAY_FORMATS)[number];

/** User records per aggregate (the KPL's own default limit is the 1 MiB record). */
export const AGGREGATE_MAX_RECORDS = 100;
/** Bytes of user data per aggregate, well under a Kinesis record's 1 MiB. */
const AGGREGATE_MAX_BYTES = 512 * 1024;

/** A record to send; `lines` for an aggregate: the input line of each user record, in order. */
export interface EncodedRecord extends ReplayRecord {
  lines?: number[];
}

export function encodeRecords(
  records: readonly ReplayRecord[],
  format: ReplayFormat,
  avro?: AvroReadingEncoder,
): EncodedRecord[] {
  if (format === 'json') return [...records];
  if (format === 'avro') {
    if (avro === undefined) throw new TypeError('the avro format needs an encoder');
    return records.map((r) => ({ ...r, data: avro.encodeRecord(r.data) }));
  }
  return aggregateByKey(records);
}

function aggregateByKey(records: readonly ReplayRecord[]): EncodedRecord[] {
  const open = new Map<string, { records: ReplayRecord[]; bytes: number }>();
  const out: EncodedRecord[] = [];
  const close = (key: string) => {
    const pending = open.get(key);
    if (pending === undefined) return;
    open.delete(key);
    const data = aggregate(pending.records.map((r) => ({ partitionKey: key, data: r.data })));
    out.push({
      line: pending.records[0]!.line,
      partitionKey: key,
      data,
      lines: pending.records.map((r) => r.line),
    });
  };
  for (const r of records) {
    const pending = open.get(r.partitionKey);
    if (
      pending &&
      (pending.records.length >= AGGREGATE_MAX_RECORDS ||
        pending.bytes + r.data.byteLength > AGGREGATE_MAX_BYTES)
    ) {
      close(r.partitionKey);
    }
    const current = open.get(r.partitionKey) ?? { records: [], bytes: 0 };
    current.records.push(r);
    current.bytes += r.data.byteLength;
    open.set(r.partitionKey, current);
  }
  for (const key of [...open.keys()]) close(key);
  // In the order of their first lines, so the stream's order follows the file's.
  return out.sort((a, b) => a.line - b.line);
}

/**
 * Input line of every id a sink may name: `<shard>:<seq>` for a record, and for an
 * aggregate's user record k > 0 `<shard>:<seq>.<k>`. `ids` are PutRecords' answers,
 * indexed by each sent record's `line` - 1.
 */
export function lineIndex(sent: readonly EncodedRecord[], ids: readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  for (const r of sent) {
    const id = ids[r.line - 1];
    if (id === undefined) continue;
    const lines = r.lines ?? [r.line];
    for (const [k, line] of lines.entries()) index.set(k === 0 ? id : `${id}.${k}`, line);
  }
  return index;
}
