/**
 * The Glue schema source against moto's Glue Schema Registry over real HTTP: schemas
 * registered with the real SDK are found by the version id a Glue-framed record carries,
 * an unknown id is "not found" (the record is invalid), and an unreachable registry throws
 * (the batch is retried). moto does not check compatibility on registration, so the
 * incompatible version registered here is refused by the decoder instead. The handler
 * builds this source itself when its environment names a registry (as the stack sets it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import {
  CreateRegistryCommand,
  CreateSchemaCommand,
  GlueClient,
  RegisterSchemaVersionCommand,
} from '@aws-sdk/client-glue';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { AvroReadingDecoder } from '../../functions/ingest/avro-reading.js';
import { frameGlue } from '../../functions/ingest/avro-wire.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { parseHandlerEnv } from '../../functions/lib/env.js';
import { GlueSchemaSource } from '../../functions/lib/glue-schema-source.js';
import { ENV } from '../../functions/lib/resources.js';
import { buildHandler } from '../../functions/window-handler/build.js';
import { drainQueue } from '../../local/cloud/index.js';
import {
  createTestPipeline,
  kinesisEvent,
  lambdaContext,
  putRecords,
  readAllRecords,
} from './pipeline-helpers.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const V1 = {
  type: 'record',
  name: 'SensorReading',
  fields: [
    { name: 'sensorId', type: 'string' },
    { name: 'timestamp', type: 'long' },
    { name: 'temperature', type: 'double' },
  ],
} as const;
const V2 = { ...V1, fields: [...V1.fields, { name: 'firmware', type: ['null', 'string'], default: null }] };
const V3 = { ...V1, fields: [V1.fields[0], V1.fields[1], { name: 'temperature', type: 'string' }] };

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

function glueClient(endpoint: string): GlueClient {
  return new GlueClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 1,
  });
}

let moto: ChildProcess | undefined;
let glue: GlueClient;
let motoUrl: string;

beforeAll(async () => {
  const port = await freePort();
  moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  motoUrl = `http://127.0.0.1:${port}`;
  glue = glueClient(motoUrl);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await glue.send(new CreateRegistryCommand({ RegistryName: 'windowpane' }));
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
});

afterAll(async () => {
  glue?.destroy();
  if (moto?.exitCode === null) {
    moto.kill('SIGTERM');
    await once(moto, 'exit');
  }
});

describe('Glue schema source (moto)', () => {
  it('finds registered versions by id; the decoder reads records of both', async () => {
    const created = await glue.send(
      new CreateSchemaCommand({
        RegistryId: { RegistryName: 'windowpane' },
        SchemaName: 'readings',
        DataFormat: 'AVRO',
        Compatibility: 'BACKWARD',
        SchemaDefinition: JSON.stringify(V1),
      }),
    );
    const v2 = await glue.send(
      new RegisterSchemaVersionCommand({
        SchemaId: { RegistryName: 'windowpane', SchemaName: 'readings' },
        SchemaDefinition: JSON.stringify(V2),
      }),
    );
    const source = new GlueSchemaSource({ glue });
    const lookup = await source.lookup({ registry: 'glue', versionId: created.SchemaVersionId! });
    expect(lookup).toEqual({ found: true, definition: JSON.stringify(V1), dataFormat: 'AVRO' });

    const decoder = new AvroReadingDecoder({ source, metrics: ['temperature'] });
    const records = [
      frameGlue(
        created.SchemaVersionId!,
        avro.Type.forSchema(V1 as unknown as avro.Schema).toBuffer({
          sensorId: 'a',
          timestamp: T0,
          temperature: 1,
        }),
      ),
      frameGlue(
        v2.SchemaVersionId!,
        avro.Type.forSchema(V2 as unknown as avro.Schema).toBuffer({
          sensorId: 'b',
          timestamp: T0,
          temperature: 2,
          firmware: 'x',
        }),
        { compression: 'zlib' },
      ),
    ];
    const prepared = await decoder.prepare(records);
    expect(records.map((r) => decoder.decodePrepared(r, prepared))).toEqual([
      {
        ok: true,
        reading: { sensorId: 'a', timestamp: T0, values: { temperature: 1 } },
        schema: `glue:${created.SchemaVersionId}`,
      },
      {
        ok: true,
        reading: { sensorId: 'b', timestamp: T0, values: { temperature: 2 } },
        schema: `glue:${v2.SchemaVersionId}`,
      },
    ]);
  });

  it('an incompatible version moto accepted is refused at decode time', async () => {
    const v3 = await glue.send(
      new RegisterSchemaVersionCommand({
        SchemaId: { RegistryName: 'windowpane', SchemaName: 'readings' },
        SchemaDefinition: JSON.stringify(V3),
      }),
    );
    const decoder = new AvroReadingDecoder({
      source: new GlueSchemaSource({ glue }),
      metrics: ['temperature'],
    });
    const body = avro.Type.forSchema(V3 as unknown as avro.Schema).toBuffer({
      sensorId: 'a',
      timestamp: T0,
      temperature: 'hot',
    });
    const result = await decoder.decode(frameGlue(v3.SchemaVersionId!, body));
    expect(result).toMatchObject({ ok: false, reason: 'avro-incompatible-schema' });
  });

  it('an unknown version id is not found (the record is invalid, with a reason)', async () => {
    const source = new GlueSchemaSource({ glue });
    const versionId = '0b7b2f7e-1c9d-4b7a-8a1e-2f3c4d5e6f70';
    expect(await source.lookup({ registry: 'glue', versionId })).toEqual({
      found: false,
      detail: 'no such schema version in the Glue Schema Registry',
    });
    const decoder = new AvroReadingDecoder({ source, metrics: ['temperature'] });
    expect(await decoder.decode(frameGlue(versionId, Buffer.from([0])))).toMatchObject({
      ok: false,
      reason: 'avro-unknown-schema',
    });
  });

  it('the handler, given GLUE_SCHEMA_REGISTRY_NAME as the stack sets it, reads Glue-framed readings through moto', async () => {
    const schema = await glue.send(
      new RegisterSchemaVersionCommand({
        SchemaId: { RegistryName: 'windowpane', SchemaName: 'readings' },
        SchemaDefinition: JSON.stringify(V2),
      }),
    );
    const p = await createTestPipeline(
      inject('endpoints'),
      parseConfig({ stream: { shardCount: 1 } }),
      'glue-env',
    );
    try {
      const env = parseHandlerEnv({ ...p.env, [ENV.schemaRegistryName]: 'windowpane' });
      const base = localClientOptions(inject('endpoints'));
      const handler = buildHandler(env, { ...base, endpoints: { ...base.endpoints, glue: motoUrl } });
      const body = avro.Type.forSchema(V2 as unknown as avro.Schema).toBuffer({
        sensorId: 'g',
        timestamp: T0,
        temperature: 3,
        firmware: null,
      });
      await putRecords(p.clients, p.streamName, [
        { partitionKey: 'g', data: frameGlue(schema.SchemaVersionId!, body) },
        { partitionKey: 'g', data: frameGlue('0b7b2f7e-1c9d-4b7a-8a1e-2f3c4d5e6f71', body) },
      ]);
      const [shard] = await readAllRecords(p.clients, p.streamName);
      const res = await handler(kinesisEvent(shard!.shardId, shard!.records, p.streamArn), lambdaContext());
      expect(res.batchItemFailures).toEqual([]);
      expect(handler.lastReport()).toMatchObject({ readings: 1, invalid: 1 });
      const invalid = await drainQueue(p.clients, p.queues.invalid, { waitMs: 300 });
      expect(invalid.map((m) => (m.body as { reason: string }).reason)).toEqual(['avro-unknown-schema']);
    } finally {
      p.destroy();
    }
  });

  it('a Confluent id has no Glue lookup', async () => {
    const lookup = await new GlueSchemaSource({ glue }).lookup({ registry: 'confluent', id: 1 });
    expect(lookup.found).toBe(false);
  });

  it('an unreachable registry throws, so the batch is retried instead of records made invalid', async () => {
    const unreachable = glueClient(`http://127.0.0.1:${await freePort()}`);
    const source = new GlueSchemaSource({ glue: unreachable });
    await expect(
      source.lookup({ registry: 'glue', versionId: '0b7b2f7e-1c9d-4b7a-8a1e-2f3c4d5e6f70' }),
    ).rejects.toThrow();
    unreachable.destroy();
  });
});
