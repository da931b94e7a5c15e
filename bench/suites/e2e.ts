/**
 * Suite 3, the local pipeline end to end: kinesis-local -> local event source mapping
 * (local/esm) -> the real window handler (`buildHandler`) -> dynalite + fauxqs, with the
 * resources the local cloud provisions (including its output stream of final windows).
 *
 * Throughput. The same records are put to two fresh streams of the same shape. On the
 * first, the Kinesis emulator alone: put everything (PutRecords, 500 a call), then read it
 * all back with GetRecords (the Limit the mapping uses). On the second, the pipeline: put
 * everything the same way, then run the mapping with the real handler until it has
 * drained the stream. Rate = records / (put time + drain time) for each; the target is a
 * pipeline rate of at least 80 % of the emulator's own. Put and drain rates are reported
 * separately too, since the put side (kinesis-local is CPU-bound) dominates both.
 *
 * Latency. With the mapping still running (the default settings: carried state, batching
 * window 0), spike readings of fresh sensors are put one at a time at irregular intervals;
 * each makes the `too-hot` rule fire once. Latency = time the alert was read from the alerts-tap queue (SNS -> SQS, long
 * polling) minus the time just before its PutRecord call. The read time includes the
 * queue's delete round trip, so the numbers err on the slow side.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse } from 'aws-lambda';
import { DEFAULT_CONFIG, parseConfig, type WindowpaneConfig } from '../../functions/domain/config.js';
import type { AwsClients } from '../../functions/lib/clients.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { parseHandlerEnv } from '../../functions/lib/env.js';
import { buildHandler } from '../../functions/window-handler/build.js';
import type { EmulatorEndpoints } from '../../local/cloud/emulators.js';
import {
  drainQueue,
  type LocalPipeline,
  provisionLocalCloud,
  uniquePrefix,
} from '../../local/cloud/index.js';
import { LocalEventSourceMapping } from '../../local/esm/mapping.js';
import { type BenchContext, BenchSuiteError, type Headline } from '../context.js';
import { BENCH_T0, fleetRecords } from '../data.js';
import { nowMs, percentile, round } from '../stats.js';

export const E2E_TARGET_SHARE = 0.8;
export const LATENCY_TARGET_P99_MS = 1_000;

export interface E2eSuiteResult {
  records: number;
  shards: number;
  esm: {
    batchSize: number;
    maxBatchingWindowSeconds: number;
    tumblingWindowSeconds: number;
    parallelizationFactor: number;
    idlePollMs: number;
  };
  emulator: {
    putMs: number;
    drainMs: number;
    putRecordsPerSecond: number;
    drainRecordsPerSecond: number;
    recordsPerSecond: number;
  };
  pipeline: {
    putMs: number;
    processMs: number;
    processRecordsPerSecond: number;
    recordsPerSecond: number;
    invocations: number;
    readings: number;
    invalid: number;
    alerts: number;
    errors: number;
  };
  /** pipeline.recordsPerSecond / emulator.recordsPerSecond. */
  share: number;
  shareTargetMet: boolean;
  /** Processing alone vs reading alone (handler cost; no target). */
  processVsDrain: number;
  latency: {
    alerts: number;
    p50Ms: number;
    p90Ms: number;
    p99Ms: number;
    maxMs: number;
    targetMet: boolean;
    samplesMs: number[];
  };
}

const IDLE_POLL_MS = 200;

async function putAll(
  clients: AwsClients,
  streamName: string,
  records: readonly { partitionKey: string; data: Uint8Array }[],
) {
  for (let i = 0; i < records.length; i += 500) {
    let pending = records.slice(i, i + 500);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 20) throw new BenchSuiteError(`PutRecords kept failing records on ${streamName}`);
      const out = await clients.kinesis.send(
        new PutRecordsCommand({
          StreamName: streamName,
          Records: pending.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })),
        }),
      );
      // Retry only what failed (throttling): order within a shard may then differ, which
      // neither measurement depends on.
      pending = pending.filter((_, j) => out.Records?.[j]?.ErrorCode !== undefined);
    }
  }
}

/** Reads every shard from TRIM_HORIZON until `expected` records were read in total. */
async function readAll(
  clients: AwsClients,
  streamName: string,
  expected: number,
  limit: number,
): Promise<number> {
  const { Shards = [] } = await clients.kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  let total = 0;
  const deadline = Date.now() + 120_000;
  await Promise.all(
    Shards.map(async (shard) => {
      let { ShardIterator: iterator } = await clients.kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shard.ShardId!,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      while (iterator && total < expected) {
        if (Date.now() > deadline)
          throw new BenchSuiteError(`read only ${total} of ${expected} records back`);
        const page = await clients.kinesis.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
        );
        const n = page.Records?.length ?? 0;
        total += n;
        iterator = page.NextShardIterator;
        if (n === 0 && page.MillisBehindLatest === 0) break;
      }
    }),
  );
  return total;
}

