/**
 * The names windowpane's metrics are published under (Powertools EMF in the functions) and
 * read under (the stack's alarms and dashboard). Both sides import this module, which has
 * no runtime dependencies, so the CDK app does not pull the handler, middy or Powertools
 * in for a few strings. Renaming a metric here renames it on both sides at once; removing
 * one fails the typecheck of every alarm or widget that still reads it.
 */

/** CloudWatch namespace of every custom metric (`POWERTOOLS_METRICS_NAMESPACE`). */
export const METRICS_NAMESPACE = 'Windowpane';

/** Powertools service name of the window handler and the idle sweeper: the `service` dimension. */
export const SERVICE_NAME = 'windowpane';

/** Powertools service name of the shard scaler (it logs, it publishes no metrics). */
export const SHARD_SCALER_SERVICE_NAME = 'windowpane-shard-scaler';

/** Every custom metric, by what it counts. */
export const METRIC = {
  /** Valid readings folded into state. */
  readings: 'Readings',
  /** Records sent to the invalid-record queue. */
  invalidRecords: 'InvalidRecords',
  /** Readings whose window was already final (sent to the late-reading queue). */
  lateReadings: 'LateReadings',
  alertsPublished: 'AlertsPublished',
  windowsFinalised: 'WindowsFinalised',
  /** DynamoDB write requests (the main cost driver). */
  writeRequests: 'WriteRequests',
  /** Conditional-write conflicts (another invocation wrote the sensor first). */
  conflicts: 'Conflicts',
  /** Records recognised as already applied (a retried batch). */
  duplicateRecords: 'DuplicateRecords',
  /** Open windows finalised early because their sensor reached `maxOpenWindows` (SEMANTICS.md B3). */
  windowsFinalisedEarly: 'WindowsFinalisedEarly',
  /** Silent sensors whose open windows the idle sweeper flushed. */
  idleSensors: 'IdleSensors',
  /** Alarm transitions published (docs/SEMANTICS.md A-M1). */
  alarmTransitions: 'AlarmTransitions',
  /** Rule rows skipped as invalid by a rules load (A-R4); worth an alarm above 0. */
  rulesInvalid: 'RulesInvalid',
  /** Alarm actions (control records) refused: wrong state or unknown alarm (A-C3). */
  alarmActionsRefused: 'AlarmActionsRefused',
  /** Rules refreshes that failed (the last rules loaded stayed in force). */
  rulesRefreshFailed: 'RulesRefreshFailed',
  /**
   * Carried state (SEMANTICS.md "Carried state"): items claimed (those claimed from this
   * environment's own checkpoint without a read, and those whose item had moved on, CS2),
   * checkpoints, silent sensors handed back to the idle sweeper (CS8), records read back,
   * JSON bytes.
   */
  carriedClaims: 'CarriedClaims',
  carriedClaimsUnread: 'CarriedClaimsUnread',
  carriedClaimsStale: 'CarriedClaimsStale',
  carriedCheckpoints: 'CarriedCheckpoints',
  carriedHandedBack: 'CarriedHandedBack',
  carriedCatchUpRecords: 'CarriedCatchUpRecords',
  carriedStateBytes: 'CarriedStateBytes',
} as const;

/** What the window handler publishes beside WINDOW_HANDLER_METRICS when state is carried. */
export const CARRIED_METRICS = [
  METRIC.carriedClaims,
  METRIC.carriedClaimsUnread,
  METRIC.carriedClaimsStale,
  METRIC.carriedCheckpoints,
  METRIC.carriedHandedBack,
  METRIC.carriedCatchUpRecords,
  METRIC.carriedStateBytes,
] as const;

/**
 * What the window handler publishes beside WINDOW_HANDLER_METRICS for rules and alarms
 * (AlarmActionsRefused always, the others when a rules table is configured); the stack's
 * dashboard does not show them yet.
 */
export const RULES_METRICS = [
  METRIC.alarmActionsRefused,
  METRIC.alarmTransitions,
  METRIC.rulesInvalid,
  METRIC.rulesRefreshFailed,
] as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** What the window handler publishes after every batch (functions/window-handler/build.ts). */
export const WINDOW_HANDLER_METRICS = [
  METRIC.readings,
  METRIC.invalidRecords,
  METRIC.lateReadings,
  METRIC.alertsPublished,
  METRIC.windowsFinalised,
  METRIC.writeRequests,
  METRIC.conflicts,
  METRIC.duplicateRecords,
  METRIC.windowsFinalisedEarly,
] as const satisfies readonly MetricName[];

/** What the idle sweeper publishes after every sweep (functions/idle-sweeper/build.ts). */
export const IDLE_SWEEPER_METRICS = [
  METRIC.idleSensors,
  METRIC.windowsFinalised,
  METRIC.writeRequests,
  METRIC.conflicts,
] as const satisfies readonly MetricName[];
