/**
 * The one typed configuration of windowpane: metrics, windows, lateness, alert rules,
 * the event source mapping and the stream. The CDK app reads it from `cdk.json`
 * (context key `windowpane`), passes it to the handler as `WINDOWPANE_CONFIG`, and the
 * local cloud reads the same context, so deployed and local pipelines cannot drift.
 *
 * Every field has a validated default; `parseConfig({})` is the default configuration.
 * The schema is strict: an unknown key is an error naming the key it probably meant, and
 * every duration has a range (functions/domain/durations.ts), stated in its description
 * and in the README's configuration table.
 */
import { z } from 'zod';
import {
  DEFAULT_MAX_OPEN_WINDOWS,
  MAX_OPEN_WINDOWS_LIMIT,
  maxOpenWindowsFor,
  openWindowAllowanceBytes,
} from './bounds.js';
import {
  DAY_MS,
  durationMs,
  HOUR_MS,
  MAX_IDLE_TIMEOUT_MS,
  MAX_SESSION_GAP_MS,
  MAX_WINDOW_MS,
  MIN_WINDOW_MS,
  SECOND_MS,
  ttlDays,
} from './durations.js';
import { ConfigError, parse, taggedUnion } from './parse.js';
import {
  PercentileAccuracySchema,
  PercentileMaxBucketsSchema,
  PercentilesSchema,
  percentileIssues,
} from './percentile-config.js';
import { stateBudgetIssues } from './rule-set.js';
import { scopeKey, scopeOf } from './rules/common.js';
import { DEFAULT_RULES, RuleSchema } from './rules/registry.js';
import { windowRuleIssues } from './rules/window-statistic.js';

export { ConfigError };

const windowSizeMs = durationMs(MIN_WINDOW_MS, MAX_WINDOW_MS, 'window size, aligned to the epoch');

export const TumblingWindowSchema = z.strictObject({
  type: z.literal('tumbling'),
  sizeMs: windowSizeMs,
});

/** Hopping windows of size S every H, aligned to the epoch; S is a multiple of H. */
export const SlidingWindowSchema = z
  .strictObject({
    type: z.literal('sliding'),
    sizeMs: windowSizeMs,
    slideMs: durationMs(MIN_WINDOW_MS, MAX_WINDOW_MS, 'distance between window starts; divides sizeMs'),
  })
  .refine((w) => w.sizeMs % w.slideMs === 0, {
    message: 'sizeMs must be a multiple of slideMs',
    path: ['sizeMs'],
  })
  // Each reading folds into sizeMs/slideMs windows, all kept in the sensor's one state item.
  .refine((w) => w.sizeMs / w.slideMs <= 60, {
    message: 'at most 60 overlapping windows per reading (sizeMs / slideMs <= 60)',
    path: ['slideMs'],
  });

/** Per-sensor session windows: a session closes after `gapMs` of event time without a reading. */
export const SessionWindowSchema = z.strictObject({
  type: z.literal('session'),
  gapMs: durationMs(MIN_WINDOW_MS, MAX_SESSION_GAP_MS, 'event time without a reading that ends a session'),
});

export const WindowSpecSchema = taggedUnion('window', 'type', [
  TumblingWindowSchema,
  SlidingWindowSchema,
  SessionWindowSchema,
]);
export type TumblingWindowSpec = z.infer<typeof TumblingWindowSchema>;
export type SlidingWindowSpec = z.infer<typeof SlidingWindowSchema>;
export type SessionWindowSpec = z.infer<typeof SessionWindowSchema>;
export type WindowSpec = z.infer<typeof WindowSpecSchema>;

export { type Severity, SeveritySchema } from './rules/common.js';
export {
  DEFAULT_RULES,
  type DeltaRule,
  DeltaRuleSchema,
  type Rule,
  RuleSchema,
  type ThresholdRule,
  ThresholdRuleSchema,
} from './rules/registry.js';

/**
 * Lambda event source mapping settings, used verbatim by the CDK app and by the local
 * event source mapping. Ranges are Lambda's own limits for Kinesis sources.
 */