async function pipeline(endpoints: EmulatorEndpoints, config: WindowpaneConfig): Promise<LocalPipeline> {
  return provisionLocalCloud(endpoints, { config, prefix: uniquePrefix('bench-e2e') });
}

export async function runE2eSuite(ctx: BenchContext): Promise<E2eSuiteResult> {
  const endpoints = await ctx.endpoints();
  const n = ctx.quick ? 1_000 : 10_000;
  const latencyAlerts = ctx.quick ? 20 : 60;
  // The default settings: carried state, batching window 0.
  const config = parseConfig(DEFAULT_CONFIG);
  const settings = config.eventSource;
  const readLimit = Math.min(10_000, Math.max(1_000, settings.batchSize * settings.parallelizationFactor));
  const records = fleetRecords({ sensors: 100, rateHz: 1 }, n).map((r) => ({
    partitionKey: r.partitionKey,
    data: r.data,
  }));

  // --- the Kinesis emulator on its own ---
  ctx.log(`e2e: emulator baseline, ${n} records`);
  const base = await pipeline(endpoints, config);
  let emulator: E2eSuiteResult['emulator'];
  try {
    const t0 = nowMs();
    await putAll(base.clients, base.resources.stream.name, records);
    const t1 = nowMs();
    const read = await readAll(base.clients, base.resources.stream.name, n, readLimit);
    const t2 = nowMs();
    if (read !== n) throw new BenchSuiteError(`emulator baseline read ${read} of ${n} records`);
    emulator = {
      putMs: round(t1 - t0, 1),
      drainMs: round(t2 - t1, 1),
      putRecordsPerSecond: round((n * 1_000) / (t1 - t0)),
      drainRecordsPerSecond: round((n * 1_000) / (t2 - t1)),
      recordsPerSecond: round((n * 1_000) / (t2 - t0)),
    };
  } finally {
    base.destroyClients();
  }

  // --- the pipeline ---
  ctx.log(`e2e: pipeline, ${n} records through the local event source mapping and the real handler`);
  const cloud = await pipeline(endpoints, config);
  // The handler builds its own clients; keep them to close their sockets at the end.
  const handlerClients: { destroy(): void }[] = [];
  const handler = buildHandler(parseHandlerEnv(cloud.env), {
    ...localClientOptions(endpoints),
    decorate: (client) => {
      handlerClients.push(client as unknown as { destroy(): void });
      return client;
    },
  });
  const totals = { readings: 0, invalid: 0, alerts: 0 };
  const mapping = new LocalEventSourceMapping({
    clients: cloud.clients,
    streamName: cloud.resources.stream.name,
    settings,
    idlePollMs: IDLE_POLL_MS,
    onFailureQueueUrl: cloud.resources.queues.dlq.url,
    handler: async (event, context): Promise<KinesisStreamBatchResponse> => {
      const response = await handler(event, context);
      const report = handler.lastReport();
      if (report) {
        totals.readings += report.readings;
        totals.invalid += report.invalid;
        totals.alerts += report.alerts;
      }
      return response;
    },
  });
  try {
    const t0 = nowMs();
    await putAll(cloud.clients, cloud.resources.stream.name, records);
    const t1 = nowMs();
    mapping.start();
    await mapping.drain({ timeoutMs: 600_000 });
    const t2 = nowMs();
    const stats = mapping.stats();
    if (stats.records !== n || stats.discarded > 0) {
      throw new BenchSuiteError(
        `the pipeline processed ${stats.records} of ${n} records (${stats.errors} errors, ${stats.discarded} discarded)`,
      );
    }
    const pipelineResult = {
      putMs: round(t1 - t0, 1),
      processMs: round(t2 - t1, 1),
      processRecordsPerSecond: round((n * 1_000) / (t2 - t1)),
      recordsPerSecond: round((n * 1_000) / (t2 - t0)),
      invocations: stats.batches,
      readings: totals.readings,
      invalid: totals.invalid,
      alerts: totals.alerts,
      errors: stats.errors,
    };
    ctx.log(
      `e2e: emulator ${emulator.recordsPerSecond} rec/s (put ${emulator.putRecordsPerSecond}, drain ${emulator.drainRecordsPerSecond}); ` +
        `pipeline ${pipelineResult.recordsPerSecond} rec/s (processing ${pipelineResult.processRecordsPerSecond})`,
    );
    // Alerts of the throughput run are not part of the latency sample.
    await drainQueue(cloud.clients, cloud.resources.queues.alertsTap.url, { waitMs: 300 });

    // --- reading-to-alert latency ---
    ctx.log(`e2e: latency, ${latencyAlerts} spike readings`);
    const samples = await measureLatency(cloud, latencyAlerts);
    const share = pipelineResult.recordsPerSecond / emulator.recordsPerSecond;
    const p99 = percentile(samples, 99);
    ctx.log(`e2e: latency p50 ${round(percentile(samples, 50))} ms, p99 ${round(p99)} ms`);
    return {
      records: n,
      shards: cloud.resources.stream.shardCount,
      esm: {
        batchSize: settings.batchSize,
        maxBatchingWindowSeconds: settings.maxBatchingWindowSeconds,
        tumblingWindowSeconds: settings.tumblingWindowSeconds,
        parallelizationFactor: settings.parallelizationFactor,
        idlePollMs: IDLE_POLL_MS,
      },
      emulator,
      pipeline: pipelineResult,
      share: round(share, 3),
      shareTargetMet: share >= E2E_TARGET_SHARE,
      processVsDrain: round(pipelineResult.processRecordsPerSecond / emulator.drainRecordsPerSecond, 3),
      latency: {
        alerts: samples.length,
        p50Ms: round(percentile(samples, 50), 1),
        p90Ms: round(percentile(samples, 90), 1),
        p99Ms: round(p99, 1),
        maxMs: round(Math.max(...samples), 1),
        targetMet: p99 < LATENCY_TARGET_P99_MS,
        samplesMs: samples.map((s) => round(s, 1)),
      },
    };
  } finally {
    await mapping.stop();
    cloud.destroyClients();
    for (const c of handlerClients) c.destroy();
  }
}

