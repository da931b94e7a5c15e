/**
 * Strict configuration (issue 13, "Configuration accepts what it should refuse"): unknown
 * keys name the key meant, every duration has its documented range, union errors name
 * the accepted types, and the defaults stay what they were.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  ConfigSchema,
  DEFAULT_CONFIG,
  parseConfig,
  parseConfigJson,
} from '../../functions/domain/config.js';
import { REPO_ROOT } from '../../local/config.js';

const DAY = 86_400_000;

function issues(input: unknown): readonly string[] {
  try {
    parseConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  return expect.fail(`expected ${JSON.stringify(input)} to be refused`);
}

const rules = (...extra: unknown[]) => [...DEFAULT_CONFIG.rules, ...extra];

describe('Configuration: the reproductions of issue 13 each give a clear message', () => {
  it.each([
    [{ allowedLatenesMs: 5_000 }, 'allowedLatenesMs: unknown key; did you mean allowedLatenessMs?'],
    [{ eventSource: { batchsize: 100 } }, 'eventSource.batchsize: unknown key; did you mean batchSize?'],
    [{ stream: { retentionHour: 48 } }, 'stream.retentionHour: unknown key; did you mean retentionHours?'],
    [
      { rules: rules({ name: 'x', type: 'thershold', metric: 'temperature', above: 1 }) },
      'rules.3.type: unknown rule type "thershold"; expected one of threshold, delta, zscore, ewma, rate, n-of-m, sequence, absence',
    ],
    [
      { windows: [{ type: 'hopping', sizeMs: 60_000 }] },
      'windows.0.type: unknown window type "hopping"; expected one of tumbling, sliding, session',
    ],
    [
      { rules: [{ name: 'x', type: 'delta', metric: 'temperature', maxDelta: 1, cooldown: 5 }] },
      'rules.0.cooldown: unknown key; did you mean cooldownMs?',
    ],
    [
      { windows: [{ type: 'tumbling', sizeMs: 2 }] },
      'windows.0.sizeMs: must be whole milliseconds from 1000 (1 s) to 2678400000 (31 d)',
    ],
    [
      { allowedLatenessMs: 10 * 365 * DAY },
      "allowedLatenessMs: 315360000000 ms is longer than the stream's retention (stream.retentionHours 24 = 86400000 ms)",
    ],
  ])('%j -> %s', (input, message) => {
    expect(issues(input)).toContain(message);
  });

  it('names every unknown key at once, each with its own path', () => {
    expect(issues({ allowedLatenesMs: 1, stdev: true, eventSource: { batchsize: 1 } })).toEqual([
      'eventSource.batchsize: unknown key; did you mean batchSize?',
      'allowedLatenesMs: unknown key; did you mean allowedLatenessMs?',
      'stdev: unknown key; did you mean stddev?',
    ]);
  });

  it('says so when WINDOWPANE_CONFIG holds a typo, naming the variable', () => {
    expect(() => parseConfigJson('{"idleTimeout":1000}')).toThrow(
      'invalid WINDOWPANE_CONFIG: idleTimeout: unknown key; did you mean idleTimeoutMs?',
    );
  });
});

describe('Configuration: every duration has a documented range, inclusive at both ends', () => {
  const window = (w: object) => ({ windows: [w] });
  const rule = (cooldownMs: number) => ({
    rules: [{ name: 'r', type: 'delta', metric: 'temperature', maxDelta: 1, cooldownMs }],
  });
  it.each([
    ['tumbling sizeMs', (v: number) => window({ type: 'tumbling', sizeMs: v }), 1_000, 31 * DAY],
    ['sliding slideMs', (v: number) => window({ type: 'sliding', sizeMs: v, slideMs: v }), 1_000, 31 * DAY],
    ['session gapMs', (v: number) => window({ type: 'session', gapMs: v }), 1_000, DAY],
    ['cooldownMs', rule, 1_000, DAY],
    ['idleTimeoutMs', (v: number) => ({ idleTimeoutMs: v }), 1_000, DAY],
    ['allowedLatenessMs', (v: number) => ({ allowedLatenessMs: v }), 0, DAY],
    ['stateTtlDays', (v: number) => ({ stateTtlDays: v }), 1, 365],
    ['ledgerTtlDays', (v: number) => ({ ledgerTtlDays: v }), 1, 365],
    [
      'stream.retentionHours',
      (v: number) => ({ stream: { retentionHours: v }, stateTtlDays: 365, ledgerTtlDays: 365 }),
      24,
      8_760,
    ],
  ])('%s: %d .. %d', (_name, build, min, max) => {
    expect(() => parseConfig(build(min))).not.toThrow();
    expect(() => parseConfig(build(max))).not.toThrow();
    expect(() => parseConfig(build(min - 1))).toThrow(ConfigError);
    expect(() => parseConfig(build(max + 1))).toThrow(ConfigError);
    expect(() => parseConfig(build(min + 0.5))).toThrow(ConfigError);
  });

  it('lateness may reach a longer retention, and no further', () => {
    const stream = { retentionHours: 48 };
    expect(parseConfig({ stream, allowedLatenessMs: 2 * DAY }).allowedLatenessMs).toBe(2 * DAY);
    expect(() => parseConfig({ stream, allowedLatenessMs: 2 * DAY + 1 })).toThrow(/allowedLatenessMs/);
  });

  it('state and ledger entries outlive the stream retention, or a redelivery could apply twice', () => {
    expect(issues({ stream: { retentionHours: 720 }, stateTtlDays: 29, allowedLatenessMs: 0 })).toEqual([
      "stateTtlDays: 29 days is shorter than the stream's retention (stream.retentionHours 720); a redelivered record could be applied twice",
    ]);
    expect(() => parseConfig({ stream: { retentionHours: 720 }, ledgerTtlDays: 30 })).not.toThrow();
    expect(() => parseConfig({ stream: { retentionHours: 721 }, ledgerTtlDays: 30 })).toThrow(
      /ledgerTtlDays/,
    );
  });

  it('states the range of every number in its schema description (the JSON Schema shows it)', () => {
    const described: string[] = [];
    const visit = (node: unknown, at: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      if (n.type === 'integer' || n.type === 'number') {
        expect(n.description, `${at} has a description`).toMatch(/ to |above|at least|any finite/);
        described.push(at);
      }
      for (const [k, v] of Object.entries(n.properties ?? {})) visit(v, at ? `${at}.${k}` : k);
      for (const key of ['items', 'anyOf', 'oneOf', 'allOf'] as const) {
        const sub = n[key];
        for (const [i, v] of (Array.isArray(sub) ? sub : sub ? [sub] : []).entries()) visit(v, `${at}[${i}]`);
      }
    };
    visit(z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }), '');
    expect(described).toEqual(expect.arrayContaining(['allowedLatenessMs', 'eventSource.batchSize']));
    expect(described.length).toBeGreaterThan(15);
  });
});

describe('Configuration: defaults and what is valid stay as they were', () => {
  it('parses its own output (every default spelled out) to the same value', () => {
    expect(parseConfig(JSON.parse(JSON.stringify(DEFAULT_CONFIG)))).toEqual(DEFAULT_CONFIG);
    expect(parseConfigJson(JSON.stringify(DEFAULT_CONFIG))).toEqual(DEFAULT_CONFIG);
  });

  it("the repository's cdk.json holds a valid windowpane context", () => {
    const cdk = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
      context: { windowpane: unknown };
    };
    expect(parseConfig(cdk.context.windowpane)).toEqual(DEFAULT_CONFIG);
  });

  it('the README configuration section names every key of the schema', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Windows'));
    const keys = new Set<string>();
    const walk = (schema: z.ZodType, prefix: string) => {
      let inner: z.ZodType = schema;
      while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional) {
        inner = inner.unwrap() as z.ZodType;
      }
      if (inner instanceof z.ZodObject) {
        for (const [k, v] of Object.entries(inner.shape)) {
          keys.add(`${prefix}${k}`);
          walk(v as z.ZodType, `${prefix}${k}.`);
        }
      }
    };
    walk(ConfigSchema, '');
    for (const key of keys) expect(section, key).toContain(`\`${key}\``);
  });
});

describe('Configuration: percentiles are off by default and checked like the rest', () => {
  it('is off by default, with accuracy 1 % and 128 buckets', () => {
    expect(DEFAULT_CONFIG.percentiles).toBeUndefined();
    expect(DEFAULT_CONFIG.percentileAccuracy).toBe(0.01);
    expect(DEFAULT_CONFIG.percentileMaxBuckets).toBe(128);
  });

  it('takes a list for every metric or an object naming metrics', () => {
    expect(parseConfig({ percentiles: [0.5, 0.99] }).percentiles).toEqual([0.5, 0.99]);
    expect(
      parseConfig({ metrics: ['temperature', 'humidity'], percentiles: { humidity: [0.999] } }).percentiles,
    ).toEqual({ humidity: [0.999] });
  });

  it.each([
    [{ percentiles: [0.5, 1.5] }, 'percentiles.1: Too big: expected number to be <=1'],
    [{ percentiles: [0.5, 0.5] }, 'percentiles: a quantile is listed twice'],
    [{ percentiles: [0.1234567] }, 'percentiles.0: a quantile has at most 6 decimals (p99.9999)'],
    [{ percentiles: [] }, 'percentiles: Too small: expected array to have >=1 items'],
    [
      { percentiles: 'p99' },
      'percentiles: expected a list of quantiles (0 to 1) or an object of metric name -> list of quantiles',
    ],
    [{ percentiles: { humdity: [0.5] } }, 'percentiles.humdity: "humdity" is not in metrics [temperature]'],
    [{ percentileAccuracy: 0.2 }, 'percentileAccuracy: Too big: expected number to be <=0.1'],
    [{ percentileAccuracy: 0.00001 }, 'percentileAccuracy: Too small: expected number to be >=0.0001'],
    [{ percentileAccuracy: 0.0100001 }, 'percentileAccuracy: a multiple of 0.000001'],
    [{ percentileMaxBuckets: 8 }, 'percentileMaxBuckets: Too small: expected number to be >=16'],
    [{ percentileMaxBuckets: 4096 }, 'percentileMaxBuckets: Too big: expected number to be <=2048'],
    [{ percentileMaxBuckets: 100.5 }, 'percentileMaxBuckets: Invalid input: expected int, received number'],
  ])('refuses %j: %s', (input, message) => {
    expect(issues(input)).toEqual([message]);
  });
});

describe('Carried state (SEMANTICS.md "Carried state")', () => {
  it('is the default: a 300 s tumbling window (the default idleTimeoutMs, CS8) and no batching window', () => {
    const { eventSource, idleTimeoutMs } = parseConfig({});
    expect(eventSource).toMatchObject({
      tumblingWindowSeconds: 300,
      maxBatchingWindowSeconds: 0,
      batchSize: 10_000,
      parallelizationFactor: 1,
    });
    expect(eventSource.tumblingWindowSeconds * 1_000).toBeLessThanOrEqual(idleTimeoutMs);
  });

  it('CS7: tumblingWindowSeconds above 0 needs parallelizationFactor 1, and is at most 900', () => {
    expect(
      parseConfig({ eventSource: { tumblingWindowSeconds: 900 } }).eventSource.tumblingWindowSeconds,
    ).toBe(900);
    expect(() =>
      parseConfig({ eventSource: { tumblingWindowSeconds: 300, parallelizationFactor: 2 } }),
    ).toThrow(/eventSource\.tumblingWindowSeconds.*parallelizationFactor 1/);
    // Carried state is on by default, so a parallelization factor alone is refused, naming the way out.
    expect(() => parseConfig({ eventSource: { parallelizationFactor: 4 } })).toThrow(
      /set tumblingWindowSeconds to 0 for a parallelizationFactor above 1/,
    );
    expect(
      parseConfig({ eventSource: { tumblingWindowSeconds: 0, parallelizationFactor: 4 } }).eventSource,
    ).toMatchObject({ tumblingWindowSeconds: 0, parallelizationFactor: 4 });
    expect(() => parseConfig({ eventSource: { tumblingWindowSeconds: 901 } })).toThrow(
      /tumblingWindowSeconds/,
    );
  });
});
