/**
 * The two schema-registry wire formats windowpane reads, framing only (the Avro body is
 * avsc's business, see avro-reading.ts):
 *
 * - AWS Glue Schema Registry: header version byte 3, compression byte (0 none, 5 zlib),
 *   the 16-byte schema version id (a UUID, most significant byte first), then the Avro
 *   binary, zlib-deflated when the compression byte is 5 (the Glue serde's Deflater).
 * - Confluent: magic byte 0, the schema id as a 4-byte big-endian integer, then the Avro
 *   binary (Avro has no message indexes; those are Protobuf's).
 *
 * A record is recognised by its first byte: 0x03 Glue, 0x00 Confluent. JSON never starts
 * with either (it starts with `{` or whitespace), nor does a KPL aggregate (0xF3).
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { WindowpaneError } from '../domain/errors.js';

export const GLUE_HEADER_VERSION = 0x03;
export const GLUE_COMPRESSION_NONE = 0x00;
export const GLUE_COMPRESSION_ZLIB = 0x05;
export const CONFLUENT_MAGIC = 0x00;
const GLUE_HEADER_BYTES = 18;
const CONFLUENT_HEADER_BYTES = 5;

/** Which registry entry wrote a record. */
export type SchemaRef = { registry: 'glue'; versionId: string } | { registry: 'confluent'; id: number };

/** One string per schema, for cache keys, logs and details. */
export function schemaRefKey(ref: SchemaRef): string {
  return ref.registry === 'glue' ? `glue:${ref.versionId}` : `confluent:${ref.id}`;
}

/**
 * - `avro-bad-header`: too short for its header, or a Glue compression byte other than 0 or 5.
 * - `avro-bad-compression`: the zlib stream is corrupt.
 * - `too-large`: the decompressed body is over the reading limit (reading.ts's reason).
 */
export type FramingInvalidReason = 'avro-bad-header' | 'avro-bad-compression' | 'too-large';

export type UnframeResult =
  | { ok: true; ref: SchemaRef; body: Uint8Array }
  | { ok: false; reason: FramingInvalidReason; detail: string };

export function isGlueFramed(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === GLUE_HEADER_VERSION;
}

export function isConfluentFramed(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === CONFLUENT_MAGIC;
}

/** The schema a framed record names, from its header alone (undefined when unreadable). */
export function readSchemaRef(data: Uint8Array): SchemaRef | undefined {
  if (isGlueFramed(data)) {
    return data.length < GLUE_HEADER_BYTES
      ? undefined
      : { registry: 'glue', versionId: uuidOf(data.subarray(2, GLUE_HEADER_BYTES)) };
  }
  if (isConfluentFramed(data) && data.length >= CONFLUENT_HEADER_BYTES) {
    return {
      registry: 'confluent',
      id: new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1),
    };
  }
  return undefined;
}

/**
 * The schema reference and the (decompressed) Avro body of a framed record. `maxBodyBytes`
 * bounds decompression, so a small record cannot inflate into a large allocation.
 */
export function unframe(data: Uint8Array, maxBodyBytes: number): UnframeResult {
  if (isGlueFramed(data)) return unframeGlue(data, maxBodyBytes);
  if (isConfluentFramed(data)) {
    if (data.length < CONFLUENT_HEADER_BYTES) {
      return invalid(
        'avro-bad-header',
        `Confluent record is ${data.length} bytes, shorter than its 5-byte header`,
      );
    }
    return { ok: true, ref: readSchemaRef(data)!, body: data.subarray(CONFLUENT_HEADER_BYTES) };
  }
  return invalid(
    'avro-bad-header',
    `first byte 0x${hex(data.subarray(0, 1))} is neither Glue (0x03) nor Confluent (0x00)`,
  );
}

function unframeGlue(data: Uint8Array, maxBodyBytes: number): UnframeResult {
  if (data.length < GLUE_HEADER_BYTES) {
    return invalid('avro-bad-header', `Glue record is ${data.length} bytes, shorter than its 18-byte header`);
  }
  const ref = readSchemaRef(data)!;
  const payload = data.subarray(GLUE_HEADER_BYTES);
  const compression = data[1];
  if (compression === GLUE_COMPRESSION_NONE) return { ok: true, ref, body: payload };
  if (compression !== GLUE_COMPRESSION_ZLIB) {
    return invalid(
      'avro-bad-header',
      `Glue compression byte is ${compression}, expected 0 (none) or 5 (zlib)`,
    );
  }
  try {
    return { ok: true, ref, body: inflateSync(payload, { maxOutputLength: maxBodyBytes }) };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      return invalid('too-large', `zlib body inflates past ${maxBodyBytes} bytes`);
    }
    return invalid('avro-bad-compression', `zlib body does not inflate: ${(err as Error).message}`);
  }
}

export interface GlueFrameOptions {
  compression?: 'none' | 'zlib';
}

/** Frames an Avro body as a Glue Schema Registry serializer does (for producers and tests). */
export function frameGlue(versionId: string, body: Uint8Array, options: GlueFrameOptions = {}): Buffer {
  const zlib = options.compression === 'zlib';
  const header = Buffer.alloc(2);
  header[0] = GLUE_HEADER_VERSION;
  header[1] = zlib ? GLUE_COMPRESSION_ZLIB : GLUE_COMPRESSION_NONE;
  return Buffer.concat([header, uuidBytes(versionId), zlib ? deflateSync(body) : body]);
}

/** Frames an Avro body as a Confluent serializer does. */
export function frameConfluent(id: number, body: Uint8Array): Buffer {
  const header = Buffer.alloc(CONFLUENT_HEADER_BYTES);
  header[0] = CONFLUENT_MAGIC;
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

export class InvalidSchemaVersionIdError extends WindowpaneError {
  constructor(value: string) {
    super(`a Glue schema version id is a UUID, got "${value.slice(0, 60)}"`);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidOf(bytes: Uint8Array): string {
  const h = hex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function uuidBytes(uuid: string): Buffer {
  if (!UUID.test(uuid)) throw new InvalidSchemaVersionIdError(uuid);
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function invalid(reason: FramingInvalidReason, detail: string): UnframeResult {
  return { ok: false, reason, detail };
}
