/**
 * Wiring for the window handler: builds the dependencies once (per cold start, or per
 * local pipeline) and wraps `processBatch` in middy with Powertools logging and metrics.
 * `handler.ts` calls this with the parsed environment; tests and the local cloud call it
 * with their own client options.
 * Avro readings are decoded as pipeline/deps.ts `attachAvroDecoder` says.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { SchemaSource } from '../ingest/schema-source.js';
import { type ClientOptions, createClients } from '../lib/clients.js';
import type { HandlerEnv } from '../lib/env.js';
import { METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '../lib/metric-names.js';
import { attachAvroDecoder, type BatchDeps, buildBatchDeps } from '../pipeline/deps.js';
import type { BatchReport } from '../pipeline/report.js';
import { processBatch } from './process-batch.js';
import { isTumblingWindowEvent, processCarriedBatch } from './process-carried.js';

export type WindowHandler = ((
  event: KinesisStreamEvent,
  context: Context,
) => Promise<KinesisStreamBatchResponse>) & {
  deps: BatchDeps;
  /** The report of the last batch this handler processed (tests, the local console). */
  lastReport: () => BatchReport | undefined;
};

export interface BuildHandlerOptions {
  /** Where Avro writer schemas come from (default: Glue when the environment names a registry). */
  schemaSource?: SchemaSource;
}

export function buildHandler(
  env: HandlerEnv,
  clientOptions: ClientOptions = {},
  options: BuildHandlerOptions = {},
): WindowHandler {
  const logger = new Logger({ serviceName: SERVICE_NAME });
  // Metrics' own warnings (e.g. nothing to publish after a failed invocation) go through the
  // structured logger, so they obey its level like every other log line.
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger });
  const deps = buildBatchDeps(env, createClients(clientOptions), logger);
  attachAvroDecoder(deps, env, clientOptions, options.schemaSource);
  let last: BatchReport | undefined;

  const wrapped = middy(async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
    const carried = isTumblingWindowEvent(event);
    const { response, report } = carried
      ? await processCarriedBatch(deps, event)
      : await processBatch(deps, event);
    last = report;
    if (carried) {
      metrics.addMetric(METRIC.carriedClaims, MetricUnit.Count, report.claims);
      metrics.addMetric(METRIC.carriedClaimsUnread, MetricUnit.Count, report.claimsUnread);
      metrics.addMetric(METRIC.carriedClaimsStale, MetricUnit.Count, report.claimsStale);
      metrics.addMetric(METRIC.carriedCheckpoints, MetricUnit.Count, report.checkpoints);
      metrics.addMetric(METRIC.carriedHandedBack, MetricUnit.Count, report.handedBack);
      metrics.addMetric(METRIC.carriedCatchUpRecords, MetricUnit.Count, report.caughtUp);
      metrics.addMetric(METRIC.carriedStateBytes, MetricUnit.Bytes, report.carriedBytes);
    }
    metrics.addMetric(METRIC.readings, MetricUnit.Count, report.readings);
    metrics.addMetric(METRIC.invalidRecords, MetricUnit.Count, report.invalid);
    metrics.addMetric(METRIC.lateReadings, MetricUnit.Count, report.late);
    metrics.addMetric(METRIC.alertsPublished, MetricUnit.Count, report.alerts);
    metrics.addMetric(METRIC.windowsFinalised, MetricUnit.Count, report.windowsFinalised);
    metrics.addMetric(METRIC.writeRequests, MetricUnit.Count, report.writeRequests);
    metrics.addMetric(METRIC.conflicts, MetricUnit.Count, report.conflicts);
    metrics.addMetric(METRIC.duplicateRecords, MetricUnit.Count, report.duplicates);
    if (deps.rules) {
      metrics.addMetric(METRIC.alarmTransitions, MetricUnit.Count, report.transitions);
      metrics.addMetric(METRIC.rulesInvalid, MetricUnit.Count, report.rulesInvalid);
      metrics.addMetric(METRIC.rulesRefreshFailed, MetricUnit.Count, report.rulesRefreshFailed);
    }
    metrics.addMetric(METRIC.windowsFinalisedEarly, MetricUnit.Count, report.windowsFinalisedEarly);
    metrics.addMetric(METRIC.alarmActionsRefused, MetricUnit.Count, report.actionsRefused);
    logger.info('batch processed', { report, failed: response.batchItemFailures.length });
    return response;
  })
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));

  return Object.assign(
    wrapped as unknown as (e: KinesisStreamEvent, c: Context) => Promise<KinesisStreamBatchResponse>,
    {
      deps,
      lastReport: () => last,
    },
  );
}
