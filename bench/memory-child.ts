/**
 * Child process of the memory suite (bench/suites/memory.ts), bundled with esbuild and
 * run with plain `node --expose-gc`, so its heap holds what a Lambda container's would:
 * the bundled handler code, its clients, and one batch. Input comes as JSON in the
 * BENCH_MEMORY_INPUT variable; the result is one JSON line on stdout.
 *
 * Phases, each measured from a collected heap:
 * 1. the pure path (decode + fold) of one batch, from the state left by the history;
 * 2. `processBatch` of the same batch against the emulators the parent runs, after the
 *    history batches were processed the same way (so states exist and are loaded).
 * The heap is sampled every millisecond while the event loop is free (between requests)
 * and after each phase with its results still referenced; `maxRssMb` is the process's
 * resident-set high-water mark, which includes everything.
 */
import { getHeapStatistics } from 'node:v8';
import { createClients, localClientOptions } from '../functions/lib/clients.js';
import { parseHandlerEnv } from '../functions/lib/env.js';
import { buildBatchDeps } from '../functions/pipeline/deps.js';
import { processBatch } from '../functions/window-handler/process-batch.js';
import type { EmulatorEndpoints } from '../local/cloud/emulators.js';
import { fleetRecords, toEvents } from './data.js';
import { foldHistory, runPurePath } from './pure-path.js';

export interface MemoryChildInput {
  endpoints: EmulatorEndpoints;
  env: Record<string, string>;
  sensors: number;
  batchSize: number;
  historyBatches: number;
  /** Skip the pure phase (the run under a capped heap only needs the handler). */
  handlerOnly?: boolean;
}

export interface PhaseMemory {
  baselineHeapMb: number;
  peakHeapMb: number;
  /** peakHeapMb - baselineHeapMb: what the batch itself needed. */
  batchHeapMb: number;
  peakCommittedHeapMb: number;
}

export interface MemoryChildOutput {
  records: number;
  sensors: number;
  pure?: PhaseMemory;
  handler: PhaseMemory & { readings: number; writeRequests: number };
  rssBeforeBatchMb: number;
  maxRssMb: number;
}

const MB = 2 ** 20;
const gc = (globalThis as { gc?: () => void }).gc;

function heapNow() {
  const h = getHeapStatistics();
  return { used: h.used_heap_size, committed: h.total_heap_size };
}

class HeapSampler {
  peakUsed = 0;
  peakCommitted = 0;
  private timer: NodeJS.Timeout | undefined;

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 1);
  }

  sample(): void {
    const h = heapNow();
    if (h.used > this.peakUsed) this.peakUsed = h.used;
    if (h.committed > this.peakCommitted) this.peakCommitted = h.committed;
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }
}

const round = (bytes: number) => Math.round((bytes / MB) * 10) / 10;

async function main(): Promise<void> {
  if (!gc) throw new Error('run with --expose-gc');
  const input = JSON.parse(process.env.BENCH_MEMORY_INPUT ?? '') as MemoryChildInput;
  const env = parseHandlerEnv(input.env);
  const config = env.config;
  const records = fleetRecords(
    { sensors: input.sensors, rateHz: 1 },
    input.batchSize * (input.historyBatches + 1),
  );
  const events = toEvents(records, input.batchSize);
  const event = events.pop()!;
  records.length = 0;

  let pure: PhaseMemory | undefined;
  if (!input.handlerOnly) {
    const prior = foldHistory(events, config);
    gc();
    const base = heapNow().used;
    const sampler = new HeapSampler();
    sampler.start();
    const result = runPurePath(event, prior, config);
    sampler.stop(); // result still referenced
    if (result.readings === 0) throw new Error('the pure path applied no readings');
    pure = {
      baselineHeapMb: round(base),
      peakHeapMb: round(sampler.peakUsed),
      batchHeapMb: round(sampler.peakUsed - base),
      peakCommittedHeapMb: round(sampler.peakCommitted),
    };
  }

  const clients = createClients(localClientOptions(input.endpoints));
  const deps = buildBatchDeps(env, clients);
  for (const e of events) {
    const { response } = await processBatch(deps, e);
    if (response.batchItemFailures.length > 0) throw new Error('a history batch failed');
  }
  events.length = 0;
  gc();
  const base = heapNow().used;
  const rssBeforeBatch = process.resourceUsage().maxRSS * 1_024;
  const sampler = new HeapSampler();
  sampler.start();
  const { response, report } = await processBatch(deps, event);
  sampler.stop();
  if (response.batchItemFailures.length > 0) throw new Error('the measured batch failed');
  const output: MemoryChildOutput = {
    records: event.Records.length,
    sensors: input.sensors,
    ...(pure ? { pure } : {}),
    handler: {
      baselineHeapMb: round(base),
      peakHeapMb: round(sampler.peakUsed),
      batchHeapMb: round(sampler.peakUsed - base),
      peakCommittedHeapMb: round(sampler.peakCommitted),
      readings: report.readings,
      writeRequests: report.writeRequests,
    },
    rssBeforeBatchMb: round(rssBeforeBatch),
    maxRssMb: round(process.resourceUsage().maxRSS * 1_024),
  };
  for (const c of [clients.dynamodb, clients.kinesis, clients.sns, clients.sqs]) c.destroy();
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `memory child: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
