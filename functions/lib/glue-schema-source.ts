/**
 * The AWS Glue Schema Registry as a SchemaSource: GetSchemaVersion by the version id a
 * Glue-framed record carries. The client comes from the caller (the client factory), so
 * the same code reads Glue, moto or LocalStack, chosen by endpoint.
 *
 * Only "there is no such version" (EntityNotFoundException) and a version that is not
 * AVAILABLE (pending, failed, being deleted) are answers; any other error is thrown, so
 * an outage or missing permission retries the batch instead of making records invalid.
 */
import { GetSchemaVersionCommand, type GetSchemaVersionCommandOutput } from '@aws-sdk/client-glue';
import type { SchemaRef } from '../ingest/avro-wire.js';
import type { SchemaLookup, SchemaSource } from '../ingest/schema-source.js';

/** What the source needs of a GlueClient (a GlueClient is one). */
export interface GlueSchemaClient {
  send(command: GetSchemaVersionCommand): Promise<GetSchemaVersionCommandOutput>;
}

export interface GlueSchemaSourceOptions {
  glue: GlueSchemaClient;
}

export class GlueSchemaSource implements SchemaSource {
  private readonly glue: GlueSchemaClient;

  constructor(options: GlueSchemaSourceOptions) {
    this.glue = options.glue;
  }

  async lookup(ref: SchemaRef): Promise<SchemaLookup> {
    if (ref.registry !== 'glue') {
      return {
        found: false,
        detail: 'a Confluent schema id has no Glue lookup (Glue names versions by UUID)',
      };
    }
    let out: GetSchemaVersionCommandOutput;
    try {
      out = await this.glue.send(new GetSchemaVersionCommand({ SchemaVersionId: ref.versionId }));
    } catch (err) {
      if ((err as { name?: string }).name === 'EntityNotFoundException') {
        return { found: false, detail: 'no such schema version in the Glue Schema Registry' };
      }
      throw err;
    }
    if (out.Status !== 'AVAILABLE') {
      return {
        found: false,
        detail: `schema version is ${out.Status ?? 'of unknown status'}, not AVAILABLE`,
      };
    }
    return { found: true, definition: out.SchemaDefinition ?? '', dataFormat: out.DataFormat ?? 'unknown' };
  }
}
