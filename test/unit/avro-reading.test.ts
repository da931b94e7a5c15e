/**
 * Avro readings in the Glue and Confluent wire formats (functions/ingest/avro-*.ts) with
 * the local registry stand-in (local/registry): decoding, schema evolution, the reasons
 * of every invalid record, and the bounded schema cache.
 */
import { deflateSync } from 'node:zlib';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  type AvroDecodeResult,
  AvroReadingDecoder,
  SchemaNotPreparedError,
} from '../../functions/ingest/avro-reading.js';
import {
  frameConfluent,
  frameGlue,
  InvalidSchemaVersionIdError,
  readSchemaRef,
  type SchemaRef,
} from '../../functions/ingest/avro-wire.js';
import type { SchemaLookup, SchemaSource } from '../../functions/ingest/schema-source.js';
import { IncompatibleSchemaError, LocalSchemaRegistry } from '../../local/registry/local-schema-registry.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const METRICS = ['temperature', 'humidity'];

const V1: avro.Schema = {
  type: 'record',
  name: 'SensorReading',
  namespace: 'com.example.fleet',
  fields: [
    { name: 'sensorId', type: 'string' },
    { name: 'timestamp', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'temperature', type: 'float' },
  ],
};
/** V1 plus an optional field: BACKWARD compatible. */
const V2: avro.Schema = {
  ...V1,
  fields: [
    ...(V1 as { fields: object[] }).fields,
    { name: 'humidity', type: ['null', 'double'], default: null },
    { name: 'firmware', type: ['null', 'string'], default: null },
  ],
} as avro.Schema;
/** temperature became a string: readable by neither the registry's check nor the decoder. */
const STRING_TEMPERATURE: avro.Schema = {
  ...V1,
  fields: [
    { name: 'sensorId', type: 'string' },
    { name: 'timestamp', type: 'long' },
    { name: 'temperature', type: 'string' },
  ],
} as avro.Schema;

function encode(schema: avro.Schema, value: unknown): Buffer {
  return avro.Type.forSchema(schema).toBuffer(value);
}

function setup(options: { compatibility?: 'BACKWARD' | 'NONE'; metrics?: string[] } = {}) {
  const registry = new LocalSchemaRegistry({ compatibility: options.compatibility ?? 'BACKWARD' });
  const decoder = new AvroReadingDecoder({ source: registry, metrics: options.metrics ?? METRICS });
  return { registry, decoder };
}

function expectInvalid(result: AvroDecodeResult, reason: string): string {
  if (result.ok) throw new Error(`expected ${reason}, got reading ${JSON.stringify(result.reading)}`);
  expect(result.reason).toBe(reason);
  return result.detail;
}

/** A SchemaSource that counts lookups and can fail. */
class CountingSource implements SchemaSource {
  lookups = 0;
  failure: Error | undefined;
  constructor(private readonly inner: SchemaSource) {}
  async lookup(ref: SchemaRef): Promise<SchemaLookup> {
    this.lookups++;
    if (this.failure) throw this.failure;
    return this.inner.lookup(ref);
  }
}

const value = { sensorId: 'sensor-1', timestamp: T0, temperature: 21.5 };

describe('Avro reading: the wire formats byte by byte', () => {
  it('Glue: version 3, compression byte, the UUID most significant byte first, the body', () => {
    const framed = frameGlue('01234567-89ab-cdef-0123-456789abcdef', Buffer.from([0xaa]));
    expect(framed.toString('hex')).toBe('0300' + '0123456789abcdef0123456789abcdef' + 'aa');
    expect(
      frameGlue('01234567-89ab-cdef-0123-456789abcdef', Buffer.from([0xaa]), { compression: 'zlib' })[1],
    ).toBe(5);
    expect(readSchemaRef(framed)).toEqual({
      registry: 'glue',
      versionId: '01234567-89ab-cdef-0123-456789abcdef',
    });
  });

  it('Confluent: magic 0, the id as a big-endian 32-bit integer, the body', () => {
    const framed = frameConfluent(0x01020304, Buffer.from([0xaa]));
    expect(framed.toString('hex')).toBe('0001020304aa');
    expect(readSchemaRef(framed)).toEqual({ registry: 'confluent', id: 0x01020304 });
  });

  it('refuses to frame a version id that is not a UUID', () => {
    expect(() => frameGlue('not-a-uuid', Buffer.alloc(0))).toThrow(InvalidSchemaVersionIdError);
  });
});