export const EventSourceSchema = z
  .strictObject({
    /**
     * Defaults: carried state (tumblingWindowSeconds 300) with no batching window. With
     * carried state a sensor is written about once a window, not once a batch, so cost no
     * longer falls only as batches grow, and the batching window can be 0: alerts arrive
     * within the mapping's poll, not within seconds (see bench/RESULTS.md). The batch size
     * stays Lambda's maximum (10,000), so a backlog is read in the fewest invocations.
     */
    batchSize: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .describe('records per invocation; 1 to 10000')
      .default(10_000),
    maxBatchingWindowSeconds: z
      .number()
      .int()
      .min(0)
      .max(300)
      .describe('seconds Lambda gathers records before invoking; 0 to 300')
      .default(0),
    parallelizationFactor: z
      .number()
      .int()
      .min(1)
      .max(10)
      .describe('concurrent batches per shard; 1 to 10')
      .default(1),
    startingPosition: z.enum(['TRIM_HORIZON', 'LATEST']).default('TRIM_HORIZON'),
    /**
     * Lambda's tumbling window (docs/SEMANTICS.md "Carried state"): above 0, sensors' state
     * is carried between invocations in the mapping's window state and checkpointed to the
     * state table at most once per window and sensor (and before any alert or alarm
     * transition), instead of once per batch. 0 is off. Lambda allows 0 to 900 s. The
     * default, 300 s, is the default idleTimeoutMs, so a shard that falls silent altogether
     * still has its sensors flushed in time (CS8); it needs parallelizationFactor 1 (CS7).
     */
    tumblingWindowSeconds: z
      .number()
      .int()
      .min(0)
      .max(900)
      .describe("seconds of Lambda's tumbling window that carries state; 0 (off) to 900")
      .default(300),
    bisectBatchOnFunctionError: z.boolean().default(true),
    /** -1 is Lambda's "retry until the record expires"; bounded by default. */
    retryAttempts: z
      .number()
      .int()
      .min(-1)
      .max(10_000)
      .describe('retries of a failed batch; -1 (until the record expires) or 0 to 10000')
      .default(5),
    /** -1 is "never too old"; otherwise 60 s to 7 days. */
    maxRecordAgeSeconds: z
      .number()
      .int()
      .refine((v) => v === -1 || (v >= 60 && v <= 604_800), 'maxRecordAgeSeconds is -1 or 60..604800')
      .describe('age after which a record is sent to the on-failure queue; -1 (never) or 60 to 604800 s')
      .default(3_600),
  })
  .refine((es) => es.tumblingWindowSeconds === 0 || es.parallelizationFactor === 1, {
    // The carried state is one per shard; with concurrent batches of a shard each would
    // carry a part of it, and the checkpoints of one would not fence the others.
    message:
      'tumblingWindowSeconds > 0 (carried state, on by default) needs parallelizationFactor 1; set tumblingWindowSeconds to 0 for a parallelizationFactor above 1',
    path: ['tumblingWindowSeconds'],
  });
export type EventSourceConfig = z.infer<typeof EventSourceSchema>;

export const StreamSchema = z
  .strictObject({
    mode: z.enum(['ON_DEMAND', 'PROVISIONED']).default('ON_DEMAND'),
    /** Used when mode is PROVISIONED (and by the local cloud, which has no on-demand mode). */
    shardCount: z.number().int().min(1).max(500).describe('shards when PROVISIONED; 1 to 500').default(2),
    retentionHours: z
      .number()
      .int()
      .min(24)
      .max(8_760)
      .describe("the stream's retention; 24 to 8760 h (Kinesis' limits)")
      .default(24),
  })
  .default({ mode: 'ON_DEMAND', shardCount: 2, retentionHours: 24 });

/** Rules at runtime (docs/SEMANTICS.md A-R4): how a handler follows the rules table. */
export const AlarmsConfigSchema = z
  .strictObject({
    rulesRefreshMs: durationMs(
      SECOND_MS,
      HOUR_MS,
      "how often a handler reads the rules table's revision",
    ).default(30_000),
    rulesFullReloadMs: durationMs(
      SECOND_MS,
      DAY_MS,
      'a full reload of the rules table even without a revision change',
    ).default(300_000),
    maxRulesPerSensor: z
      .number()
      .int()
      .min(1)
      .max(128)
      .describe('rules one sensor resolves, the first by name; 1 to 128')
      .default(32),
  })
  .refine((a) => a.rulesFullReloadMs >= a.rulesRefreshMs, {
    message: 'rulesFullReloadMs must be at least rulesRefreshMs',
    path: ['rulesFullReloadMs'],
  });

