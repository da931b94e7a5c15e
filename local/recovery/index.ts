/**
 * Recovery tools for a running windowpane (`npm run recover`): inspect and redrive the
 * event source mapping's on-failure queue (DLQ) and the invalid-record queue, and
 * re-process a stream range through the real window handler (backfill).
 *
 * Every function here is callable in-process (tests, scripts); local/cli/recover.ts only
 * parses flags, resolves the target and prints. Why the operations are safe:
 *
 * - DLQ redrive and backfill invoke the real handler with events shaped like Lambda's.
 *   The handler fences every sensor by the last applied sequence number of each shard, so
 *   a record that was already applied is a duplicate and changes nothing: both are safe
 *   to repeat. The same fence means a discarded record is dropped as a duplicate when the
 *   sensor's LATER records of that shard were applied after the discard (order per sensor
 *   is kept, so it cannot be slotted in behind them); the report shows such records as
 *   duplicates, and RECOVERY.md says what that means.
 * - Invalid redrive puts the original bytes back on the stream as NEW records: they get
 *   new sequence numbers and are processed once more. That is right only for records the
 *   handler rejected (they never touched any state), which is all the invalid queue holds.
 * - Queue messages are read without being deleted: they are received with a visibility
 *   timeout (hidden while this process works on them) and made visible again at the end;
 *   a message is deleted only once what it stands for was done.
 */
export * from './backfill.js';
export * from './dlq.js';
export { RecoveryError } from './errors.js';
export { emptyTotals, type HandlerTotals } from './handler-runs.js';
export * from './held-messages.js';
export * from './invalid.js';
