/**
 * The scale model: what 10k, 100k and 1M sensors at 0.1 and 1 Hz need, and which limit
 * each design meets first. Pure arithmetic over the run's measurements (record size, write
 * units per reading, alert and final-window rates) and the service quotas below, which are
 * AWS defaults as last documented (adjustable ones say so): check them against the
 * Service Quotas console of the account before relying on a row. docs/SCALING.md explains
 * the columns and what to configure at each size.
 */
import { PRICES } from './prices.js';
import { provisionedShards } from './scenarios.js';

/** Default quotas (us-east-1) and hard limits the model checks. */
export const QUOTAS = {
  /** Kinesis shards per account and region (adjustable). */
  kinesisShardsPerRegion: 500,
  /** One on-demand stream's default write ceiling (adjustable). */
  onDemandRecordsPerSecond: 200_000,
  onDemandBytesPerSecond: 200 * 1_048_576,
  /** Concurrent Lambda executions per account and region (adjustable). */
  lambdaConcurrency: 1_000,
  /** On-demand DynamoDB table throughput ceiling (adjustable, per table). */
  tableWriteUnitsPerSecond: 40_000,
  tableReadUnitsPerSecond: 40_000,
  /** One partition (hard): what one hot key can take. */
  partitionWriteUnitsPerSecond: 1_000,
  /** Lambda's tumbling-window state per shard (hard). */
  tumblingStateBytesPerShard: 1_048_576,
} as const;

export const SCALE_FLEETS = [10_000, 100_000, 1_000_000] as const;
export const SCALE_RATES = [0.1, 1] as const;

/**
 * Bytes a sensor takes in the carried (tumbling-window) state, when the run did not measure
 * it (the design's estimate); a run with the writes suite's carried cases uses theirs.
 */
export const CARRIED_STATE_BYTES_PER_SENSOR = 190;
/** The design keeps the carried state under this share of the 1 MB cap (spills beyond it). */
const CARRIED_STATE_FILL = 0.85;

export type ScaleDesign = 'windowpane per-batch' | 'windowpane carried' | 'naive' | 'powertools';

export interface ScaleInputs {
  recordBytes: number;
  /** Measured write and read units per reading, per rate (Hz), for the designs measured. */
  units: Record<'perBatch' | 'naive' | 'powertools', Record<string, { write: number; read: number }>>;
  /** Measured per-reading rates of final windows and cooldown alerts, per rate (Hz). */
  rates: Record<string, { finals: number; alerts: number }>;
  /** The carried design's tumbling window (s): one checkpoint write and one load per sensor per window. */
  tumblingWindowSeconds: number;
  /**
   * The carried design as measured by the writes suite (bench/carried.ts), per rate (Hz):
   * request units per reading and the carried state's bytes per sensor (largest state of
   * the case over its sensors). Absent: the design's arithmetic and estimate.
   */
  carried?: Record<string, { write: number; read: number; stateBytesPerSensor: number }>;
}

export interface ScaleDesignRow {
  design: ScaleDesign;
  writeUnitsPerSecond: number;
  readUnitsPerSecond: number;
  /** DynamoDB + provisioned Kinesis, $ per million readings (Lambda, SNS, SQS left out: small). */
  dollarsPerMillion: number;
  /** The first quota or limit this design exceeds at this size, or "none". */
  breaksFirst: string;
}

export interface ScaleRow {
  sensors: number;
  rateHz: number;
  recordsPerSecond: number;
  megabytesPerSecond: number;
  /** Shards for the write limits (80 % utilisation). */
  shardsForThroughput: number;
  /** Shards the carried design needs so each shard's state fits (spill otherwise). */
  shardsForCarriedState: number;
  /** Lambda concurrency = shards x parallelization factor (1). */
  lambdaConcurrency: number;
  sensorsPerShard: number;
  onDemandFits: boolean;
  designs: ScaleDesignRow[];
}

/** Carried-state design, units per reading (design section 7): results, journal, checkpoints. */
export function carriedUnitsPerReading(
  rateHz: number,
  finals: number,
  alerts: number,
  readingsPerInvocation: number,
  tumblingWindowSeconds: number,
): { write: number; read: number } {
  const journal = (1 - Math.exp(-alerts * readingsPerInvocation)) / readingsPerInvocation;
  const checkpoint = 1 / (rateHz * tumblingWindowSeconds);
  return { write: finals + journal + checkpoint, read: journal + checkpoint };
}

