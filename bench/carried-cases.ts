/**
 * What the carried-state measurement (bench/carried.ts) runs: its cases (100 and 1,000
 * sensors at 1 and 0.1 Hz, per tumbling window; the shard measured holds the fleet's
 * share of sensors, in batches of Lambda's 1 s poll at the default batching window of 0,
 * bench/scenarios.ts CARRIED_ESM), issue 14's target for each, and the invocations Lambda
 * would make for a shard's records. Pure.
 */
import type { SimulatedRecord } from '../local/simulator.js';
import { BENCH_T0, fleetRecords, meanDataBytes, meanPartitionKeyBytes } from './data.js';
import { batchShape, CARRIED_ESM, gatherSeconds } from './scenarios.js';

/** Issue 14's targets for DynamoDB request units per reading vs naive, by rate. */
export function carriedTargetRatio(rateHz: number): number {
  return rateHz >= 1 ? 1 / 20 : 1 / 3;
}

export interface CarriedCaseSpec {
  id: string;
  /** Sensors of the fleet; the shard measured holds `sensors` of them. */
  fleet: number;
  sensors: number;
  shards: number;
  rateHz: number;
  tumblingWindowSeconds: number;
  /** Whole Lambda windows measured. */
  lambdaWindows: number;
  /**
   * Whole Lambda windows run before them by the same process, not measured: the steady
   * state, where a window's sensors were checkpointed at the end of the window before
   * (their claims need no read, SEMANTICS.md CS2) and its items exist.
   */
  warmUpWindows: number;
  batchingWindowSeconds: number;
  maxBatch: number;
  /**
   * The simulator's spike rate when not its default (2 % of readings, each a likely
   * alert): a fleet that alerts less, to show what the alerts cost. Such a case is not
   * the default data, so the cost and scale models do not take it.
   */
  spikeRate?: number;
}

/** The spike rate of the extra case: a quarter of the simulator's. */
export const LOW_SPIKE_RATE = 0.005;

/** The cases of a run (pure): 100 and 1,000 sensors at 1 and 0.1 Hz, per tumbling window. */
export function carriedCases(quick: boolean): CarriedCaseSpec[] {
  const sample = fleetRecords({ sensors: 100, rateHz: 1 }, 1_000);
  const bytesPerRecord = meanDataBytes(sample) + meanPartitionKeyBytes(sample);
  const fleets = quick ? [100] : [100, 1_000];
  const windows = quick ? [60] : [300, 900];
  const cases: CarriedCaseSpec[] = [];
  for (const fleet of fleets) {
    for (const rateHz of [1, 0.1]) {
      const shape = batchShape({ id: '', sensors: fleet, rateHz, esm: CARRIED_ESM }, bytesPerRecord);
      for (const w of windows) {
        cases.push({
          id: `carried:${fleet}s-${rateHz}hz-w${w}`,
          fleet,
          sensors: shape.sensorsPerShard,
          shards: shape.shards,
          rateHz,
          tumblingWindowSeconds: w,
          lambdaWindows: 1,
          warmUpWindows: 1,
          batchingWindowSeconds: gatherSeconds(CARRIED_ESM),
          maxBatch: CARRIED_ESM.batchSize,
        });
      }
    }
  }
  if (!quick) {
    // The same 1,000-sensor 1 Hz shard at the default window, alerting a quarter as often.
    const base = cases.find((c) => c.fleet === 1_000 && c.rateHz === 1 && c.tumblingWindowSeconds === 300)!;
    cases.push({ ...base, id: `${base.id}-spikes${LOW_SPIKE_RATE}`, spikeRate: LOW_SPIKE_RATE });
  }
  return cases;
}

/** How a case's fleet is named in tables and headlines: its spike rate when not the default. */
export function spikeNote(spec: Pick<CarriedCaseSpec, 'spikeRate'>): string {
  return spec.spikeRate === undefined ? '' : `, spikes on ${spec.spikeRate * 100} % of readings`;
}

export interface Invocation {
  window: { start: string; end: string };
  /** Records of the batch; empty for the window's final invocation. */
  records: SimulatedRecord[];
  firstSequence: number;
  final: boolean;
  /** The Lambda window's index from the first one run (warm-up windows first). */
  windowIndex: number;
}

/**
 * Lambda's invocations of the shard: per Lambda window (the warm-up ones, then the
 * measured ones), one per batching window (split at maxBatch), then the final one.
 */
export function carriedInvocations(records: readonly SimulatedRecord[], spec: CarriedCaseSpec): Invocation[] {
  const wMs = spec.tumblingWindowSeconds * 1_000;
  const bMs = spec.batchingWindowSeconds * 1_000;
  const out: Invocation[] = [];
  let i = 0;
  for (let w = 0; w < spec.warmUpWindows + spec.lambdaWindows; w++) {
    const startMs = BENCH_T0 + w * wMs;
    const window = { start: new Date(startMs).toISOString(), end: new Date(startMs + wMs).toISOString() };
    while (i < records.length && records[i]!.arrivalMs < startMs + wMs) {
      const slot = Math.max(0, Math.floor((records[i]!.arrivalMs - startMs) / bMs));
      const first = i;
      while (
        i < records.length &&
        i - first < spec.maxBatch &&
        records[i]!.arrivalMs < startMs + wMs &&
        Math.max(0, Math.floor((records[i]!.arrivalMs - startMs) / bMs)) === slot
      )
        i++;
      out.push({
        window,
        records: records.slice(first, i),
        firstSequence: first + 1,
        final: false,
        windowIndex: w,
      });
    }
    out.push({ window, records: [], firstSequence: i + 1, final: true, windowIndex: w });
  }
  return out;
}
