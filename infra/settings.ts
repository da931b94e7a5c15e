/**
 * What the CDK app is configured with, read from the CDK context (`cdk.json`, or `-c` on
 * the command line):
 *
 * - `windowpane`: the pipeline configuration, the same `ConfigSchema` the handler parses
 *   from `WINDOWPANE_CONFIG` and the local cloud reads (metrics, windows, lateness, rules,
 *   event source mapping, stream);
 * - `windowpaneDeploy`: options that exist only in a deployment (removal policy, alarm
 *   routing, log retention, handler sizing, alarm thresholds, shard scaling limits).
 *
 * Both are validated before any construct is built; every problem is reported with its
 * context path, and synth stops.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, parseConfig, type WindowpaneConfig } from '../functions/domain/config.js';
import { nearestKey, parse, taggedUnion } from '../functions/domain/parse.js';
import { ENV } from '../functions/lib/resources.js';
import { ScalingLimitsSchema } from '../functions/shard-scaler/decide.js';
import {
  AvroSettingsSchema,
  IotSettingsSchema,
  ingestSettingsIssues,
  LakeSettingsSchema,
} from './ingest-settings.js';
import { REPO_ROOT } from './paths.js';

export const CONFIG_CONTEXT_KEY = 'windowpane';
export const DEPLOY_CONTEXT_KEY = 'windowpaneDeploy';

/** CloudWatch Logs accepts only these retention periods (PutRetentionPolicy). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Lambda limits the total size of a function's environment variables to 4 KB. */
export const LAMBDA_ENV_MAX_BYTES = 4_096;

const email = z.email();

/** CloudFormation propagates at most 50 tags to a stack's resources. */
export const MAX_TAGS = 50;

const AlertSubscriptionSchema = taggedUnion('alert subscription', 'type', [
  z.strictObject({ type: z.literal('email'), address: email }),
  /** The stack creates an encrypted, SSL-only queue (with its own DLQ) subscribed to the alert topic. */
  z.strictObject({ type: z.literal('sqs'), rawMessageDelivery: z.boolean().default(true) }),
]);

const AlarmThresholdsSchema = z.strictObject({
  /**
   * Lambda IteratorAge (the oldest record of a batch) above this for 3 of 5 minutes. At most
   * the stream's retention (checked below): an older record has left the stream.
   */
  iteratorAgeSeconds: z
    .number()
    .int()
    .min(1)
    .max(31_536_000)
    .describe("seconds; 1 to the stream's retention (at most 31536000, 365 d)")
    .default(300),
  /** Handler errors (whole-batch failures, not per-record failures) in 5 minutes. */
  handlerErrors: z.number().int().min(1).describe('errors in 5 minutes; at least 1').default(1),
  /** Invalid records as a percentage of all records, over 5-minute periods (2 of 3). */
  invalidRecordPercent: z.number().gt(0).max(100).describe('percent; above 0, at most 100').default(5),
});

const HandlerSizingSchema = z.strictObject({
  memoryMb: z.number().int().min(128).max(10_240).describe('MB; 128 to 10240 (Lambda)').default(512),
  /** Per batch; Lambda's maximum is 900. */
  timeoutSeconds: z
    .number()
    .int()
    .min(3)
    .max(900)
    .describe('seconds per batch; 3 to 900 (Lambda)')
    .default(60),
});

