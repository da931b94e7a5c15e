/**
 * Avro readings framed for a schema registry (Glue or Confluent, see avro-wire.ts),
 * decoded with avsc into the same checks as a JSON reading (reading.ts's validateReading).
 *
 * Schema resolution, not the writer's schema alone: each writer schema is resolved against
 * windowpane's reader schema, which is built from the configured metrics (`sensorId`,
 * `sensor_id`, `timestamp`, one optional double per metric). So a field the writer added
 * is skipped, an int or float metric is promoted to double, and a change the reader
 * cannot follow (a metric that became a string, a timestamp in nanoseconds) makes the
 * schema incompatible: every record written with it is invalid with
 * `avro-incompatible-schema` and the reason avsc gives.
 *
 * Lookups are asynchronous and batch-wide: `prepare` reads the headers of a batch and asks
 * the source once per schema it does not hold; `decodePrepared` is then synchronous per
 * record. Schemas are immutable per id, so answers are cached (least recently used first
 * out, bounded); "not found" is cached briefly, so a batch full of one unknown id costs
 * one lookup, and a schema registered a minute later is found.
 */
import avro from 'avsc';
import { WindowpaneError } from '../domain/errors.js';
import {
  type DecodeOptions,
  type InvalidReason,
  MAX_RECORD_BYTES,
  type Reading,
  validateReading,
} from '../domain/reading.js';
import {
  type FramingInvalidReason,
  readSchemaRef,
  type SchemaRef,
  schemaRefKey,
  unframe,
} from './avro-wire.js';
import type { SchemaSource } from './schema-source.js';

/**
 * Beyond the framing reasons (avro-wire.ts):
 * - `avro-unknown-schema`: the registry has no schema under the record's id.
 * - `avro-incompatible-schema`: the writer schema cannot be read as a reading (not Avro,
 *   not a record, no sensor id or timestamp, no configured metric, a field type the reader
 *   cannot promote).
 * - `avro-undecodable`: the bytes do not decode with the writer schema (truncated,
 *   trailing bytes, a bad union index, a long beyond 2^53).
 */
export type AvroInvalidReason =
  | FramingInvalidReason
  | 'avro-unknown-schema'
  | 'avro-incompatible-schema'
  | 'avro-undecodable';

export const AVRO_INVALID_REASONS: readonly AvroInvalidReason[] = [
  'avro-bad-header',
  'avro-bad-compression',
  'too-large',
  'avro-unknown-schema',
  'avro-incompatible-schema',
  'avro-undecodable',
];

export type AvroDecodeResult =
  | { ok: true; reading: Reading; schema: string }
  | { ok: false; reason: AvroInvalidReason | InvalidReason; detail: string };

export interface AvroReadingDecoderOptions {
  source: SchemaSource;
  metrics: readonly string[];
  /** Writer schemas kept; the least recently used goes first beyond this. */
  maxSchemas?: number;
  /** How long a "no such schema" answer is kept. */
  notFoundTtlMs?: number;
  now?: () => number;
}

/** A writer schema made ready to decode, or the reason its records are invalid. */
type CompiledSchema = { key: string } & (
  | { ok: true; reader: avro.Type; resolver: avro.Resolver; timestampDivisor: number }
  | { ok: false; reason: AvroInvalidReason; detail: string; expiresAt: number }
);

/** Schemas looked up for one batch, by schemaRefKey. */
export type PreparedSchemas = ReadonlyMap<string, CompiledSchema>;

export class SchemaNotPreparedError extends WindowpaneError {
  constructor(key: string) {
    super(`schema ${key} was not prepared for this batch (call prepare with the batch's records first)`);
  }
}

const DEFAULT_MAX_SCHEMAS = 256;
const DEFAULT_NOT_FOUND_TTL_MS = 60_000;
/** Avro names (specification, "Names"): the metrics that can be fields of a record. */
const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ID_FIELDS = ['sensorId', 'sensor_id'] as const;

export class AvroReadingDecoder {
  private readonly source: SchemaSource;
  private readonly metrics: readonly string[];
  private readonly maxSchemas: number;
  private readonly notFoundTtlMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, CompiledSchema>();

