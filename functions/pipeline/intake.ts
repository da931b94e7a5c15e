/**
 * What both batch paths (per batch: window-handler/process-batch.ts; carried state:
 * window-handler/process-carried.ts) do with a decoded batch before folding it: take the
 * rules as of this batch, and send its invalid records to their queue while the sensors
 * are folded.
 */
import type { RuleSet } from '../domain/rule-set.js';
import type { InvalidRecordMessage } from '../lib/effects.js';
import { type BatchDeps, silentLogger } from './deps.js';
import type { BatchReport } from './report.js';

/** A-R4: the rules as of this batch. A failed first load throws: the batch is retried. */
export async function rulesForBatch(deps: BatchDeps, report: BatchReport): Promise<RuleSet | undefined> {
  if (!deps.rules) return undefined;
  const refreshed = await deps.rules.refreshIfDue(Date.now());
  report.rulesInvalid = refreshed.invalid;
  report.rulesRefreshFailed = refreshed.failed ? 1 : 0;
  return deps.rules.current();
}

/** The invalid records' send, started now and settled once the batch's sensors are done. */
export interface InvalidSend {
  /**
   * Counts the records sent, or, when the queue could not take them (they are stored
   * nowhere yet), adds their sequence numbers to `failures` so Lambda retries them.
   */
  settle(report: BatchReport, failures: string[]): Promise<void>;
}

export function sendInvalidRecords(deps: BatchDeps, invalid: readonly InvalidRecordMessage[]): InvalidSend {
  const sent = invalid.length > 0 ? deps.effects.sendInvalid(invalid) : Promise.resolve();
  // Settled later; a rejection before then is not unhandled.
  sent.catch(() => undefined);
  return {
    async settle(report, failures) {
      try {
        await sent;
        report.invalid = invalid.length;
      } catch (err) {
        for (const m of invalid) failures.push(m.sequenceNumber);
        (deps.logger ?? silentLogger).error('invalid-record queue unavailable; records will be retried', {
          error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
        });
      }
    },
  };
}
