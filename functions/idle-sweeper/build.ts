/**
 * Wiring for the idle sweeper, a scheduled function (EventBridge rule in the CDK stack, a
 * timer in the local pipeline) that flushes the open windows of sensors silent for longer
 * than `idleTimeoutMs` of processing time, through the same fenced commit as the handler,
 * and takes over the claims carried states left expired (claim-takeover.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { SchemaSource } from '../ingest/schema-source.js';
import { type ClientOptions, createClients } from '../lib/clients.js';
import type { HandlerEnv } from '../lib/env.js';
import { METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '../lib/metric-names.js';
import { attachAvroDecoder, buildBatchDeps } from '../pipeline/deps.js';
import { sweepIdleSensors } from '../pipeline/flush.js';
import type { BatchReport } from '../pipeline/report.js';
import { takeOverClaims } from './claim-takeover.js';

export function buildSweeper(
  env: HandlerEnv,
  clientOptions: ClientOptions = {},
  now: () => number = Date.now,
  /** Avro writer schemas of what a claim takeover reads back (default: as the handler's). */
  schemaSource?: SchemaSource,
) {
  const logger = new Logger({ serviceName: SERVICE_NAME });
  // Metrics' own warnings (e.g. nothing to publish after a failed invocation) go through the
  // structured logger, so they obey its level like every other log line.
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger });
  const deps = buildBatchDeps(env, createClients(clientOptions), logger);
  attachAvroDecoder(deps, env, clientOptions, schemaSource);
  const sweep = async (_event: unknown, _context?: Context): Promise<BatchReport> => {
    const streamName = env.readingsStreamName;
    const report = await sweepIdleSensors(deps, {
      nowMs: now(),
      idleTimeoutMs: env.config.idleTimeoutMs,
      ...(streamName ? { takeOver: (states, r) => takeOverClaims(deps, states, streamName, r) } : {}),
    });
    metrics.addMetric(METRIC.idleSensors, MetricUnit.Count, report.sensors);
    metrics.addMetric(METRIC.windowsFinalised, MetricUnit.Count, report.windowsFinalised);
    metrics.addMetric(METRIC.writeRequests, MetricUnit.Count, report.writeRequests);
    metrics.addMetric(METRIC.conflicts, MetricUnit.Count, report.conflicts);
    logger.info('idle sweep done', { report });
    return report;
  };
  return Object.assign(middy(sweep).use(injectLambdaContext(logger)).use(logMetrics(metrics)), {
    deps,
    sweep,
  });
}