export const DeploySettingsSchema = z.strictObject({
  /** CloudFormation stack name (also the prefix of alarm names). */
  stackName: z
    .string()
    .regex(
      /^[A-Za-z][A-Za-z0-9-]{0,99}$/,
      'a stack name is a letter then letters, digits or dashes (max 100)',
    )
    .default('Windowpane'),
  /** `retain` keeps tables, stream, queues, topics and key when the stack is deleted (production). */
  removalPolicy: z.enum(['retain', 'destroy']).default('retain'),
  logRetentionDays: z
    .number()
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      message: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    })
    .default(30),
  logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  handler: HandlerSizingSchema.default(HandlerSizingSchema.parse({})),
  /** Subscribed (email) to the operations topic every alarm notifies. */
  alarmEmail: email.optional(),
  alertSubscription: AlertSubscriptionSchema.optional(),
  alarms: AlarmThresholdsSchema.default(AlarmThresholdsSchema.parse({})),
  dashboard: z.boolean().default(true),
  /**
   * The idle sweeper flushes the open windows of sensors silent for `windowpane.idleTimeoutMs`
   * (processing time). It scans the state table: the interval trades flush delay for reads.
   * Without `intervalMinutes`, it runs every idleTimeoutMs (rounded up to whole minutes).
   */
  idleSweep: z
    .strictObject({
      enabled: z.boolean().default(true),
      intervalMinutes: z.number().int().min(1).max(1_440).describe('minutes; 1 to 1440').optional(),
    })
    .default({ enabled: true }),
  /**
   * Also write every final window to an output Kinesis stream (on-demand, encrypted).
   * `lake.enabled` turns it on too: the lake reads final windows from it.
   */
  resultsStream: z.boolean().default(false),
  /** AWS IoT Core topic rules into the stream (ingest-settings.ts). */
  iot: IotSettingsSchema.default(IotSettingsSchema.parse({})),
  /** A Glue Schema Registry for Avro readings (ingest-settings.ts). */
  avro: AvroSettingsSchema.default(AvroSettingsSchema.parse({})),
  /** Final windows and alarm transitions to S3 as Parquet (ingest-settings.ts). */
  lake: LakeSettingsSchema.default(LakeSettingsSchema.parse({})),
  /** Used only when `windowpane.stream.mode` is PROVISIONED. */
  shardScaling: ScalingLimitsSchema.safeExtend({ enabled: z.boolean().default(true) })
    .strict()
    .default({ enabled: true, ...ScalingLimitsSchema.parse({}) }),
  /** Tags applied to every resource of the stack. */
  tags: z
    .record(z.string().min(1).max(128), z.string().max(256))
    .refine((t) => Object.keys(t).length <= MAX_TAGS, `at most ${MAX_TAGS} tags`)
    .describe(`at most ${MAX_TAGS}; keys 1 to 128 characters, values up to 256`)
    .default({}),
});
export type DeploySettings = z.infer<typeof DeploySettingsSchema>;
export type DeploySettingsInput = z.input<typeof DeploySettingsSchema>;

export interface AppSettings {
  config: WindowpaneConfig;
  deploy: DeploySettings;
}

/** Invalid `windowpaneDeploy` context, or settings that contradict the configuration. */
export class DeploySettingsError extends ConfigError {}

/**
 * A context value as an object: `-c key='{"a":1}'` arrives as a string, `cdk.json` gives
 * an object, and an absent key is `{}` (every default).
 */
export function contextValue(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value ?? {};
  try {
    return JSON.parse(value);
  } catch (err) {
    const ErrorClass = key === DEPLOY_CONTEXT_KEY ? DeploySettingsError : ConfigError;
    throw new ErrorClass(`context "${key}" is not a JSON object (${(err as Error).message})`);
  }
}

/** The repository's cdk.json, which both the CDK app and the local commands read. */
export const DEFAULT_CDK_JSON = path.join(REPO_ROOT, 'cdk.json');

export interface CdkJson {
  file: string;
  /** False when the file does not exist (every default applies). */
  found: boolean;
  /** Its `context` object (`{}` when absent). */
  context: Record<string, unknown>;
}

/**
 * Reads cdk.json: the one place that does. A file that is not JSON, a `context` that is not
 * an object, or a context key that looks like a misspelling of ours throws ConfigError
 * naming the file.
 */
export function readCdkJson(file: string = DEFAULT_CDK_JSON): CdkJson {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file, found: false, context: {} };
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const context = (parsed as { context?: unknown } | null)?.context ?? {};
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new ConfigError(`${file}: "context" must be an object`);
  }
  checkContextKeys(Object.keys(context), file);
  return { file, found: true, context: context as Record<string, unknown> };
}

/**
 * The context also holds the CDK's feature flags, so it is open; but a key that is one
 * edit away from `windowpane` or `windowpaneDeploy` is a typo whose settings would be
 * ignored, and is refused.
 */