describe('Avro reading: Glue and Confluent framings decode into a reading', () => {
  it.each(['none', 'zlib'] as const)('Glue, compression %s', async (compression) => {
    const { registry, decoder } = setup();
    const { versionId } = registry.register('readings', V1);
    const result = await decoder.decode(frameGlue(versionId, encode(V1, value), { compression }));
    expect(result).toEqual({
      ok: true,
      reading: { sensorId: 'sensor-1', timestamp: T0, values: { temperature: 21.5 } },
      schema: `glue:${versionId}`,
    });
  });

  it('Confluent', async () => {
    const { registry, decoder } = setup();
    const { id } = registry.register('readings', V1);
    const result = await decoder.decode(frameConfluent(id, encode(V1, value)));
    expect(result.ok && result.reading).toEqual({
      sensorId: 'sensor-1',
      timestamp: T0,
      values: { temperature: 21.5 },
    });
  });

  it('sensor_id alias, ISO timestamps and int metrics, as in JSON', async () => {
    const schema: avro.Schema = {
      type: 'record',
      name: 'R',
      fields: [
        { name: 'sensor_id', type: 'string' },
        { name: 'timestamp', type: 'string' },
        { name: 'temperature', type: 'int' },
      ],
    };
    const { registry, decoder } = setup();
    const { versionId } = registry.register('alias', schema);
    const bytes = frameGlue(
      versionId,
      encode(schema, { sensor_id: 's', timestamp: '2026-01-01T01:00:00+01:00', temperature: 7 }),
    );
    const result = await decoder.decode(bytes);
    expect(result.ok && result.reading).toEqual({ sensorId: 's', timestamp: T0, values: { temperature: 7 } });
  });

  it('timestamp-micros is read as epoch milliseconds', async () => {
    const schema: avro.Schema = {
      type: 'record',
      name: 'R',
      fields: [
        { name: 'sensorId', type: 'string' },
        { name: 'timestamp', type: ['null', { type: 'long', logicalType: 'timestamp-micros' }] },
        { name: 'temperature', type: 'double' },
      ],
    };
    const { registry, decoder } = setup();
    const { versionId } = registry.register('micros', schema);
    const bytes = frameGlue(
      versionId,
      encode(schema, { sensorId: 's', timestamp: T0 * 1000 + 999, temperature: 1 }),
    );
    const result = await decoder.decode(bytes);
    expect(result.ok && result.reading.timestamp).toBe(T0);
  });
});

