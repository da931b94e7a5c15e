/**
 * The Glue Schema Registry (infra/schema-registry.ts, `windowpaneDeploy.avro`): off by
 * default; on, a registry and the `readings` schema whose first version the handler's
 * Avro decoder reads, the registry's name in the handler environment, and the one grant
 * the Glue schema source needs.
 */
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvroReadingDecoder } from '../../functions/ingest/avro-reading.js';
import { frameGlue } from '../../functions/ingest/avro-wire.js';
import { ENV } from '../../functions/lib/resources.js';
import { readingAvroSchema } from '../../infra/schema-registry.js';
import { LocalSchemaRegistry } from '../../local/registry/local-schema-registry.js';
import { type Built, build, grantsOfRole, idsOf } from './helpers.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const handlerOf = (built: Built) => {
  const fn = built.stack.pipeline.windowHandler;
  const id = (c: { node: { defaultChild?: unknown } }) =>
    built.stack.resolve(built.stack.getLogicalId(c.node.defaultChild as never)) as string;
  return {
    env: built.json.Resources[id(fn.function)]!.Properties.Environment.Variables as Record<string, unknown>,
    grants: grantsOfRole(built.json, id(fn.role)),
  };
};

describe('schema registry off (the default)', () => {
  it('no registry, no schema, no variable, no Glue grant', () => {
    const built = build();
    try {
      expect(idsOf(built.json, 'AWS::Glue::Registry')).toEqual([]);
      expect(idsOf(built.json, 'AWS::Glue::Schema')).toEqual([]);
      const handler = handlerOf(built);
      expect(handler.env[ENV.schemaRegistryName]).toBeUndefined();
      expect(
        Object.values(handler.grants)
          .flat()
          .filter((a) => a.startsWith('glue:')),
      ).toEqual([]);
    } finally {
      built.cleanup();
    }
  });
});

describe('schema registry on', () => {
  let built: Built;
  beforeAll(() => {
    built = build({
      windowpane: { metrics: ['temperature', 'humidity'] },
      windowpaneDeploy: { avro: { enabled: true } },
    });
  });
  afterAll(() => built?.cleanup());

  const schema = () => built.json.Resources[idsOf(built.json, 'AWS::Glue::Schema')[0]!]!;

  it('a registry named after the stack, kept with the data; the readings schema, Avro, BACKWARD', () => {
    const [registryId] = idsOf(built.json, 'AWS::Glue::Registry');
    const registry = built.json.Resources[registryId!]!;
    expect(registry.Properties.Name).toBe('Windowpane');
    expect(registry.DeletionPolicy).toBe('Retain');
    expect(schema().DeletionPolicy).toBe('Retain');
    expect(schema().Properties).toMatchObject({
      Name: 'readings',
      Registry: { Arn: { 'Fn::GetAtt': [registryId, 'Arn'] } },
      DataFormat: 'AVRO',
      Compatibility: 'BACKWARD',
    });
  });

  it('the first version is the reading with the configured metrics', () => {
    expect(JSON.parse(schema().Properties.SchemaDefinition)).toEqual({
      type: 'record',
      name: 'SensorReading',
      fields: [
        { name: 'sensorId', type: 'string' },
        { name: 'timestamp', type: 'long' },
        { name: 'temperature', type: 'double' },
        { name: 'humidity', type: 'double' },
      ],
    });
  });

  it("the handler's Avro decoder reads a record written with it (Glue framing)", async () => {
    const definition = schema().Properties.SchemaDefinition as string;
    const registry = new LocalSchemaRegistry();
    const { versionId } = registry.register('readings', definition);
    const body = avro.Type.forSchema(JSON.parse(definition)).toBuffer({
      sensorId: 's-1',
      timestamp: T0,
      temperature: 21.5,
      humidity: 40,
    });
    const decoder = new AvroReadingDecoder({ source: registry, metrics: ['temperature', 'humidity'] });
    expect(await decoder.decode(frameGlue(versionId, body))).toMatchObject({
      ok: true,
      reading: { sensorId: 's-1', timestamp: T0, values: { temperature: 21.5, humidity: 40 } },
    });
  });

  it('the handler learns the registry from its environment and may GetSchemaVersion (on *, as Glue requires)', () => {
    const handler = handlerOf(built);
    expect(handler.env[ENV.schemaRegistryName]).toBe('Windowpane');
    expect(handler.grants['*']).toEqual(['glue:GetSchemaVersion']);
    expect(
      Object.values(handler.grants)
        .flat()
        .filter((a) => a.startsWith('glue:')),
    ).toEqual(['glue:GetSchemaVersion']);
  });

  it('registryName and compatibility come from windowpaneDeploy.avro', () => {
    const other = build({
      windowpaneDeploy: { avro: { enabled: true, registryName: 'fleet-7', compatibility: 'FULL' } },
    });
    try {
      const [registryId] = idsOf(other.json, 'AWS::Glue::Registry');
      expect(other.json.Resources[registryId!]!.Properties.Name).toBe('fleet-7');
      const [schemaId] = idsOf(other.json, 'AWS::Glue::Schema');
      expect(other.json.Resources[schemaId!]!.Properties.Compatibility).toBe('FULL');
      expect(handlerOf(other).env[ENV.schemaRegistryName]).toBe('fleet-7');
      expect(readingAvroSchema(['temperature']).fields).toHaveLength(3);
    } finally {
      other.cleanup();
    }
  });
});