async function measureLatency(cloud: LocalPipeline, count: number): Promise<number[]> {
  const putAt = new Map<string, number>();
  const latencies = new Map<string, number>();
  // Once every reading is put, alerts still missing after this long count as lost.
  let giveUpAt = Number.POSITIVE_INFINITY;
  const collector = (async () => {
    while (latencies.size < count && Date.now() < giveUpAt) {
      const messages = await drainQueue(cloud.clients, cloud.resources.queues.alertsTap.url, {
        waitMs: 1_000,
        expect: 1,
      });
      const readAt = Date.now();
      for (const m of messages) {
        const envelope = m.body as { Message?: string } | undefined;
        const alert = JSON.parse(envelope?.Message ?? '{}') as { sensorId?: string };
        const sent = alert.sensorId === undefined ? undefined : putAt.get(alert.sensorId);
        if (sent !== undefined && !latencies.has(alert.sensorId!))
          latencies.set(alert.sensorId!, readAt - sent);
      }
    }
  })();

  // Irregular gaps (a fixed sequence, so runs compare) sample every phase of the poll loop.
  const gaps = [130, 370, 210, 290, 170, 330, 250, 110, 390, 230];
  for (let i = 0; i < count; i++) {
    const sensorId = `latency-probe-${i}`;
    const data = Buffer.from(JSON.stringify({ sensorId, timestamp: BENCH_T0 + i * 1_000, temperature: 40 }));
    putAt.set(sensorId, Date.now());
    await cloud.clients.kinesis.send(
      new PutRecordCommand({ StreamName: cloud.resources.stream.name, PartitionKey: sensorId, Data: data }),
    );
    await new Promise((resolve) => setTimeout(resolve, gaps[i % gaps.length]));
  }
  giveUpAt = Date.now() + 10_000;
  await collector;
  if (latencies.size < count) {
    throw new BenchSuiteError(
      `only ${latencies.size} of ${count} spike readings produced an alert within 10 s`,
    );
  }
  return [...latencies.values()];
}

export function e2eHeadlines(r: E2eSuiteResult): Headline[] {
  return [
    {
      suite: 'e2e',
      metric: `local pipeline vs Kinesis emulator (${r.records.toLocaleString('en-US')} records, put + drain)`,
      value: r.share,
      unit: 'share',
      display: `${Math.round(r.share * 100)} % (${Math.round(r.pipeline.recordsPerSecond)} vs ${Math.round(r.emulator.recordsPerSecond)} rec/s)`,
      target: '>= 80 %',
      met: r.shareTargetMet,
    },
    {
      suite: 'e2e',
      metric: `reading-to-alert latency p50 / p99 (${r.latency.alerts} alerts, batching window 0)`,
      value: r.latency.p99Ms,
      unit: 'ms',
      display: `${Math.round(r.latency.p50Ms)} / ${Math.round(r.latency.p99Ms)} ms`,
      target: 'p99 < 1000 ms',
      met: r.latency.targetMet,
    },
  ];
}
