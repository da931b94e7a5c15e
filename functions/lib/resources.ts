/**
 * Shapes of the stores and channels windowpane uses, as plain data. The CDK stack and the
 * local cloud both build their tables from these definitions, and the handler reads and
 * writes items through the attribute names defined here.
 */

export interface TableDefinition {
  /** Logical id (CDK) and default local name. */
  id: string;
  partitionKey: string;
  sortKey?: string;
  /** Attribute holding an epoch-seconds expiry (DynamoDB TTL, best-effort). */
  ttlAttribute?: string;
}

/** One item per sensor: watermark, applied sequence numbers, open windows, outbox. */
export const STATE_TABLE: TableDefinition = {
  id: 'WindowState',
  partitionKey: 'sensorId',
  ttlAttribute: 'expiresAt',
};

/** Final windows, written once each (conditional put on the key). */
export const RESULTS_TABLE: TableDefinition = {
  id: 'WindowResults',
  partitionKey: 'sensorId',
  sortKey: 'windowKey',
};

/** One item per published alert id: "this alert has been delivered to SNS". */
export const ALERT_LEDGER_TABLE: TableDefinition = {
  id: 'AlertLedger',
  partitionKey: 'alertId',
  ttlAttribute: 'expiresAt',
};

/**
 * Rules at runtime (docs/SEMANTICS.md A-R3, A-R4): rule rows (`rule#<name>`, scope key),
 * tags rows (`tags`, sensor id) and one revision counter (`meta`, `meta`). The stack and
 * the local cloud create it empty: the configured rules are the seed it is layered over.
 * Optional for the handler: an environment without it runs the configured rules.
 */
export const RULES_TABLE: TableDefinition = {
  id: 'Rules',
  partitionKey: 'pk',
  sortKey: 'sk',
};

/**
 * The alarms projection (docs/SEMANTICS.md A-C4, functions/lib/alarm-projection.ts): per
 * sensor, each alarm's current row (`alarm#<rule>`), its history (`t#<at>#<transitionId>`)
 * and the outcome of each action (`act#<actionId>`); history and outcomes expire.
 */
export const ALARMS_TABLE: TableDefinition = {
  id: 'Alarms',
  partitionKey: 'sensorId',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
};

export const TABLES = [STATE_TABLE, RESULTS_TABLE, ALERT_LEDGER_TABLE, RULES_TABLE, ALARMS_TABLE] as const;

/** Environment variable names shared by the CDK app, the local cloud and the handler. */
export const ENV = {
  stateTable: 'STATE_TABLE_NAME',
  resultsTable: 'RESULTS_TABLE_NAME',
  alertLedgerTable: 'ALERT_LEDGER_TABLE_NAME',
  alertTopicArn: 'ALERT_TOPIC_ARN',
  invalidQueueUrl: 'INVALID_QUEUE_URL',
  lateQueueUrl: 'LATE_QUEUE_URL',
  /** Optional output stream of final windows. */
  resultsStream: 'RESULTS_STREAM_NAME',
  /**
   * Set when the deployment has a Glue Schema Registry (windowpaneDeploy.avro): Glue-framed
   * Avro readings are then decoded with writer schemas from Glue (GlueSchemaSource, by the
   * record's schema version id; the registry's name is for logs and error details).
   */
  schemaRegistryName: 'GLUE_SCHEMA_REGISTRY_NAME',
  /** Optional rules table (RULES_TABLE): without it the handler runs the configured rules. */
  rulesTable: 'RULES_TABLE_NAME',
  /** Optional alarms projection (ALARMS_TABLE) for `npm run alarms`. */
  alarmsTable: 'ALARMS_TABLE_NAME',
  /**
   * The readings stream's name: the idle sweeper reads a shard back to take over a carried
   * state's expired claim (SEMANTICS.md CS6). The window handler has it from its events.
   */
  readingsStream: 'READINGS_STREAM_NAME',
  config: 'WINDOWPANE_CONFIG',
} as const;
