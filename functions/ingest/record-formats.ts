/**
 * The input formats a Kinesis record may be in, one entry per format in one table, told
 * apart by the record's first bytes (none of them can start another's):
 *
 *   0xF3 0x89 0x9A 0xC2  KPL aggregate (kpl.ts): many user records, each decoded by this table
 *   0x03                 Avro, AWS Glue Schema Registry framing (avro-wire.ts)
 *   0x00                 Avro, Confluent framing
 *   key __windowpane/ctl/ a control record: an alarm action (functions/domain/alarms/control.ts)
 *   anything else        JSON (functions/domain/reading.ts), the default
 *
 * The control entry is the one told by the partition key instead of the bytes: an action
 * is JSON like a reading, and its key is what the producer (the alarms CLI) sets on
 * purpose and no reading has (a reading's key is its sensor id).
 *
 * Adding a format is one entry here. Each entry is pure and synchronous; the one
 * asynchronous need, writer schemas for Avro, is met before decoding by
 * `AvroReadingDecoder.prepare` over the batch's framed payloads (see decode-batch.ts),
 * and handed to the entries as `FormatContext.avro`.
 */
import { type AlarmAction, decodeControl, isControlKey } from '../domain/alarms/control.js';
import { decodeFlatReading } from '../domain/flat-reading.js';
import { type DecodeOptions, decodeReading, type Reading } from '../domain/reading.js';
import type { AvroReadingDecoder, PreparedSchemas } from './avro-reading.js';
import { isConfluentFramed, isGlueFramed } from './avro-wire.js';
import { deaggregate, isKplAggregate, type UserRecord } from './kpl.js';

export type RecordFormatName = 'kpl' | 'avro-glue' | 'avro-confluent' | 'control' | 'json';

/** What a batch's records are decoded with. */
export interface FormatContext {
  metrics: readonly string[];
  /** Schemas of the batch's Avro payloads; absent when the function has no schema registry. */
  avro?: { decoder: AvroReadingDecoder; prepared: PreparedSchemas };
}

export type FormatResult =
  | { ok: true; reading: Reading }
  /** A control record: an alarm action for the sensor it names. */
  | { ok: true; action: AlarmAction }
  /** An aggregate: its user records, to be decoded one by one (never themselves aggregates). */
  | { ok: true; records: UserRecord[] }
  | { ok: false; reason: string; detail: string };

export interface RecordFormat {
  readonly name: RecordFormatName;
  /** True when `data` is in this format, judged by its first bytes (or, for control records, its key). */
  matches(data: Uint8Array, partitionKey?: string): boolean;
  decode(data: Uint8Array, ctx: FormatContext, options: DecodeOptions, partitionKey?: string): FormatResult;
  /** True for the formats whose payloads name a writer schema (prepared per batch). */
  readonly framedAvro: boolean;
}

function avroEntry(name: 'avro-glue' | 'avro-confluent', matches: (d: Uint8Array) => boolean): RecordFormat {
  return {
    name,
    matches,
    framedAvro: true,
    decode(data, ctx, options) {
      if (ctx.avro === undefined) {
        return {
          ok: false,
          reason: 'avro-unknown-schema',
          detail: `${name} record, but this function has no schema registry (GLUE_SCHEMA_REGISTRY_NAME is not set)`,
        };
      }
      return ctx.avro.decoder.decodePrepared(data, ctx.avro.prepared, options);
    },
  };
}

const KPL: RecordFormat = {
  name: 'kpl',
  matches: isKplAggregate,
  framedAvro: false,
  decode: (data) => deaggregate(data),
};

const CONTROL: RecordFormat = {
  name: 'control',
  matches: (_data, partitionKey) => isControlKey(partitionKey),
  framedAvro: false,
  decode: (data, _ctx, options, partitionKey) => decodeControl(data, partitionKey ?? '', options.arrivalMs),
};

const JSON_READING: RecordFormat = {
  name: 'json',
  matches: () => true,
  framedAvro: false,
  // The flat fast path answers for the common record; anything else is decoded in full.
  decode(data, ctx, options, partitionKey) {
    const reading = decodeFlatReading(data, ctx.metrics, options, partitionKey);
    return reading ? { ok: true, reading } : decodeReading(data, ctx.metrics, options);
  },
};

/** Every format, in the order they are tried; JSON last, as it takes anything. */
export const RECORD_FORMATS: readonly RecordFormat[] = [
  KPL,
  avroEntry('avro-glue', isGlueFramed),
  avroEntry('avro-confluent', isConfluentFramed),
  CONTROL,
  JSON_READING,
];

/** The formats a user record of an aggregate may be in: aggregates do not nest (as in KCL). */
export const USER_RECORD_FORMATS: readonly RecordFormat[] = RECORD_FORMATS.filter((f) => f.name !== 'kpl');

/** The entry for `data` (with its partition key): the first that matches. */
export function formatOf(
  data: Uint8Array,
  formats: readonly RecordFormat[] = RECORD_FORMATS,
  partitionKey?: string,
): RecordFormat {
  for (const format of formats) if (format.matches(data, partitionKey)) return format;
  return JSON_READING;
}
