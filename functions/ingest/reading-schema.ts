/**
 * The readings' Avro schema, version 1: what the stack registers in Glue
 * (infra/schema-registry.ts), the local registry stand-in registers, and producers
 * (local/registry/avro-producer.ts) write with. A `SensorReading` record with `sensorId`,
 * `timestamp` (epoch milliseconds) and a double per configured metric.
 */

/** The schema producers write readings with; its name inside the registry. */
export const READINGS_SCHEMA_NAME = 'readings';

/** Avro `record` of a reading with these metrics. */
export function readingAvroSchema(metrics: readonly string[]): Record<string, unknown> {
  return {
    type: 'record',
    name: 'SensorReading',
    fields: [
      { name: 'sensorId', type: 'string' },
      { name: 'timestamp', type: 'long' },
      ...metrics.map((name) => ({ name, type: 'double' })),
    ],
  };
}
