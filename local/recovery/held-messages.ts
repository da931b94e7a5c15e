/**
 * Reading a queue without consuming it: messages are received with a visibility timeout
 * (hidden while a recovery tool works on them) and made visible again at the end; a
 * message is deleted only once what it stands for was done.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import type { AwsClients } from '../../functions/lib/clients.js';
import { RecoveryError } from './errors.js';

export interface HeldMessage {
  messageId: string;
  receiptHandle: string;
  raw: string;
  body: unknown;
}

/** How long received messages stay hidden while the tool works on them (seconds). */
export const HOLD_SECONDS = { inspect: 60, apply: 900 } as const;

/**
 * Receives every message of the queue, up to `limit`, keeping each hidden for
 * `holdSeconds` so that one pass sees each message once. The caller deletes what it has
 * done and hands the rest to `releaseMessages`; if the process dies, they reappear by
 * themselves when the timeout ends.
 */
export async function holdMessages(
  clients: AwsClients,
  queueUrl: string,
  opts: { holdSeconds: number; limit?: number },
): Promise<HeldMessage[]> {
  const limit = opts.limit ?? 10_000;
  const held: HeldMessage[] = [];
  while (held.length < limit) {
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, limit - held.length),
        VisibilityTimeout: opts.holdSeconds,
        // Long polling asks every SQS server: an empty answer then means an empty queue.
        WaitTimeSeconds: 1,
      }),
    );
    if (Messages.length === 0) break;
    held.push(...Messages.map(toHeld));
  }
  return held;
}

function toHeld(m: Message): HeldMessage {
  const raw = m.Body ?? '';
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    body = undefined;
  }
  return { messageId: m.MessageId ?? '', receiptHandle: m.ReceiptHandle ?? '', raw, body };
}

/** Makes held messages visible again at once. */
export async function releaseMessages(
  clients: AwsClients,
  queueUrl: string,
  messages: readonly HeldMessage[],
): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    const { Failed = [] } = await clients.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((m, j) => ({
          Id: String(j),
          ReceiptHandle: m.receiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
    // The message reappears by itself when its timeout ends, but until then it looks gone: say so.
    if (Failed.length > 0) {
      throw new RecoveryError(
        `${Failed.length} message(s) of ${queueUrl} could not be made visible again ` +
          `(they reappear within the visibility timeout): ${Failed[0]?.Message}`,
      );
    }
  }
}

async function deleteMessage(clients: AwsClients, queueUrl: string, m: HeldMessage): Promise<void> {
  await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.receiptHandle }));
}

/**
 * Holds the queue's messages (`holdMessages`) while `work` runs, then releases every one
 * it did not `remove` (delete, once what the message stands for was done), whether `work`
 * succeeded or threw.
 */
export async function withHeldMessages<T>(
  clients: AwsClients,
  queueUrl: string,
  holdSeconds: number,
  work: (held: readonly HeldMessage[], remove: (m: HeldMessage) => Promise<void>) => Promise<T>,
): Promise<T> {
  const held = await holdMessages(clients, queueUrl, { holdSeconds });
  const removed = new Set<HeldMessage>();
  try {
    return await work(held, async (m) => {
      await deleteMessage(clients, queueUrl, m);
      removed.add(m);
    });
  } finally {
    await releaseMessages(
      clients,
      queueUrl,
      held.filter((m) => !removed.has(m)),
    );
  }
}
