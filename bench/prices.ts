/**
 * AWS list prices used by the cost model (bench/suites/cost.ts), in one place so they can
 * be updated. Region us-east-1 (N. Virginia), USD, on-demand list prices without free
 * tiers, savings plans, reserved capacity or taxes.
 *
 * These are the prices as last known to the author on PRICES_AS_OF. They could NOT be
 * checked online when this file was written (the benchmark machine has no internet): check
 * every line against the source pages below before relying on a result, and update the
 * date when you do.
 */

export const PRICES_AS_OF = '2025-06-01';
export const PRICES_REGION = 'us-east-1';
export const PRICES_STATUS = `list prices as last known on ${PRICES_AS_OF}, not verified online: check the sources before use`;

export const PRICE_SOURCES = {
  kinesis: 'https://aws.amazon.com/kinesis/data-streams/pricing/',
  lambda: 'https://aws.amazon.com/lambda/pricing/',
  dynamodb: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  sns: 'https://aws.amazon.com/sns/pricing/',
  sqs: 'https://aws.amazon.com/sqs/pricing/',
} as const;

export const PRICES = {
  kinesis: {
    onDemand: {
      /** Per stream, per hour, in on-demand capacity mode. */
      streamHour: 0.04,
      /** Per GB written; every record is rounded up to the next 1 KB. */
      ingestPerGb: 0.08,
      /** Per GB read by shared-throughput consumers (Lambda's standard polling). */
      retrievalPerGb: 0.04,
      /** Record size rounding for on-demand data in. */
      recordRoundingBytes: 1_024,
    },
    provisioned: {
      shardHour: 0.015,
      /** Per million PUT payload units; a unit is a 25 KB chunk of one record. */
      putPayloadUnitsPerMillion: 0.014,
      putPayloadUnitBytes: 25 * 1_024,
      /** Per-shard write limits, for sizing the stream. */
      shardRecordsPerSecond: 1_000,
      shardBytesPerSecond: 1_048_576,
    },
  },
  lambda: {
    /** arm64 (Graviton), first pricing tier. */
    arm64PerGbSecond: 0.0000133334,
    requestsPerMillion: 0.2,
  },
  dynamodb: {
    /** On-demand capacity mode (after the November 2024 price reduction). */
    writeRequestUnitsPerMillion: 0.625,
    readRequestUnitsPerMillion: 0.125,
  },
  sns: {
    /** Standard topic publishes (each 64 KB chunk is one request); SQS deliveries are free. */
    publishesPerMillion: 0.5,
  },
  sqs: {
    /** Standard queue requests; a SendMessageBatch of up to 10 messages is one request. */
    requestsPerMillion: 0.4,
  },
} as const;

export type PriceTable = typeof PRICES;
