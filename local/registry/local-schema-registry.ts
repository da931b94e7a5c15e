/**
 * A schema registry stand-in for the local pipeline (`npm start -- --format avro`): the
 * part of the Glue Schema Registry windowpane needs, in process. It hands out both kinds
 * of id, so one registration serves Glue-framed records (the version's UUID) and
 * Confluent-framed ones (a small integer).
 *
 * Registration checks compatibility as Glue does under its default mode, BACKWARD: the
 * new version must be able to read data written with the latest one (Avro schema
 * resolution, by avsc). An added field with a default passes; an added field without one,
 * or a field whose type changed beyond Avro's promotions, is refused with
 * `IncompatibleSchemaError`, and nothing is registered. (moto's Glue does not check
 * compatibility; the decoder's own check at decode time covers it there.)
 *
 * Ids are derived from the schema name, version and definition, so the same
 * registrations in another process (a replay, a second terminal) give the same UUIDs.
 */
import { createHash } from 'node:crypto';
import avro from 'avsc';
import { WindowpaneError } from '../../functions/domain/errors.js';
import type { SchemaRef } from '../../functions/ingest/avro-wire.js';
import type { SchemaLookup, SchemaSource } from '../../functions/ingest/schema-source.js';

export type Compatibility = 'BACKWARD' | 'NONE';

export interface RegisteredSchema {
  schemaName: string;
  /** 1 for the first version of a schema name. */
  version: number;
  /** The Glue-style schema version id (a UUID). */
  versionId: string;
  /** The Confluent-style id (1, 2, ... in registration order across all names). */
  id: number;
  definition: string;
}

export interface LocalSchemaRegistryOptions {
  compatibility?: Compatibility;
}

export class IncompatibleSchemaError extends WindowpaneError {
  constructor(
    readonly schemaName: string,
    reason: string,
  ) {
    super(`schema ${schemaName}: the new version cannot read data of the latest one (BACKWARD): ${reason}`);
  }
}

export class InvalidSchemaError extends WindowpaneError {
  constructor(schemaName: string, reason: string) {
    super(`schema ${schemaName} is not a valid Avro schema: ${reason}`);
  }
}

export class LocalSchemaRegistry implements SchemaSource {
  private readonly compatibility: Compatibility;
  private readonly byName = new Map<string, RegisteredSchema[]>();
  private readonly byVersionId = new Map<string, RegisteredSchema>();
  private readonly byId = new Map<number, RegisteredSchema>();

  constructor(options: LocalSchemaRegistryOptions = {}) {
    this.compatibility = options.compatibility ?? 'BACKWARD';
  }

  /**
   * Registers `schema` as the next version of `schemaName`, or returns the existing
   * version when the same definition is registered again (as Glue's RegisterSchemaVersion).
   */
  register(schemaName: string, schema: avro.Schema | string): RegisteredSchema {
    let type: avro.Type;
    let definition: string;
    try {
      const parsed = typeof schema === 'string' ? (JSON.parse(schema) as avro.Schema) : schema;
      type = avro.Type.forSchema(parsed);
      // The definition as given, not avsc's rendering of it: avsc drops attributes it does
      // not implement, such as logical types, which the decoder reads.
      definition = JSON.stringify(parsed);
    } catch (err) {
      throw new InvalidSchemaError(schemaName, (err as Error).message);
    }
    const versions = this.byName.get(schemaName) ?? [];
    const same = versions.find((v) => v.definition === definition);
    if (same) return same;
    const latest = versions[versions.length - 1];
    if (latest !== undefined && this.compatibility === 'BACKWARD') {
      try {
        type.createResolver(avro.Type.forSchema(JSON.parse(latest.definition) as avro.Schema));
      } catch (err) {
        throw new IncompatibleSchemaError(schemaName, (err as Error).message);
      }
    }
    const version = versions.length + 1;
    const registered: RegisteredSchema = {
      schemaName,
      version,
      versionId: derivedUuid(`${schemaName}\n${version}\n${definition}`),
      id: this.byId.size + 1,
      definition,
    };
    versions.push(registered);
    this.byName.set(schemaName, versions);
    this.byVersionId.set(registered.versionId, registered);
    this.byId.set(registered.id, registered);
    return registered;
  }

  versions(schemaName: string): readonly RegisteredSchema[] {
    return this.byName.get(schemaName) ?? [];
  }

  async lookup(ref: SchemaRef): Promise<SchemaLookup> {
    const found =
      ref.registry === 'glue' ? this.byVersionId.get(ref.versionId.toLowerCase()) : this.byId.get(ref.id);
    if (found === undefined) {
      return { found: false, detail: 'not registered in the local schema registry' };
    }
    return { found: true, definition: found.definition, dataFormat: 'AVRO' };
  }
}

/** A UUID (version 8: custom) from the SHA-256 of `text`. */
function derivedUuid(text: string): string {
  const b = createHash('sha256').update(text).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