export const ConfigSchema = z
  .strictObject({
    /** Metric fields read from each reading. */
    metrics: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'metric names are identifiers'))
      .min(1)
      .default(['temperature']),
    windows: z
      .array(WindowSpecSchema)
      .min(1)
      .default([{ type: 'tumbling', sizeMs: 60_000 }]),
    /**
     * At most the stream's retention (checked below): a reading later than that cannot be
     * redelivered from the stream, and every window it keeps open stays in state.
     */
    allowedLatenessMs: z
      .number()
      .int('must be whole milliseconds')
      .min(0, 'must be at least 0 ms')
      .describe("event time a window stays open after its end; ms, 0 to the stream's retention")
      .default(10_000),
    /**
     * Processing time after which a silent sensor's open windows are flushed as final by
     * the idle sweeper (SEMANTICS.md: idle sensors).
     */
    idleTimeoutMs: durationMs(
      SECOND_MS,
      MAX_IDLE_TIMEOUT_MS,
      "processing time of silence after which a sensor's open windows are flushed",
    ).default(300_000),
    /**
     * Open windows and sessions (of every definition) one sensor may hold; past it, the
     * oldest are finalised early (SEMANTICS.md "Bounds" B3). With the metrics, it must fit
     * in a state item (checked below).
     */
    maxOpenWindows: z
      .number()
      .int()
      .min(1)
      .max(MAX_OPEN_WINDOWS_LIMIT)
      .describe(
        `open windows and sessions per sensor before the oldest are finalised early; 1 to ${MAX_OPEN_WINDOWS_LIMIT}, and fitting in the state item with the metrics`,
      )
      .default(DEFAULT_MAX_OPEN_WINDOWS),
    /** Also keep a sum of squares so final windows carry `stddev`. */
    stddev: z.boolean().default(true),
    /** Quantiles each final window reports per metric (percentile-config.ts); off by default. */
    percentiles: PercentilesSchema,
    percentileAccuracy: PercentileAccuracySchema,
    percentileMaxBuckets: PercentileMaxBucketsSchema,
    rules: z.array(RuleSchema).default(DEFAULT_RULES),
    /**
     * Working state of a sensor silent for this long expires (DynamoDB TTL, best-effort).
     * At least the stream's retention (checked below): the state holds the sequence numbers
     * that recognise a redelivered record, and a record can be redelivered while it is in
     * the stream.
     */
    stateTtlDays: ttlDays("days of silence after which a sensor's state expires").default(30),
    /** Alert ledger entries (the "already published" marks) expire after this; same bound. */
    ledgerTtlDays: ttlDays('days an "already published" alert mark is kept').default(30),
    alarms: AlarmsConfigSchema.default(AlarmsConfigSchema.parse({})),
    eventSource: EventSourceSchema.default(EventSourceSchema.parse({})),
    stream: StreamSchema,
  })
  .superRefine((c, ctx) => {
    const retentionMs = c.stream.retentionHours * HOUR_MS;
    if (c.allowedLatenessMs > retentionMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowedLatenessMs'],
        message: `${c.allowedLatenessMs} ms is longer than the stream's retention (stream.retentionHours ${c.stream.retentionHours} = ${retentionMs} ms)`,
      });
    }
    for (const key of ['stateTtlDays', 'ledgerTtlDays'] as const) {
      if (c[key] * DAY_MS < retentionMs) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `${c[key]} days is shorter than the stream's retention (stream.retentionHours ${c.stream.retentionHours}); a redelivered record could be applied twice`,
        });
      }
    }
    const fits = maxOpenWindowsFor(c.metrics, c.stddev);
    if (c.maxOpenWindows > fits) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxOpenWindows'],
        message: `${c.maxOpenWindows} open windows of ${c.metrics.length} metric(s) (about ${openWindowAllowanceBytes(c.metrics, c.stddev)} bytes each, open and final) do not fit in a sensor's state item; at most ${fits}`,
      });
    }
    for (const issue of [...percentileIssues(c), ...windowRuleIssues(c), ...stateBudgetIssues(c.rules)])
      ctx.addIssue({ code: 'custom', ...issue });
    const specs = new Set<string>();
    c.windows.forEach((w, i) => {
      const id = JSON.stringify(w);
      if (specs.has(id))
        ctx.addIssue({ code: 'custom', path: ['windows', i], message: 'duplicate window definition' });
      specs.add(id);
    });
    const names = new Set<string>();
    c.rules.forEach((rule, i) => {
      // A name is unique per scope (A-R2): a more specific row of a name overrides a general one.
      const key = `${rule.name}@${scopeKey(scopeOf(rule))}`;
      if (names.has(key)) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'name'],
          message: `duplicate rule name "${rule.name}"${scopeOf(rule) === 'all' ? '' : ` in scope ${scopeKey(scopeOf(rule))}`}`,
        });
      }
      names.add(key);
      if (!c.metrics.includes(rule.metric)) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'metric'],
          message: `rule "${rule.name}" uses metric "${rule.metric}", which is not in metrics [${c.metrics.join(', ')}]`,
        });
      }
    });
  });

export type WindowpaneConfig = z.infer<typeof ConfigSchema>;
export type WindowpaneConfigInput = z.input<typeof ConfigSchema>;

/**
 * Parses and validates a configuration; every problem is named by its path (prefixed
 * with `at`, e.g. the context key it was read from).
 */
export function parseConfig(
  input: unknown,
  source = 'configuration',
  at: readonly (string | number)[] = [],
): WindowpaneConfig {
  return parse(ConfigSchema, input ?? {}, source, { at });
}

/** Parses a configuration given as JSON text (the `WINDOWPANE_CONFIG` variable). */
export function parseConfigJson(text: string | undefined, source = 'WINDOWPANE_CONFIG'): WindowpaneConfig {
  if (text === undefined || text.trim() === '') return parseConfig({}, source);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`invalid ${source}: not JSON (${(err as Error).message})`);
  }
  return parseConfig(raw, source);
}

export const DEFAULT_CONFIG: WindowpaneConfig = parseConfig({});
