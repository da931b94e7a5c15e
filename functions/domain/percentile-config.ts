/**
 * The percentiles part of the configuration (issue 17, docs/SEMANTICS.md "Windows"):
 * which quantiles each metric's windows report, and the sketch's accuracy and bucket limit.
 * Off by default: without `percentiles` no window keeps a sketch, and nothing changes.
 *
 * `percentiles` is a list of quantiles for every metric (`[0.5, 0.9, 0.99]`) or an object
 * naming metrics (`{ "temperature": [0.99] }`). The fold reads it compiled, once per
 * config object, as a `PercentilePlan`.
 */
import { z } from 'zod';
import { percentileName } from './sketch/estimate.js';
import {
  DEFAULT_ACCURACY,
  DEFAULT_MAX_BUCKETS,
  MAX_ACCURACY,
  MAX_BUCKETS,
  MIN_ACCURACY,
  MIN_BUCKETS,
  type SketchSpec,
  sketchSpec,
} from './sketch/sketch.js';

/** At most this many quantiles per metric: each is a field of every result. */
export const MAX_PERCENTILES = 10;

const quantile = z
  .number()
  .min(0)
  .max(1)
  .describe('a quantile, 0 to 1 (0.99 is p99), at most 6 decimals')
  .refine((q) => Math.round(q * 1e6) / 1e6 === q, 'a quantile has at most 6 decimals (p99.9999)');

const quantiles = z
  .array(quantile)
  .min(1)
  .max(MAX_PERCENTILES)
  .refine((qs) => new Set(qs).size === qs.length, 'a quantile is listed twice');

export const PercentilesSchema = z
  .union([quantiles, z.record(z.string(), quantiles)], {
    error: 'expected a list of quantiles (0 to 1) or an object of metric name -> list of quantiles',
  })
  .optional();

export const PercentileAccuracySchema = z
  .number()
  .min(MIN_ACCURACY)
  .max(MAX_ACCURACY)
  .describe(`relative error of every percentile, ${MIN_ACCURACY} to ${MAX_ACCURACY}, a multiple of 0.000001`)
  .refine((a) => Math.round(a * 1e6) / 1e6 === a, 'a multiple of 0.000001')
  .default(DEFAULT_ACCURACY);

export const PercentileMaxBucketsSchema = z
  .number()
  .int()
  .min(MIN_BUCKETS)
  .max(MAX_BUCKETS)
  .describe(
    `sketch buckets kept per window and metric, ${MIN_BUCKETS} to ${MAX_BUCKETS}; beyond, the lowest merge`,
  )
  .default(DEFAULT_MAX_BUCKETS);

export interface PercentileSettings {
  metrics: readonly string[];
  percentiles?: readonly number[] | Record<string, readonly number[]> | undefined;
  percentileAccuracy: number;
  percentileMaxBuckets: number;
}

/** The problems of `percentiles` the schema alone cannot see: metric names it does not know. */
export function percentileIssues(c: PercentileSettings): { path: (string | number)[]; message: string }[] {
  const p = c.percentiles;
  if (p === undefined || Array.isArray(p)) return [];
  return Object.keys(p)
    .filter((metric) => !c.metrics.includes(metric))
    .map((metric) => ({
      path: ['percentiles', metric],
      message: `"${metric}" is not in metrics [${c.metrics.join(', ')}]`,
    }));
}

/** The output names of `metric`'s configured percentiles, ascending (none when off). */
export function percentileNamesOf(c: Pick<PercentileSettings, 'percentiles'>, metric: string): string[] {
  const p = c.percentiles;
  const list =
    p === undefined ? undefined : Array.isArray(p) ? p : (p as Record<string, readonly number[]>)[metric];
  return list === undefined ? [] : [...list].sort((a, b) => a - b).map(percentileName);
}

/** True for an output name `percentileName` can give: `p0` to `p100`, `p99_9`, `p99_9999`. */
export function isPercentileName(name: string): boolean {
  return /^p(100|[1-9]?[0-9])(_[0-9]{1,4})?$/.test(name) && !/_[0-9]*0$/.test(name);
}

/** The quantiles one metric reports, ascending, with their output names (`p50`, `p99_9`). */
export interface MetricPercentiles {
  quantiles: readonly number[];
  names: readonly string[];
}

export interface PercentilePlan {
  spec: SketchSpec;
  byMetric: Readonly<Record<string, MetricPercentiles>>;
  /** Every output name of any metric, ascending by quantile (the lake's columns). */
  names: readonly string[];
}

const plans = new WeakMap<PercentileSettings, PercentilePlan | null>();

/** The compiled percentiles of a config, or undefined when none are configured (the default). */
export function percentilePlan(config: PercentileSettings): PercentilePlan | undefined {
  let plan = plans.get(config);
  if (plan === undefined) {
    plan = compile(config);
    plans.set(config, plan);
  }
  return plan ?? undefined;
}

function compile(c: PercentileSettings): PercentilePlan | null {
  const p = c.percentiles;
  if (p === undefined) return null;
  const byMetric: Record<string, MetricPercentiles> = {};
  const all = new Set<number>();
  for (const metric of c.metrics) {
    const list = Array.isArray(p) ? p : (p as Record<string, readonly number[]>)[metric];
    if (list === undefined) continue;
    const sorted = [...list].sort((a, b) => a - b);
    for (const q of sorted) all.add(q);
    byMetric[metric] = { quantiles: sorted, names: sorted.map(percentileName) };
  }
  return {
    spec: sketchSpec({ accuracy: c.percentileAccuracy, maxBuckets: c.percentileMaxBuckets }),
    byMetric,
    names: [...all].sort((a, b) => a - b).map(percentileName),
  };
}