describe('Avro reading: schema evolution', () => {
  it('an added optional field is accepted, and records of both versions decode', async () => {
    const { registry, decoder } = setup();
    const v1 = registry.register('readings', V1);
    const v2 = registry.register('readings', V2);
    expect(v2.version).toBe(2);
    expect(v2.versionId).not.toBe(v1.versionId);
    const old = await decoder.decode(frameGlue(v1.versionId, encode(V1, value)));
    const current = await decoder.decode(
      frameGlue(v2.versionId, encode(V2, { ...value, humidity: 40, firmware: '1.2.3' })),
    );
    expect(old.ok && old.reading.values).toEqual({ temperature: 21.5 });
    // humidity is a configured metric, so it is read; firmware is not, so it is skipped.
    expect(current.ok && current.reading.values).toEqual({ temperature: 21.5, humidity: 40 });
  });

  it('registering the same definition again returns the existing version', () => {
    const { registry } = setup();
    const first = registry.register('readings', V1);
    expect(registry.register('readings', JSON.stringify(V1))).toEqual(first);
    expect(registry.versions('readings')).toHaveLength(1);
  });

  it('an incompatible change is refused at registration (BACKWARD), and nothing is registered', () => {
    const { registry } = setup();
    registry.register('readings', V1);
    expect(() => registry.register('readings', STRING_TEMPERATURE)).toThrow(IncompatibleSchemaError);
    const requiredAddition = {
      ...V1,
      fields: [...(V1 as { fields: object[] }).fields, { name: 'site', type: 'string' }],
    } as avro.Schema;
    expect(() => registry.register('readings', requiredAddition)).toThrow(/site/);
    expect(registry.versions('readings')).toHaveLength(1);
  });

  it('an incompatible schema that got registered anyway is refused at decode time, with the reason', async () => {
    // A registry that does not check (compatibility NONE, or moto's Glue).
    const { registry, decoder } = setup({ compatibility: 'NONE' });
    registry.register('readings', V1);
    const bad = registry.register('readings', STRING_TEMPERATURE);
    const result = await decoder.decode(
      frameGlue(
        bad.versionId,
        encode(STRING_TEMPERATURE, { sensorId: 's', timestamp: T0, temperature: 'warm' }),
      ),
    );
    expect(expectInvalid(result, 'avro-incompatible-schema')).toContain('cannot read "string"');
  });

  it.each([
    ['not a record', { type: 'string' }, 'not a record'],
    [
      'no sensor id',
      {
        type: 'record',
        name: 'R',
        fields: [
          { name: 'timestamp', type: 'long' },
          { name: 'temperature', type: 'double' },
        ],
      },
      'no sensorId',
    ],
    [
      'no timestamp',
      {
        type: 'record',
        name: 'R',
        fields: [
          { name: 'sensorId', type: 'string' },
          { name: 'temperature', type: 'double' },
        ],
      },
      'no timestamp',
    ],
    [
      'no metric',
      {
        type: 'record',
        name: 'R',
        fields: [
          { name: 'sensorId', type: 'string' },
          { name: 'timestamp', type: 'long' },
        ],
      },
      'none of the configured metrics',
    ],
    [
      'nanosecond timestamps',
      {
        type: 'record',
        name: 'R',
        fields: [
          { name: 'sensorId', type: 'string' },
          { name: 'timestamp', type: { type: 'long', logicalType: 'timestamp-nanos' } },
          { name: 'temperature', type: 'double' },
        ],
      },
      'timestamp-nanos',
    ],
  ])('avro-incompatible-schema: %s', async (_what, schema, detail) => {
    const { registry, decoder } = setup();
    const { versionId } = registry.register(`s-${_what}`, schema as avro.Schema);
    const result = await decoder.decode(frameGlue(versionId, Buffer.from([0])));
    expect(expectInvalid(result, 'avro-incompatible-schema')).toContain(detail);
  });
});

describe('Avro reading: bad records are invalid with a reason, never dropped', () => {
  it('avro-unknown-schema: an id the registry does not have (Glue and Confluent)', async () => {
    const { decoder } = setup();
    const glue = await decoder.decode(frameGlue('6f1c7a52-2d8e-4c8e-9a2b-3f0c1d2e3f40', encode(V1, value)));
    expect(expectInvalid(glue, 'avro-unknown-schema')).toContain('glue:6f1c7a52-2d8e-4c8e-9a2b-3f0c1d2e3f40');
    expectInvalid(await decoder.decode(frameConfluent(99, encode(V1, value))), 'avro-unknown-schema');
  });

  it('avro-undecodable: truncated body, trailing bytes, a long beyond 2^53', async () => {
    const { registry, decoder } = setup();
    const { versionId } = registry.register('readings', V1);
    const body = encode(V1, value);
    expectInvalid(
      await decoder.decode(frameGlue(versionId, body.subarray(0, body.length - 2))),
      'avro-undecodable',
    );
    expectInvalid(
      await decoder.decode(frameGlue(versionId, Buffer.concat([body, Buffer.from([0])]))),
      'avro-undecodable',
    );
    const hugeTimestamp = Buffer.concat([
      encode({ type: 'string' }, 'sensor-1'),
      Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      body.subarray(body.length - 4),
    ]);
    expect(
      expectInvalid(await decoder.decode(frameGlue(versionId, hugeTimestamp)), 'avro-undecodable'),
    ).toContain('precision');
  });

  it('avro-bad-header, avro-bad-compression, too-large', async () => {
    const { registry, decoder } = setup();
    const { versionId } = registry.register('readings', V1);
    const framed = frameGlue(versionId, encode(V1, value));
    const badCompression = Buffer.from(framed);
    badCompression[1] = 7;
    expect(expectInvalid(await decoder.decode(badCompression), 'avro-bad-header')).toContain(
      'compression byte is 7',
    );
    expectInvalid(await decoder.decode(framed.subarray(0, 10)), 'avro-bad-header');
    expectInvalid(await decoder.decode(Buffer.from([0, 0, 1])), 'avro-bad-header');
    const zlib = Buffer.from(frameGlue(versionId, encode(V1, value), { compression: 'zlib' }));
    zlib[zlib.length - 3] = (zlib[zlib.length - 3]! ^ 0xff) & 0xff;
    expectInvalid(await decoder.decode(zlib), 'avro-bad-compression');
    // 10 MB of zeros deflate to about 10 kB: the decoder stops inflating at the record limit.
    const bomb = Buffer.concat([framed.subarray(0, 18), deflateSync(Buffer.alloc(10_000_000))]);
    bomb[1] = 5;
    expectInvalid(await decoder.decode(bomb), 'too-large');
  });

  it('a decoded reading goes through the same field validation as JSON', async () => {
    const { registry, decoder } = setup();
    const { versionId } = registry.register('readings', V2);
    const at = (v: Record<string, unknown>) => frameGlue(versionId, encode(V2, { ...value, ...v }));
    expectInvalid(
      await decoder.decode(at({ timestamp: Date.parse('1999-12-31T23:59:59Z') })),
      'timestamp-out-of-range',
    );
    expectInvalid(await decoder.decode(at({ sensorId: '' })), 'invalid-sensor-id');
    expectInvalid(await decoder.decode(at({ temperature: Number.NaN })), 'invalid-metric');
    const arrival = { arrivalMs: T0 - 2 * 86_400_000 };
    expectInvalid(await decoder.decode(at({}), arrival), 'timestamp-out-of-range');
  });

  it('a batch must be prepared before its records are decoded synchronously', async () => {
    const { registry, decoder } = setup();
    const { versionId } = registry.register('readings', V1);
    const bytes = frameGlue(versionId, encode(V1, value));
    expect(() => decoder.decodePrepared(bytes, new Map())).toThrow(SchemaNotPreparedError);
    const prepared = await decoder.prepare([bytes, bytes]);
    expect(decoder.decodePrepared(bytes, prepared).ok).toBe(true);
  });
});

