/**
 * The Glue Schema Registry for Avro readings: a registry and one schema, `readings`, whose
 * first version is the reading as the handler reads it (functions/ingest/avro-reading.ts):
 * a `SensorReading` record with `sensorId`, `timestamp` (epoch milliseconds) and a double
 * per configured metric. Producers register later versions under the compatibility the
 * deployment chooses (BACKWARD by default: add a field with a default, drop one), and
 * frame each record with the version's UUID (the Glue wire format, avro-wire.ts).
 *
 * The handler looks writer schemas up by that UUID (GlueSchemaSource, GetSchemaVersion);
 * it learns that the deployment has a registry from ENV.schemaRegistryName.
 */
import type { RemovalPolicy } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { READINGS_SCHEMA_NAME, readingAvroSchema } from '../functions/ingest/reading-schema.js';
import type { Grantable } from './access.js';
import type { AvroSettings } from './ingest-settings.js';

// One definition for the stack, the local registry stand-in and the producers' encoder.
export { READINGS_SCHEMA_NAME, readingAvroSchema } from '../functions/ingest/reading-schema.js';

export interface SchemaRegistryProps {
  registryName: string;
  compatibility: AvroSettings['compatibility'];
  metrics: readonly string[];
  removalPolicy: RemovalPolicy;
}

export class SchemaRegistry extends Construct {
  readonly registry: glue.CfnRegistry;
  readonly schema: glue.CfnSchema;
  readonly registryName: string;

  constructor(scope: Construct, id: string, props: SchemaRegistryProps) {
    super(scope, id);
    this.registryName = props.registryName;
    this.registry = new glue.CfnRegistry(this, 'Registry', {
      name: props.registryName,
      description: 'windowpane: Avro schemas of sensor readings',
    });
    this.schema = new glue.CfnSchema(this, 'ReadingsSchema', {
      name: READINGS_SCHEMA_NAME,
      registry: { arn: this.registry.attrArn },
      dataFormat: 'AVRO',
      compatibility: props.compatibility,
      description: 'A sensor reading: sensorId, timestamp (epoch ms), one double per configured metric',
      schemaDefinition: JSON.stringify(readingAvroSchema(props.metrics)),
    });
    // Producers' versions live in the registry: kept with the stack's data.
    this.registry.applyRemovalPolicy(props.removalPolicy);
    this.schema.applyRemovalPolicy(props.removalPolicy);
  }

  /**
   * What the handler's grant names. GetSchemaVersion by SchemaVersionId (all a Glue-framed
   * record carries) is authorised only on `*`: a registry or schema ARN is refused, a
   * limitation the Glue team confirmed (github.com/awslabs/aws-glue-schema-registry/issues/68).
   */
  grantable(): Grantable {
    return {
      grant: (grantee, ...actions) => iam.Grant.addToPrincipal({ grantee, actions, resourceArns: ['*'] }),
    };
  }
}
