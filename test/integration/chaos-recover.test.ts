/**
 * Chaos mode with bounded retries (local/chaos, `--chaos SEED --retry-attempts N`): faults
 * frequent enough that the mapping gives up on batches, so records reach the on-failure
 * queue; the queue holds every record that was not counted; `npm run recover -- dlq
 * redrive --apply` (its function, redriveDlq) applies exactly those; and after the flush
 * the outputs are a clean run's, computed by test/proof/reference.ts: windows exact,
 * each alert once per alertId.
 *
 * Each shard's records arrive in one batch (one PutRecords call, under the batch size)
 * and bisecting is off, so what the mapping discards is the rest of a shard's batch: no
 * record of a discarded sensor is processed after it, which is when redrive can restore a
 * sensor fully (local/RECOVERY.md explains the fence that otherwise keeps it out).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { compareSequence } from '../../functions/domain/sequence.js';
import { localClientOptions } from '../../functions/lib/clients.js';
import { STATE_TABLE } from '../../functions/lib/resources.js';
import { type ChaosRates, DEFAULT_CHAOS_RATES } from '../../local/chaos/index.js';
import { findTable, uniquePrefix } from '../../local/cloud/index.js';
import { type LocalPipeline, type PipelineOutputs, startLocalPipeline } from '../../local/pipeline/index.js';
import { type DlqEntry, listDlq, redriveDlq } from '../../local/recovery/index.js';
import { reference, windowRows } from '../proof/reference.js';
import { putRecords, readAllRecords, scanAll, stateOfItem } from './pipeline-helpers.js';

const endpoints = inject('endpoints');
const T0 = Date.UTC(2026, 0, 1);
const perBatch = parseConfig({
  stream: { shardCount: 2 },
  eventSource: { bisectBatchOnFunctionError: false },
});
/**
 * With carried state the crashed invocation has claimed its sensors (CS2) before it died,
 * new sensors included, so the redrive's batches meet claims of a lost carried state (CS7).
 */
const carried = parseConfig({
  stream: { shardCount: 2 },
  eventSource: { bisectBatchOnFunctionError: false, tumblingWindowSeconds: 300 },
});
/**
 * Only handler crashes (the process dies at its k-th DynamoDB write), at the highest rate
 * the plan allows. Each shard's batch is one invocation, so the seed alone decides: seed
 * 7's first two crash decisions are both "crash", at the 19th and 18th write, when some
 * of a shard's 20 sensors have committed and others not. No timeouts: a timed-out
 * invocation works on and commits everything, leaving nothing for recovery to do.
 */
const rates: ChaosRates = {
  ...(Object.fromEntries(Object.keys(DEFAULT_CHAOS_RATES).map((k) => [k, 0])) as ChaosRates),
  handlerCrash: 0.49,
};
const SEED = 7;

/** 40 sensors, 8 readings each at 15 s, interleaved; hot, cold and jumping values for alerts. */
const lines = Array.from({ length: 320 }, (_, i) => {
  const sensor = i % 40;
  const step = Math.floor(i / 40);
  const temperature =
    (step + sensor) % 13 === 5 ? 40 : (step + sensor) % 17 === 3 ? 2 : 20 + ((step * (sensor + 1)) % 7) * 0.5;
  return Buffer.from(JSON.stringify({ sensorId: `s-${sensor}`, timestamp: T0 + step * 15_000, temperature }));
});

function inRange(f: NonNullable<DlqEntry['failure']>, shardId: string, sequence: string): boolean {
  return (
    f.shardId === shardId &&
    compareSequence(sequence, f.startSequenceNumber) >= 0 &&
    compareSequence(sequence, f.endSequenceNumber) <= 0
  );
}

