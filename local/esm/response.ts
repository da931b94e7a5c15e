/**
 * How Lambda reads a function's answer to a Kinesis batch when the mapping has
 * `ReportBatchItemFailures` (windowpane's CDK stack always turns it on). From the Lambda
 * developer guide, "Reporting batch item failures":
 *
 * - complete success: no response, a response without `batchItemFailures`, a null or an
 *   empty `batchItemFailures` list;
 * - complete failure: an item whose `itemIdentifier` is null, empty, or not a string (a
 *   "bad key name"), or names a record that is not in the batch, and of course a thrown
 *   error;
 * - otherwise partial success: the checkpoint moves to just before the failed record with
 *   the lowest sequence number and every record from there is retried.
 */

export type InvocationOutcome =
  | { kind: 'ok' }
  | {
      kind: 'partial';
      /** Index in the batch of the failed record with the lowest sequence number. */
      firstFailedIndex: number;
      /** How many items the function reported. */
      failedItems: number;
    }
  | {
      kind: 'error';
      /** True when the function threw (Lambda's "Unhandled"), false for an unusable response. */
      functionError: boolean;
      message: string;
    };

export function classifyResponse(
  batch: readonly { kinesis: { sequenceNumber: string } }[],
  response: unknown,
): InvocationOutcome {
  if (response === null || response === undefined || typeof response !== 'object') return { kind: 'ok' };
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return { kind: 'ok' };
  if (!Array.isArray(failures)) {
    return { kind: 'error', functionError: false, message: 'batchItemFailures is not a list' };
  }
  if (failures.length === 0) return { kind: 'ok' };

  const indexOf = new Map<string, number>();
  batch.forEach((r, i) => {
    indexOf.set(r.kinesis.sequenceNumber, i);
  });
  let first = Number.POSITIVE_INFINITY;
  for (const item of failures) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '') {
      return {
        kind: 'error',
        functionError: false,
        message: `batchItemFailures has an item without an itemIdentifier: ${JSON.stringify(item)}`,
      };
    }
    const index = indexOf.get(id);
    if (index === undefined) {
      return {
        kind: 'error',
        functionError: false,
        message: `batchItemFailures names ${id.slice(0, 140)}, which is not in the batch`,
      };
    }
    first = Math.min(first, index);
  }
  return { kind: 'partial', firstFailedIndex: first, failedItems: failures.length };
}