  constructor(options: AvroReadingDecoderOptions) {
    this.source = options.source;
    this.metrics = options.metrics;
    this.maxSchemas = options.maxSchemas ?? DEFAULT_MAX_SCHEMAS;
    this.notFoundTtlMs = options.notFoundTtlMs ?? DEFAULT_NOT_FOUND_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  /** Schemas held now (for tests and metrics). */
  get cachedSchemas(): number {
    return this.cache.size;
  }

  /**
   * Looks up every schema the framed records in `records` name that is not cached. Throws
   * when the source cannot be reached (the batch is then retried); records whose header
   * is unreadable are left for `decodePrepared` to report.
   */
  async prepare(records: Iterable<Uint8Array>): Promise<PreparedSchemas> {
    const wanted = new Map<string, SchemaRef>();
    for (const data of records) {
      const ref = readSchemaRef(data);
      if (ref !== undefined) wanted.set(schemaRefKey(ref), ref);
    }
    const prepared = new Map<string, CompiledSchema>();
    const missing: SchemaRef[] = [];
    for (const [key, ref] of wanted) {
      const hit = this.cached(key);
      if (hit) prepared.set(key, hit);
      else missing.push(ref);
    }
    const compiled = await Promise.all(missing.map((ref) => this.fetch(ref)));
    for (const schema of compiled) {
      prepared.set(schema.key, schema);
      this.remember(schema.key, schema);
    }
    return prepared;
  }

  /** Decodes one framed record with schemas from `prepare` (synchronous). */
  decodePrepared(data: Uint8Array, prepared: PreparedSchemas, options: DecodeOptions = {}): AvroDecodeResult {
    if (data.length > MAX_RECORD_BYTES) {
      return {
        ok: false,
        reason: 'too-large',
        detail: `record data is ${data.length} bytes (max ${MAX_RECORD_BYTES})`,
      };
    }
    const framed = unframe(data, MAX_RECORD_BYTES);
    if (!framed.ok) return framed;
    const key = schemaRefKey(framed.ref);
    const schema = prepared.get(key);
    if (schema === undefined) throw new SchemaNotPreparedError(key);
    if (!schema.ok) return { ok: false, reason: schema.reason, detail: schema.detail };
    let value: Record<string, unknown>;
    try {
      value = schema.reader.fromBuffer(Buffer.from(framed.body), schema.resolver) as Record<string, unknown>;
    } catch (err) {
      return { ok: false, reason: 'avro-undecodable', detail: `${key}: ${(err as Error).message}` };
    }
    const result = validateReading(this.plain(value, schema.timestampDivisor), this.metrics, options);
    return result.ok ? { ok: true, reading: result.reading, schema: key } : result;
  }

  /** `prepare` and `decodePrepared` for one record. */
  async decode(data: Uint8Array, options: DecodeOptions = {}): Promise<AvroDecodeResult> {
    return this.decodePrepared(data, await this.prepare([data]), options);
  }

  /** The reader's view as a plain object: Avro nulls are absent fields, as in JSON. */
  private plain(value: Record<string, unknown>, timestampDivisor: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const name of [...ID_FIELDS, 'timestamp', ...this.readerMetrics()]) {
      const v = value[name];
      if (v !== null && v !== undefined) out[name] = v;
    }
    if (typeof out.timestamp === 'number' && timestampDivisor !== 1) {
      out.timestamp = Math.floor(out.timestamp / timestampDivisor);
    }
    return out;
  }

  private readerMetrics(): string[] {
    return this.metrics.filter(
      (m) => AVRO_NAME.test(m) && m !== 'timestamp' && !ID_FIELDS.includes(m as never),
    );
  }

  private cached(key: string): CompiledSchema | undefined {
    const hit = this.cache.get(key);
    if (hit === undefined) return undefined;
    if (!hit.ok && hit.expiresAt <= this.now()) {
      this.cache.delete(key);
      return undefined;
    }
    this.cache.delete(key);
    this.cache.set(key, hit);
    return hit;
  }

