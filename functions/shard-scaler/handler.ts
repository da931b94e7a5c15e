/**
 * Lambda entry point of the shard scaler, invoked asynchronously by the scaling alarms of
 * a provisioned stream. Wiring only: the environment is parsed and the client built once
 * per cold start; the step itself is `handleAlarm` (scaler.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { createClients } from '../lib/clients.js';
import { parseScalerEnv } from './env.js';
import { handleAlarm, type ScalerOutcome } from './scaler.js';

const env = parseScalerEnv();
const { kinesis } = createClients();
const logger = new Logger({ serviceName: 'windowpane-shard-scaler' });

export const handler = middy(async (event: unknown): Promise<ScalerOutcome> => {
  const outcome = await handleAlarm({ kinesis, ...env, logger }, event);
  logger.info('scaling outcome', { outcome });
  return outcome;
}).use(injectLambdaContext(logger));
