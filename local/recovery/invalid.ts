/**
 * The invalid-record queue: count it by reason with a few examples, and redrive the
 * original bytes to the stream as NEW records (new sequence numbers, processed once
 * more), which is right only for records the handler rejected: they never touched state.
 */
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { errorText } from '../../functions/domain/errors.js';
import type { AwsClients } from '../../functions/lib/clients.js';
import type { InvalidRecordMessage } from '../../functions/lib/effects.js';
import { type HeldMessage, HOLD_SECONDS, withHeldMessages } from './held-messages.js';

export interface InvalidExample {
  id: string;
  reason: string;
  detail: string;
  partitionKey: string;
  byteLength: number;
  truncated: boolean;
  /** The first bytes, as text with control characters escaped. */
  head: string;
}

export interface InvalidSummary {
  total: number;
  byReason: Record<string, number>;
  /** Messages that are not invalid-record messages. */
  unrecognised: number;
  truncated: number;
  examples: InvalidExample[];
}

function parseInvalidMessage(m: HeldMessage): InvalidRecordMessage | undefined {
  const b = m.body as Partial<InvalidRecordMessage> | undefined;
  if (
    !b ||
    typeof b.reason !== 'string' ||
    typeof b.data !== 'string' ||
    typeof b.partitionKey !== 'string'
  ) {
    return undefined;
  }
  return b as InvalidRecordMessage;
}

const HEAD_BYTES = 60;

function headOf(data: string): string {
  const bytes = Buffer.from(data, 'base64').subarray(0, HEAD_BYTES);
  return JSON.stringify(bytes.toString('utf8')).slice(1, -1);
}

/** Counts the invalid-record queue by reason, with up to `examples` examples (left in the queue). */
export async function listInvalid(
  clients: AwsClients,
  queueUrl: string,
  opts: { examples?: number } = {},
): Promise<InvalidSummary> {
  return withHeldMessages(clients, queueUrl, HOLD_SECONDS.inspect, async (held) => {
    const summary: InvalidSummary = {
      total: held.length,
      byReason: {},
      unrecognised: 0,
      truncated: 0,
      examples: [],
    };
    const wanted = opts.examples ?? 5;
    for (const m of held) {
      const msg = parseInvalidMessage(m);
      if (!msg) {
        summary.unrecognised++;
        continue;
      }
      summary.byReason[msg.reason] = (summary.byReason[msg.reason] ?? 0) + 1;
      if (msg.truncated) summary.truncated++;
      if (summary.examples.length < wanted) {
        summary.examples.push({
          id: msg.id,
          reason: msg.reason,
          detail: msg.detail,
          partitionKey: msg.partitionKey,
          byteLength: msg.byteLength,
          truncated: msg.truncated === true,
          head: headOf(msg.data),
        });
      }
    }
    return summary;
  });
}

export interface InvalidRedriveItem {
  id: string;
  reason: string;
  partitionKey: string;
  byteLength: number;
  outcome: 'would-send' | 'sent' | 'refused-truncated' | 'failed';
  /** The new record's sequence number (apply). */
  newSequenceNumber?: string;
  shardId?: string;
  error?: string;
}

export interface InvalidRedriveReport {
  apply: boolean;
  reason?: string;
  /** Messages matching the reason filter. */
  selected: number;
  /** Messages left alone: another reason, or not an invalid-record message. */
  skipped: number;
  items: InvalidRedriveItem[];
  sent: number;
  refused: number;
  failed: number;
}

/**
 * Sends the original bytes of invalid records back to the stream (partition key as
 * before), after the configuration was fixed to accept them. Each is a NEW record. A
 * message is deleted only after its PutRecord succeeded; truncated messages (a prefix and
 * a hash, not the record) are refused and kept.
 */
export async function redriveInvalid(opts: {
  clients: AwsClients;
  queueUrl: string;
  streamName: string;
  apply: boolean;
  reason?: string;
}): Promise<InvalidRedriveReport> {
  const { clients, queueUrl } = opts;
  const report: InvalidRedriveReport = {
    apply: opts.apply,
    ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
    selected: 0,
    skipped: 0,
    items: [],
    sent: 0,
    refused: 0,
    failed: 0,
  };
  await withHeldMessages(
    clients,
    queueUrl,
    opts.apply ? HOLD_SECONDS.apply : HOLD_SECONDS.inspect,
    async (held, remove) => {
      for (const m of held) {
        const msg = parseInvalidMessage(m);
        if (!msg || (opts.reason !== undefined && msg.reason !== opts.reason)) {
          report.skipped++;
          continue;
        }
        report.selected++;
        const item: InvalidRedriveItem = {
          id: msg.id,
          reason: msg.reason,
          partitionKey: msg.partitionKey,
          byteLength: msg.byteLength,
          outcome: 'would-send',
        };
        report.items.push(item);
        if (msg.truncated) {
          item.outcome = 'refused-truncated';
          report.refused++;
          continue;
        }
        if (!opts.apply) continue;
        try {
          const out = await clients.kinesis.send(
            new PutRecordCommand({
              StreamName: opts.streamName,
              PartitionKey: msg.partitionKey,
              Data: Buffer.from(msg.data, 'base64'),
            }),
          );
          item.outcome = 'sent';
          if (out.SequenceNumber) item.newSequenceNumber = out.SequenceNumber;
          if (out.ShardId) item.shardId = out.ShardId;
          report.sent++;
        } catch (err) {
          item.outcome = 'failed';
          item.error = errorText(err);
          report.failed++;
          continue;
        }
        await remove(m);
      }
    },
  );
  return report;
}