export function checkContextKeys(keys: readonly string[], source: string): void {
  const known = [CONFIG_CONTEXT_KEY, DEPLOY_CONTEXT_KEY];
  const issues = keys
    .filter((key) => !known.includes(key))
    .flatMap((key) => {
      const near = nearestKey(key, known);
      return near === undefined ? [] : [`${key}: unknown context key; did you mean ${near}?`];
    });
  if (issues.length > 0) throw new ConfigError(`invalid ${source}: ${issues.join('; ')}`, { issues });
}

function attempt<T>(read: () => T): T | ConfigError {
  try {
    return read();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
}

/** Size of the handler's environment as Lambda counts it (keys and values, UTF-8). */
export function environmentBytes(vars: Record<string, string>): number {
  return Object.entries(vars).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
}

/**
 * Parses and cross-checks both context objects. `lookup` is `node.tryGetContext`.
 * Throws `ConfigError` for `windowpane` and `DeploySettingsError` for `windowpaneDeploy`.
 */
export function readAppSettings(lookup: (key: string) => unknown): AppSettings {
  const config = attempt(() =>
    parseConfig(
      contextValue(CONFIG_CONTEXT_KEY, lookup(CONFIG_CONTEXT_KEY)),
      `CDK context "${CONFIG_CONTEXT_KEY}"`,
      [CONFIG_CONTEXT_KEY],
    ),
  );
  const deploy = attempt(() =>
    parse(
      DeploySettingsSchema,
      contextValue(DEPLOY_CONTEXT_KEY, lookup(DEPLOY_CONTEXT_KEY)),
      `CDK context "${DEPLOY_CONTEXT_KEY}"`,
      { at: [DEPLOY_CONTEXT_KEY], error: DeploySettingsError },
    ),
  );
  // Report both contexts' problems in one run of synth, not one per attempt.
  if (config instanceof ConfigError && deploy instanceof ConfigError) {
    const issues = [...config.issues, ...deploy.issues];
    throw new ConfigError(`invalid CDK context: ${issues.join('; ')}`, { issues });
  }
  if (config instanceof ConfigError) throw config;
  if (deploy instanceof ConfigError) throw deploy;
  const issues: string[] = [];

  const retentionSeconds = config.stream.retentionHours * 3_600;
  if (deploy.alarms.iteratorAgeSeconds > retentionSeconds) {
    issues.push(
      `${DEPLOY_CONTEXT_KEY}.alarms.iteratorAgeSeconds: ${deploy.alarms.iteratorAgeSeconds} s is longer than ` +
        `the stream's retention (${CONFIG_CONTEXT_KEY}.stream.retentionHours ${config.stream.retentionHours}); ` +
        'the alarm could never fire',
    );
  }
  const scaling = deploy.shardScaling;
  if (config.stream.mode === 'PROVISIONED' && scaling.enabled) {
    const n = config.stream.shardCount;
    if (n < scaling.minShards || n > scaling.maxShards) {
      issues.push(
        `${DEPLOY_CONTEXT_KEY}.shardScaling: ${CONFIG_CONTEXT_KEY}.stream.shardCount ${n} is outside ` +
          `minShards..maxShards (${scaling.minShards}..${scaling.maxShards})`,
      );
    }
  }
  issues.push(...ingestSettingsIssues(DEPLOY_CONTEXT_KEY, deploy.stackName, deploy.lake));
  // The whole configuration travels in one variable; Lambda rejects the function at
  // deploy time when the environment exceeds 4 KB, so say it here, with the cause.
  const configBytes = environmentBytes({ [ENV.config]: JSON.stringify(config) });
  if (configBytes > LAMBDA_ENV_MAX_BYTES - 1_024) {
    issues.push(
      `${CONFIG_CONTEXT_KEY}: the configuration is ${configBytes} bytes as ${ENV.config}; ` +
        `Lambda allows 4 KB of environment in total (keep it under ${LAMBDA_ENV_MAX_BYTES - 1_024})`,
    );
  }
  if (issues.length > 0) {
    throw new DeploySettingsError(`invalid CDK context: ${issues.join('; ')}`, { issues });
  }
  return { config, deploy };
}

export { ConfigError };
