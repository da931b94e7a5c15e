/**
 * What one batch or flush did, counted as it happens: the handler logs it and publishes
 * its metrics from it, the local tools and the benchmarks read it.
 */
import type { DeliveryCounts } from '../lib/effects.js';

export interface BatchReport {
  records: number;
  readings: number;
  duplicates: number;
  invalid: number;
  late: number;
  alerts: number;
  windowsFinalised: number;
  sensors: number;
  writeRequests: number;
  conflicts: number;
  failedSensors: number;
  /** Open windows closed early because their sensor reached `maxOpenWindows`. */
  windowsFinalisedEarly: number;
  /** Distinct DynamoDB items written: sensors committed + results + ledger entries. */
  itemsWritten: number;
  /** Alarm transitions published. */
  transitions: number;
  /** Alarm actions applied, and refused (wrong state, unknown alarm: A-C3), by the commits. */
  actionsApplied: number;
  actionsRefused: number;
  /** Rule rows skipped as invalid by a rules load in this batch (A-R4). */
  rulesInvalid: number;
  /** 1 when this batch's rules refresh failed (the last rules loaded stayed in force). */
  rulesRefreshFailed: number;
  /** Carried state (SEMANTICS.md "Carried state"): sensors claimed, checkpointed, records caught up, JSON bytes. */
  claims: number;
  /**
   * Claims made from a checkpoint this process wrote, without reading the item (CS2), and
   * those whose item had moved past that checkpoint (the sensor was then read).
   */
  claimsUnread: number;
  claimsStale: number;
  checkpoints: number;
  /** Carried sensors handed back to the idle sweeper, silent (CS8). */
  handedBack: number;
  caughtUp: number;
  carriedBytes: number;
}

export function newReport(records: number, sensors: number): BatchReport {
  return {
    records,
    readings: 0,
    duplicates: 0,
    invalid: 0,
    late: 0,
    alerts: 0,
    windowsFinalised: 0,
    sensors,
    writeRequests: 0,
    conflicts: 0,
    failedSensors: 0,
    windowsFinalisedEarly: 0,
    itemsWritten: 0,
    transitions: 0,
    actionsApplied: 0,
    actionsRefused: 0,
    rulesInvalid: 0,
    rulesRefreshFailed: 0,
    claims: 0,
    claimsUnread: 0,
    claimsStale: 0,
    checkpoints: 0,
    handedBack: 0,
    caughtUp: 0,
    carriedBytes: 0,
  };
}

export function addDeliveryCounts(report: BatchReport, counts: DeliveryCounts): void {
  report.windowsFinalised += counts.results;
  report.alerts += counts.alertsPublished;
  report.transitions += counts.transitionsPublished;
  report.late += counts.late;
}
