/**
 * A producer's side of Avro readings, for the local commands (`npm start -- --format
 * avro`, `npm run replay -- --format avro`): register the readings schema in the local
 * registry stand-in and write each reading as the Glue serializer does (Glue framing with
 * the version's UUID, Avro binary body).
 *
 * Only what is a valid reading becomes Avro: a record the handler would refuse as JSON
 * (the simulator's malformed records, an invalid line of a replay) is sent as it is, so
 * it is refused for the same reason with the same bytes, and both formats share the
 * stream as they may on AWS.
 */
import avro from 'avsc';
import { decodeReading, type Reading } from '../../functions/domain/reading.js';
import { frameGlue } from '../../functions/ingest/avro-wire.js';
import { READINGS_SCHEMA_NAME, readingAvroSchema } from '../../functions/ingest/reading-schema.js';
import type { LocalSchemaRegistry, RegisteredSchema } from './local-schema-registry.js';

export interface AvroReadingEncoderOptions {
  registry: LocalSchemaRegistry;
  metrics: readonly string[];
}

export class AvroReadingEncoder {
  readonly schema: RegisteredSchema;
  private readonly type: avro.Type;
  private readonly metrics: readonly string[];

  constructor(options: AvroReadingEncoderOptions) {
    this.metrics = options.metrics;
    this.schema = options.registry.register(
      READINGS_SCHEMA_NAME,
      readingAvroSchema(options.metrics) as avro.Schema,
    );
    this.type = avro.Type.forSchema(JSON.parse(this.schema.definition) as avro.Schema);
  }

  /** Glue-framed Avro of a reading, or undefined when the schema cannot hold it (a metric missing). */
  encodeReading(reading: Reading): Buffer | undefined {
    const value: Record<string, unknown> = { sensorId: reading.sensorId, timestamp: reading.timestamp };
    for (const metric of this.metrics) {
      const v = reading.values[metric];
      if (v === undefined) return undefined;
      value[metric] = v;
    }
    return frameGlue(this.schema.versionId, this.type.toBuffer(value));
  }

  /** A JSON record's bytes as Avro when they hold a valid reading, else unchanged. */
  encodeRecord(data: Uint8Array, arrivalMs = Date.now()): Uint8Array {
    const decoded = decodeReading(data, this.metrics, { arrivalMs });
    if (!decoded.ok) return data;
    return this.encodeReading(decoded.reading) ?? data;
  }
}