describe('Avro reading: the schema cache', () => {
  it('asks the source once per schema, and again for an unknown id once its answer expires', async () => {
    const registry = new LocalSchemaRegistry();
    const source = new CountingSource(registry);
    let now = 0;
    const decoder = new AvroReadingDecoder({
      source,
      metrics: METRICS,
      notFoundTtlMs: 1_000,
      now: () => now,
    });
    const { versionId } = registry.register('readings', V1);
    const good = frameGlue(versionId, encode(V1, value));
    const unknown = frameConfluent(1234, encode(V1, value));
    const prepared = await decoder.prepare([good, good, unknown, unknown, good]);
    expect(source.lookups).toBe(2);
    expect(decoder.decodePrepared(unknown, prepared).ok).toBe(false);
    await decoder.prepare([good, unknown]);
    expect(source.lookups).toBe(2);
    now = 1_000;
    await decoder.prepare([good, unknown]);
    expect(source.lookups).toBe(3);
  });

  it('is bounded: the least recently used schema goes first', async () => {
    const registry = new LocalSchemaRegistry({ compatibility: 'NONE' });
    const source = new CountingSource(registry);
    const decoder = new AvroReadingDecoder({ source, metrics: METRICS, maxSchemas: 2 });
    const ids = ['a', 'b', 'c'].map(
      (name) => registry.register(name, { ...V1, name } as avro.Schema).versionId,
    );
    const record = (i: number) => frameGlue(ids[i]!, Buffer.from([0]));
    await decoder.prepare([record(0), record(1)]);
    await decoder.prepare([record(0)]); // a is now the most recently used
    await decoder.prepare([record(2)]); // evicts b
    expect(decoder.cachedSchemas).toBe(2);
    expect(source.lookups).toBe(3);
    await decoder.prepare([record(0), record(2)]);
    expect(source.lookups).toBe(3);
    await decoder.prepare([record(1)]);
    expect(source.lookups).toBe(4);
  });

  it('a source that cannot be reached fails the batch instead of making records invalid', async () => {
    const registry = new LocalSchemaRegistry();
    const source = new CountingSource(registry);
    const { versionId } = registry.register('readings', V1);
    source.failure = new Error('connect ECONNREFUSED');
    const decoder = new AvroReadingDecoder({ source, metrics: METRICS });
    await expect(decoder.prepare([frameGlue(versionId, encode(V1, value))])).rejects.toThrow('ECONNREFUSED');
    expect(decoder.cachedSchemas).toBe(0);
  });
});
