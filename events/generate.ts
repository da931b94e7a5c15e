/**
 * Generates the sample data in this folder from the simulator, with fixed seeds and a
 * fixed start time, so the files are reproducible and a unit test can tell when they
 * drift from the code. Run: `npx tsx events/generate.ts`.
 *
 * - readings-small.jsonl: 3 sensors, 5 minutes at 1 Hz, with out-of-order, late and
 *   malformed records and enough spikes that too-hot, too-cold and jump all fire.
 * - kinesis-batch.json: one Lambda KinesisStreamEvent of 21 records, one malformed.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KinesisStreamEvent } from 'aws-lambda';
import { decodeReading } from '../functions/domain/reading.js';
import { type SimulatedRecord, simulate } from '../local/simulator.js';
import { buildKinesisEvent, fakeSequenceNumber } from './kinesis-event.js';

export const SAMPLE_START_MS = Date.parse('2026-01-01T00:00:00Z');

export const SMALL_READINGS_OPTIONS = {
  sensors: 3,
  rateHz: 1,
  seed: 20_260_101,
  startMs: SAMPLE_START_MS,
  durationMs: 5 * 60_000,
  spikeRate: 0.02,
  outOfOrderRate: 0.01,
  lateRate: 0.01,
  malformedRate: 0.01,
  useAliasRate: 0.1,
} as const;

export class SampleDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SampleDataError';
  }
}

/** The records of readings-small.jsonl, in file (= send) order. */
export function smallReadings(): SimulatedRecord[] {
  const records = [...simulate(SMALL_READINGS_OPTIONS)];
  assertShowcase(records);
  return records;
}

/** One line per record: its data exactly as sent (the simulator only emits one-line UTF-8 text). */
export function toJsonl(records: readonly SimulatedRecord[]): string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return records
    .map((r) => {
      const line = decoder.decode(r.data);
      if (/[\r\n]/.test(line)) throw new SampleDataError(`record data spans lines: ${line.slice(0, 80)}`);
      return `${line}\n`;
    })
    .join('');
}

/**
 * The sample is only useful if it shows every case: fail generation rather than ship a
 * file where a kind of record or an alert rule never occurs.
 */
function assertShowcase(records: readonly SimulatedRecord[]): void {
  const missing: string[] = [];
  for (const kind of ['valid', 'out-of-order', 'late', 'malformed'] as const) {
    if (records.filter((r) => r.kind === kind).length < 2) missing.push(`two ${kind} records`);
  }
  const previous = new Map<string, number>();
  let hot = false;
  let cold = false;
  let jump = false;
  for (const r of records) {
    const result = decodeReading(r.data, ['temperature']);
    if (!result.ok) continue;
    const value = result.reading.values.temperature!;
    hot ||= value > 35;
    cold ||= value < 5;
    const last = previous.get(result.reading.sensorId);
    jump ||= last !== undefined && Math.abs(value - last) > 5;
    previous.set(result.reading.sensorId, value);
  }
  if (!hot) missing.push('a reading above 35 (too-hot)');
  if (!cold) missing.push('a reading below 5 (too-cold)');
  if (!jump) missing.push('a change of more than 5 (jump)');
  if (missing.length > 0) {
    throw new SampleDataError(
      `seed ${SMALL_READINGS_OPTIONS.seed} gives no ${missing.join(', ')}; pick another`,
    );
  }
}

/** Index of the record replaced by a malformed one in kinesis-batch.json. */
const MALFORMED_BATCH_INDEX = 10;

/** A batch as Lambda would deliver it: 3 sensors, 7 seconds, one Python-NaN record. */
export function kinesisBatch(): KinesisStreamEvent {
  const records = [
    ...simulate({
      sensors: 3,
      rateHz: 1,
      seed: 7,
      startMs: SAMPLE_START_MS,
      durationMs: 7_000,
      outOfOrderRate: 0,
      lateRate: 0,
      malformedRate: 0,
    }),
  ];
  const target = records[MALFORMED_BATCH_INDEX]!;
  const malformed: SimulatedRecord = {
    ...target,
    kind: 'malformed',
    data: new TextEncoder().encode(
      `{"sensor_id": "${target.partitionKey}", "temperature": NaN, "timestamp": ${target.eventTimeMs}}`,
    ),
  };
  records[MALFORMED_BATCH_INDEX] = malformed;
  return buildKinesisEvent(
    records.map((r, i) => ({
      partitionKey: r.partitionKey,
      data: r.data,
      sequenceNumber: fakeSequenceNumber(1_000 + i),
      // Arrival a little after the event time, as the producer's send takes a moment.
      approximateArrivalTimestamp: (r.arrivalMs + 120 + i) / 1000,
    })),
  );
}

function main(): void {
  const jsonl = new URL('./readings-small.jsonl', import.meta.url);
  const batch = new URL('./kinesis-batch.json', import.meta.url);
  const records = smallReadings();
  writeFileSync(jsonl, toJsonl(records));
  writeFileSync(batch, `${JSON.stringify(kinesisBatch(), null, 2)}\n`);
  const counts = new Map<string, number>();
  for (const r of records) counts.set(r.kind, (counts.get(r.kind) ?? 0) + 1);
  console.log(
    `wrote ${fileURLToPath(jsonl)}: ${records.length} lines (${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')})`,
  );
  console.log(`wrote ${fileURLToPath(batch)}`);
}

// Run as a script, not when imported by the drift test.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main();