function breaksFirst(
  row: Omit<ScaleRow, 'designs'>,
  writeUnits: number,
  readUnits: number,
  shards: number,
): string {
  const limits: [boolean, string][] = [
    [shards > QUOTAS.kinesisShardsPerRegion, `Kinesis shard quota (${QUOTAS.kinesisShardsPerRegion})`],
    [shards > QUOTAS.lambdaConcurrency, `Lambda concurrency (${QUOTAS.lambdaConcurrency})`],
    [
      writeUnits > QUOTAS.tableWriteUnitsPerSecond,
      `DynamoDB table writes (${QUOTAS.tableWriteUnitsPerSecond} WRU/s)`,
    ],
    [
      readUnits > QUOTAS.tableReadUnitsPerSecond,
      `DynamoDB table reads (${QUOTAS.tableReadUnitsPerSecond} RRU/s)`,
    ],
    [!row.onDemandFits, 'on-demand stream ceiling (use provisioned or several streams)'],
  ];
  return limits.find(([hit]) => hit)?.[1] ?? 'none';
}

export function scaleModel(inputs: ScaleInputs): ScaleRow[] {
  const rows: ScaleRow[] = [];
  const p = PRICES;
  for (const sensors of SCALE_FLEETS) {
    for (const rateHz of SCALE_RATES) {
      const key = String(rateHz);
      const recordsPerSecond = sensors * rateHz;
      const bytesPerSecond = recordsPerSecond * inputs.recordBytes;
      const shardsForThroughput = provisionedShards(recordsPerSecond, inputs.recordBytes);
      const measured = inputs.carried?.[key];
      const stateBytes = sensors * (measured?.stateBytesPerSensor ?? CARRIED_STATE_BYTES_PER_SENSOR);
      const shardsForCarriedState = Math.ceil(
        stateBytes / (QUOTAS.tumblingStateBytesPerShard * CARRIED_STATE_FILL),
      );
      const carriedShards = Math.max(shardsForThroughput, shardsForCarriedState);
      const base = {
        sensors,
        rateHz,
        recordsPerSecond,
        megabytesPerSecond: Math.round((bytesPerSecond / 1_048_576) * 100) / 100,
        shardsForThroughput,
        shardsForCarriedState,
        lambdaConcurrency: carriedShards,
        sensorsPerShard: Math.ceil(sensors / carriedShards),
        onDemandFits:
          recordsPerSecond <= QUOTAS.onDemandRecordsPerSecond &&
          bytesPerSecond <= QUOTAS.onDemandBytesPerSecond,
      };
      const rate = inputs.rates[key];
      // One invocation per shard per second (batching window 0).
      const perInvocation = Math.max(1, recordsPerSecond / carriedShards);
      const units: Record<ScaleDesign, { write: number; read: number; shards: number }> = {
        'windowpane per-batch': {
          ...(inputs.units.perBatch[key] ?? { write: 0, read: 0 }),
          shards: shardsForThroughput,
        },
        'windowpane carried': {
          ...(measured
            ? { write: measured.write, read: measured.read }
            : rate
              ? carriedUnitsPerReading(
                  rateHz,
                  rate.finals,
                  rate.alerts,
                  perInvocation,
                  inputs.tumblingWindowSeconds,
                )
              : { write: 0, read: 0 }),
          shards: carriedShards,
        },
        naive: { ...(inputs.units.naive[key] ?? { write: 0, read: 0 }), shards: shardsForThroughput },
        powertools: {
          ...(inputs.units.powertools[key] ?? { write: 0, read: 0 }),
          shards: shardsForThroughput,
        },
      };
      const hoursPerMillion = 1e6 / (recordsPerSecond * 3_600);
      const designs = (Object.keys(units) as ScaleDesign[]).map((design) => {
        const u = units[design];
        const kinesis =
          p.kinesis.provisioned.shardHour * u.shards * hoursPerMillion +
          p.kinesis.provisioned.putPayloadUnitsPerMillion;
        const dynamo =
          u.write * p.dynamodb.writeRequestUnitsPerMillion + u.read * p.dynamodb.readRequestUnitsPerMillion;
        const w = u.write * recordsPerSecond;
        const r = u.read * recordsPerSecond;
        return {
          design,
          writeUnitsPerSecond: Math.round(w),
          readUnitsPerSecond: Math.round(r),
          dollarsPerMillion: Math.round((kinesis + dynamo) * 10_000) / 10_000,
          breaksFirst: breaksFirst(base, w, r, u.shards),
        };
      });
      rows.push({ ...base, designs });
    }
  }
  return rows;
}