describe.each([
  ['per-batch state', perBatch],
  ['carried state', carried],
] as const)(
  'Chaos with bounded retries (%s): what reaches the on-failure queue, and `npm run recover` brings it back',
  (_design, config) => {
    let pipeline: LocalPipeline;
    let dlq: DlqEntry[];
    let notCounted: { shardId: string; sequence: string }[];
    let redriven: Awaited<ReturnType<typeof redriveDlq>>;
    let outputs: PipelineOutputs;

    beforeAll(async () => {
      pipeline = await startLocalPipeline({
        config,
        target: localClientOptions(endpoints),
        prefix: uniquePrefix('chaos-rec'),
        resourceSource: 'config',
        chaos: { seed: SEED, rates, retryAttempts: 0 },
      });
      await putRecords(
        pipeline.clients,
        pipeline.resources.stream.name,
        lines.map((data) => ({
          partitionKey: (JSON.parse(data.toString()) as { sensorId: string }).sensorId,
          data,
        })),
      );
      await pipeline.mapping.drain({ timeoutMs: 120_000 });
      const dlqUrl = pipeline.resources.queues.dlq.url;
      dlq = await listDlq(pipeline.clients, dlqUrl);

      // Not counted: records above their sensor's fence for their shard (or of a sensor with no state).
      const states = (await scanAll(pipeline.clients, findTable(pipeline.resources, STATE_TABLE).name)) as {
        sensorId: string;
        body: string;
      }[];
      const fences = new Map(
        states.map((s) => [s.sensorId, stateOfItem(s as unknown as Record<string, unknown>).applied]),
      );
      notCounted = [];
      for (const { shardId, records } of await readAllRecords(
        pipeline.clients,
        pipeline.resources.stream.name,
      )) {
        for (const r of records) {
          const fence = fences.get(r.PartitionKey!)?.[shardId];
          if (fence === undefined || compareSequence(r.SequenceNumber!, fence) > 0) {
            notCounted.push({ shardId, sequence: r.SequenceNumber! });
          }
        }
      }

      redriven = await redriveDlq({
        clients: pipeline.clients,
        dlqUrl,
        apply: true,
        handler: pipeline.handler,
      });
      await pipeline.flush();
      outputs = await pipeline.collect({ waitMs: 1_000 });
      console.info(
        `chaos seed ${SEED}, retryAttempts 0: ${pipeline.mapping.stats().discarded} record(s) discarded in ${dlq.length} message(s), ${notCounted.length} not counted, ${redriven.totals.readings} applied by the redrive`,
      );
    }, 300_000);

    afterAll(() => pipeline?.stop());

    it('discards batches under bounded retries: their records are in the on-failure queue', () => {
      expect(pipeline.mapping.stats().discarded).toBeGreaterThan(0);
      expect(dlq.length).toBeGreaterThan(0);
      expect(dlq.every((e) => e.failure?.condition === 'RetryAttemptsExhausted')).toBe(true);
      expect(dlq.reduce((n, e) => n + e.failure!.batchSize, 0)).toBe(pipeline.mapping.stats().discarded);
    });

    it('the on-failure queue holds every record that was not counted', () => {
      expect(notCounted.length).toBeGreaterThan(0);
      const missing = notCounted.filter((r) => !dlq.some((e) => inRange(e.failure!, r.shardId, r.sequence)));
      expect(missing).toEqual([]);
    });

    it('redrive applies exactly the records not counted, and empties the queue', () => {
      expect(redriven.ranges.every((r) => r.outcome === 'redriven')).toBe(true);
      expect(redriven.deleted).toBe(dlq.length);
      expect(redriven.totals.readings).toBe(notCounted.length);
      expect(redriven.totals.failedSensors).toBe(0);
      expect(outputs.failures).toEqual([]);
    });

    it("after recovery and the flush the outputs are a clean run's: windows exact, alerts once per alertId", () => {
      const expected = reference(lines, config);
      expect(outputs.windows.map((w) => [w.sensorId, w.windowStart, w.count, w.sum, w.min, w.max])).toEqual(
        windowRows(expected),
      );
      expect(outputs.alerts.map((a) => [a.sensorId, a.rule, a.timestamp, a.value])).toEqual(
        expected.alerts.map((a) => [a.sensorId, a.rule, a.timestamp, a.value]),
      );
      expect(new Set(outputs.alerts.map((a) => a.alertId)).size).toBe(outputs.alerts.length);
    });
  },
);
