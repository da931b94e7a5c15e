/**
 * What the pipeline's use cases need, built once per cold start (or per local pipeline)
 * and shared by both functions: the stream handler (functions/window-handler) and the
 * idle sweeper (functions/idle-sweeper). Their shared use cases live in this folder,
 * functions/pipeline/, between the wiring of each function and the AWS adapters of
 * functions/lib, so neither function imports from the other's folder.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { WindowpaneConfig } from '../domain/config.js';
import { AvroReadingDecoder } from '../ingest/avro-reading.js';
import type { SchemaSource } from '../ingest/schema-source.js';
import { type AwsClients, type ClientOptions, createGlueClient } from '../lib/clients.js';
import type { WriteCounter } from '../lib/dynamo-batch.js';
import { EffectDelivery } from '../lib/effects.js';
import type { HandlerEnv } from '../lib/env.js';
import { GlueSchemaSource } from '../lib/glue-schema-source.js';
import { BACKOFF } from '../lib/retry.js';
import { type RuleSource, TableRuleSource } from '../lib/rule-source.js';
import { RulesTable } from '../lib/rules-table.js';
import { WindowStateStore } from '../lib/state-store.js';
import { DeliveryTracker } from './delivery-tracker.js';
import { ReleasedStates } from './released-states.js';

export interface BatchLogger {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Conditional-write attempts per sensor before the sensor is reported failed. */
export const DEFAULT_COMMIT_ATTEMPTS = BACKOFF.conflict.maxAttempts;
/** Sensors processed at once (bounds concurrent requests). */
export const DEFAULT_SENSOR_CONCURRENCY = 8;
/** Readings folded per commit at most; the item's size bounds it too (domain/sized-fold.ts). */
export const DEFAULT_RECORDS_PER_COMMIT = 2_000;

export interface BatchDeps {
  config: WindowpaneConfig;
  store: WindowStateStore;
  effects: EffectDelivery;
  /** DynamoDB write requests, shared with the store and the effect delivery. */
  counter: WriteCounter;
  /** Which parts of which outbox this process has delivered. */
  delivered: DeliveryTracker;
  /**
   * Carried states this process checkpointed and released, claimed again without a read
   * (SEMANTICS.md CS2); absent: every claim reads the item.
   */
  released?: ReleasedStates;
  /** Rules at runtime (the rules table); absent: the configured rules. */
  rules?: RuleSource;
  logger?: BatchLogger;
  /** Decodes Avro readings (writer schemas from a SchemaSource); absent: Avro records are invalid. */
  avro?: AvroReadingDecoder;
  /** Reads a shard back for a carried state's catch-up (SEMANTICS.md "Carried state" CS5). */
  kinesis?: KinesisClient;
  /** Records per GetRecords call of a catch-up; default DEFAULT_PAGE_LIMIT (shard-reader.ts). */
  catchUpPageLimit?: number;
  /** Processing time, epoch ms (claims of carried state); default Date.now. */
  now?: () => number;
  /** Default DEFAULT_COMMIT_ATTEMPTS. */
  maxCommitAttempts?: number;
  /** Default DEFAULT_SENSOR_CONCURRENCY. */
  concurrency?: number;
  /** Default DEFAULT_RECORDS_PER_COMMIT. */
  maxRecordsPerCommit?: number;
  /** Body size a commit aims for; default COMMIT_TARGET_BYTES (domain/bounds.ts). */
  commitTargetBytes?: number;
}

export const silentLogger: BatchLogger = { debug() {}, warn() {}, error() {} };

export function buildBatchDeps(env: HandlerEnv, clients: AwsClients, logger?: BatchLogger): BatchDeps {
  const counter: WriteCounter = { writes: 0 };
  return {
    config: env.config,
    counter,
    kinesis: clients.kinesis,
    delivered: new DeliveryTracker(),
    released: new ReleasedStates(),
    store: new WindowStateStore({
      doc: clients.doc,
      tableName: env.stateTable,
      ttlDays: env.config.stateTtlDays,
      counter,
    }),
    effects: new EffectDelivery({
      doc: clients.doc,
      sns: clients.sns,
      sqs: clients.sqs,
      kinesis: clients.kinesis,
      targets: {
        resultsTable: env.resultsTable,
        alertLedgerTable: env.alertLedgerTable,
        alertTopicArn: env.alertTopicArn,
        lateQueueUrl: env.lateQueueUrl,
        invalidQueueUrl: env.invalidQueueUrl,
        ledgerTtlDays: env.config.ledgerTtlDays,
        ...(env.resultsStreamName ? { resultsStreamName: env.resultsStreamName } : {}),
        ...(env.alarmsTable ? { alarmsTable: env.alarmsTable } : {}),
      },
      counter,
    }),
    ...(env.rulesTable
      ? {
          rules: new TableRuleSource({
            table: new RulesTable({ doc: clients.doc, tableName: env.rulesTable }),
            config: env.config,
            ...(logger ? { logger } : {}),
          }),
        }
      : {}),
    ...(logger ? { logger } : {}),
  };
}

/**
 * Avro readings are decoded with writer schemas from a SchemaSource: the one given (the
 * local pipeline's registry stand-in), else the Glue Schema Registry when the environment
 * names one (GLUE_SCHEMA_REGISTRY_NAME, set by the stack), else none, and Avro records are
 * invalid (`avro-unknown-schema`, naming the missing registry). Both functions decode: the
 * handler its batches, the idle sweeper what it reads back to take a claim over.
 */
export function attachAvroDecoder(
  deps: BatchDeps,
  env: HandlerEnv,
  clientOptions: ClientOptions,
  schemaSource?: SchemaSource,
): void {
  const source =
    schemaSource ??
    (env.schemaRegistryName ? new GlueSchemaSource({ glue: createGlueClient(clientOptions) }) : undefined);
  if (source) deps.avro = new AvroReadingDecoder({ source, metrics: env.config.metrics });
}
