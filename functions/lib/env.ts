/**
 * The handler's environment, parsed once at cold start. A missing, malformed or misspelt
 * variable fails the cold start with its name in the message, never as `undefined`
 * mid-batch; `WINDOWPANE_CONFIG` is parsed as strictly as the `cdk.json` context.
 */
import { z } from 'zod';
import { parseConfigJson, type WindowpaneConfig } from '../domain/config.js';
import { nearMisses, parse } from '../domain/parse.js';
import { ENV } from './resources.js';

const HandlerEnvSchema = z
  .looseObject({
    [ENV.stateTable]: z.string().min(1),
    [ENV.resultsTable]: z.string().min(1),
    [ENV.alertLedgerTable]: z.string().min(1),
    [ENV.alertTopicArn]: z.string().startsWith('arn:'),
    [ENV.invalidQueueUrl]: z.url(),
    [ENV.lateQueueUrl]: z.url(),
    [ENV.resultsStream]: z.string().min(1).optional(),
    [ENV.schemaRegistryName]: z.string().min(1).optional(),
    [ENV.rulesTable]: z.string().min(1).optional(),
    [ENV.alarmsTable]: z.string().min(1).optional(),
    [ENV.readingsStream]: z.string().min(1).optional(),
    [ENV.config]: z.string().optional(),
  })
  // The environment also holds Lambda's and the runtime's variables, so it cannot be a
  // strict object; a misspelt windowpane variable is still an error, not a silent default.
  .check(nearMisses(Object.values(ENV)));

export interface HandlerEnv {
  stateTable: string;
  resultsTable: string;
  alertLedgerTable: string;
  alertTopicArn: string;
  invalidQueueUrl: string;
  lateQueueUrl: string;
  resultsStreamName?: string;
  /** Set when the deployment has a Glue Schema Registry: Avro writer schemas come from Glue. */
  schemaRegistryName?: string;
  /** The rules table; absent: the configured rules only. */
  rulesTable?: string;
  /** The alarms projection; absent: transitions are published only. */
  alarmsTable?: string;
  /** The readings stream; absent: the idle sweeper leaves expired claims alone (CS6). */
  readingsStreamName?: string;
  config: WindowpaneConfig;
}

export function parseHandlerEnv(env: NodeJS.ProcessEnv = process.env): HandlerEnv {
  const e = parse(HandlerEnvSchema, env, 'handler environment');
  return {
    stateTable: e[ENV.stateTable],
    resultsTable: e[ENV.resultsTable],
    alertLedgerTable: e[ENV.alertLedgerTable],
    alertTopicArn: e[ENV.alertTopicArn],
    invalidQueueUrl: e[ENV.invalidQueueUrl],
    lateQueueUrl: e[ENV.lateQueueUrl],
    ...(e[ENV.resultsStream] ? { resultsStreamName: e[ENV.resultsStream] } : {}),
    ...(e[ENV.schemaRegistryName] ? { schemaRegistryName: e[ENV.schemaRegistryName] } : {}),
    ...(e[ENV.rulesTable] ? { rulesTable: e[ENV.rulesTable] } : {}),
    ...(e[ENV.alarmsTable] ? { alarmsTable: e[ENV.alarmsTable] } : {}),
    ...(e[ENV.readingsStream] ? { readingsStreamName: e[ENV.readingsStream] } : {}),
    config: parseConfigJson(e[ENV.config]),
  };
}