  private remember(key: string, schema: CompiledSchema): void {
    this.cache.delete(key);
    this.cache.set(key, schema);
    while (this.cache.size > this.maxSchemas) this.cache.delete(this.cache.keys().next().value!);
  }

  private async fetch(ref: SchemaRef): Promise<CompiledSchema> {
    const key = schemaRefKey(ref);
    const found = await this.source.lookup(ref);
    if (!found.found) {
      return {
        ok: false,
        key,
        reason: 'avro-unknown-schema',
        detail: `${key}: ${found.detail}`,
        expiresAt: this.now() + this.notFoundTtlMs,
      };
    }
    return this.compile(key, found.definition, found.dataFormat);
  }

  private compile(key: string, definition: string, dataFormat: string): CompiledSchema {
    const refuse = (detail: string): CompiledSchema => ({
      ok: false,
      key,
      reason: 'avro-incompatible-schema',
      detail: `${key}: ${detail}`,
      // A registered schema never changes: its verdict is kept as long as it is cached.
      expiresAt: Number.POSITIVE_INFINITY,
    });
    if (dataFormat.toUpperCase() !== 'AVRO') return refuse(`registered as ${dataFormat}, not AVRO`);
    let writer: avro.Type;
    let schemaJson: unknown;
    try {
      schemaJson = JSON.parse(definition);
      writer = avro.Type.forSchema(schemaJson as avro.Schema);
    } catch (err) {
      return refuse(`schema does not parse: ${(err as Error).message}`);
    }
    if (!(writer instanceof avro.types.RecordType))
      return refuse(`top-level type is ${writer.typeName}, not a record`);
    const fields = new Map(writer.fields.map((f) => [f.name, f]));
    if (!ID_FIELDS.some((f) => fields.has(f))) return refuse('no sensorId or sensor_id field');
    if (!fields.has('timestamp')) return refuse('no timestamp field');
    const metrics = this.readerMetrics();
    if (!metrics.some((m) => fields.has(m)))
      return refuse(`none of the configured metrics (${metrics.join(', ')})`);
    const divisor = timestampDivisor(schemaJson);
    if (typeof divisor === 'string') return refuse(divisor);

    const optional = (name: string, type: avro.Schema) => ({ name, type: ['null', type], default: null });
    // Same record name as the writer: Avro resolution matches records by name, and windowpane
    // reads any record that has the reading's fields.
    const reader = avro.Type.forSchema(
      {
        type: 'record',
        name: writer.name ?? 'WindowpaneReading',
        fields: [
          ...ID_FIELDS.map((f) => optional(f, 'string')),
          { name: 'timestamp', type: ['null', 'long', 'string'], default: null },
          ...metrics.map((m) => optional(m, 'double')),
        ],
      } as avro.Schema,
      { wrapUnions: false },
    );
    try {
      return { ok: true, key, reader, resolver: reader.createResolver(writer), timestampDivisor: divisor };
    } catch (err) {
      return refuse((err as Error).message);
    }
  }
}

/**
 * Epoch milliseconds from the writer's timestamp type: plain longs and timestamp-millis
 * as they are, timestamp-micros divided by 1000. Nanoseconds overflow 2^53 for today's
 * dates, and local-timestamp-* have no zone (refused for the reason JSON's zone-less
 * strings are), so those schemas are refused.
 */
function timestampDivisor(writerSchema: unknown): number | string {
  // Read from the schema's JSON: avsc drops logical types it has no implementation for.
  const fields = (writerSchema as { fields?: { name?: unknown; type?: unknown }[] }).fields ?? [];
  const type = fields.find((f) => f.name === 'timestamp')?.type;
  const branches: unknown[] = Array.isArray(type) ? type : [type];
  for (const branch of branches) {
    const logical =
      typeof branch === 'object' && branch !== null
        ? (branch as { logicalType?: unknown }).logicalType
        : undefined;
    if (logical === undefined || logical === 'timestamp-millis') continue;
    if (logical === 'timestamp-micros') return 1000;
    return `timestamp has logical type ${String(logical)}; windowpane reads epoch milliseconds or microseconds`;
  }
  return 1;
}
