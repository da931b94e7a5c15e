/**
 * Where writer schemas come from. The Avro decoder asks a `SchemaSource` for the schema a
 * record names and caches the answer; on AWS (and moto) that is Glue's GetSchemaVersion
 * (functions/lib/glue-schema-source.ts), for `npm start` an in-process stand-in
 * (local/registry/local-schema-registry.ts).
 *
 * The contract separates the two ways a lookup can fail, because they end differently:
 * - the registry answers that there is no such schema: `{ found: false }`, and the records
 *   naming it are invalid (`avro-unknown-schema`), with their bytes, in the invalid sink;
 * - the registry cannot be asked (network, throttling, credentials): the source throws,
 *   and the batch is retried. Data is never made invalid by an outage.
 */
import type { SchemaRef } from './avro-wire.js';

export type SchemaLookup =
  | {
      found: true;
      /** The schema text as registered (Avro: JSON). */
      definition: string;
      /** The registry's data format: windowpane reads `AVRO` only. */
      dataFormat: string;
    }
  | { found: false; detail: string };

export interface SchemaSource {
  lookup(ref: SchemaRef): Promise<SchemaLookup>;
}
