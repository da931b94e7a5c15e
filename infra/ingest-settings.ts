/**
 * The `windowpaneDeploy` options of the ways in and out beyond the readings stream: the
 * AWS IoT Core topic rules (`iot`), the Glue Schema Registry for Avro readings (`avro`)
 * and the S3 lake behind Firehose (`lake`). Each is strict (a misspelt key is named) and
 * every number has its range, with the service limit it comes from.
 */
import { z } from 'zod';

/** Compatibility modes of an AWS::Glue::Schema (Glue API, Compatibility). */
export const GLUE_COMPATIBILITY = [
  'NONE',
  'DISABLED',
  'BACKWARD',
  'BACKWARD_ALL',
  'FORWARD',
  'FORWARD_ALL',
  'FULL',
  'FULL_ALL',
] as const;

/** S3 moves objects to STANDARD_IA no sooner than 30 days after creation (lifecycle rules). */
export const MIN_IA_TRANSITION_DAYS = 30;

export const IotSettingsSchema = z.strictObject({
  /**
   * Topic rules from `windowpane/<sensorId>/telemetry` (and `/telemetry/bin`) into the
   * readings stream, their error queue, and the device policy. Idle, none of it costs
   * anything, and no device can publish until its certificate has the policy attached.
   */
  enabled: z.boolean().default(true),
});

export const AvroSettingsSchema = z.strictObject({
  /** A Glue Schema Registry holding the readings' Avro schema, readable by the handler. */
  enabled: z.boolean().default(false),
  /** Registry name; the stack name when absent (unique per account and region, like the stack). */
  registryName: z
    .string()
    .regex(/^[A-Za-z0-9_$#.-]{1,255}$/, 'a Glue registry name is 1 to 255 of A-Z a-z 0-9 _ $ # . -')
    .optional(),
  /** How Glue checks a new schema version against the earlier ones. */
  compatibility: z.enum(GLUE_COMPATIBILITY).default('BACKWARD'),
});

export const LakeSettingsSchema = z.strictObject({
  /**
   * Final windows (from the results stream, which this turns on) and alarm transitions
   * (from the alert topic) delivered by Firehose to S3 as Parquet, with Glue tables.
   */
  enabled: z.boolean().default(false),
  /** Objects (and the bucket's access logs) are deleted this many days after they are written. */
  retentionDays: z.number().int().min(1).max(3_650).describe('days; 1 to 3650').default(365),
  /** Move objects to S3 Standard-IA this many days after they are written. */
  transitionToIaDays: z
    .number()
    .int()
    .min(MIN_IA_TRANSITION_DAYS)
    .max(3_650)
    .describe(`days; ${MIN_IA_TRANSITION_DAYS} (S3's minimum for Standard-IA) to 3650`)
    .optional(),
  /**
   * Firehose writes a file at least this often (or at 128 MB). Longer means fewer, larger
   * files (cheaper to query); shorter means fresher data. Firehose accepts 60 to 900.
   */
  bufferIntervalSeconds: z
    .number()
    .int()
    .min(60)
    .max(900)
    .describe('seconds; 60 to 900 (Firehose)')
    .default(300),
});

export type IotSettings = z.infer<typeof IotSettingsSchema>;
export type AvroSettings = z.infer<typeof AvroSettingsSchema>;
export type LakeSettings = z.infer<typeof LakeSettingsSchema>;

/** Firehose delivery stream names are at most 64 characters; the lake's longest is this suffix. */
export const MAX_DELIVERY_STREAM_NAME = 64;
export const LONGEST_DELIVERY_SUFFIX = '-lake-transitions';

/** What the options contradict in each other or in the services' rules, as `<path>: <problem>` lines. */
export function ingestSettingsIssues(at: string, stackName: string, lake: LakeSettings): string[] {
  const issues: string[] = [];
  const longest = stackName.length + LONGEST_DELIVERY_SUFFIX.length;
  if (lake.enabled && longest > MAX_DELIVERY_STREAM_NAME) {
    issues.push(
      `${at}.stackName: with the lake, at most ${MAX_DELIVERY_STREAM_NAME - LONGEST_DELIVERY_SUFFIX.length} ` +
        `characters (Firehose names ${stackName}${LONGEST_DELIVERY_SUFFIX} are limited to ${MAX_DELIVERY_STREAM_NAME})`,
    );
  }
  if (lake.transitionToIaDays !== undefined && lake.transitionToIaDays >= lake.retentionDays) {
    issues.push(
      `${at}.lake.transitionToIaDays: ${lake.transitionToIaDays} is not before retentionDays ` +
        `${lake.retentionDays}; objects would expire before they move (S3 refuses the lifecycle rule)`,
    );
  }
  return issues;
}
