/**
 * The chaos plan: a seed fixes every decision stream, kinds do not disturb each other,
 * rates hold, and the settings chaos mode gives the mapping never discard a record unless
 * retries are bounded on purpose (`--retry-attempts N`).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import {
  ChaosPlan,
  ChaosPlanError,
  chaosMappingSettings,
  type DEFAULT_CHAOS_RATES,
  FAULT_KINDS,
  formatFaults,
  reshardPoints,
  seededStream,
} from '../../local/chaos/index.js';
import { parseReplayArgs, parseStartArgs } from '../../local/cli/args.js';
import { UsageError } from '../../local/cli/flags.js';

const draws = (plan: ChaosPlan, kind: keyof typeof DEFAULT_CHAOS_RATES, n: number) =>
  Array.from({ length: n }, () => plan.decide(kind));

describe('ChaosPlan', () => {
  it('gives the same decisions for the same seed, and different ones for another seed', () => {
    const a = new ChaosPlan(42);
    const b = new ChaosPlan(42);
    const c = new ChaosPlan(43);
    const seqA = draws(a, 'handlerCrash', 2_000);
    expect(draws(b, 'handlerCrash', 2_000)).toEqual(seqA);
    expect(draws(c, 'handlerCrash', 2_000)).not.toEqual(seqA);
    expect(Array.from({ length: 50 }, () => a.pick('handlerCrash', 0, 24))).toEqual(
      Array.from({ length: 50 }, () => b.pick('handlerCrash', 0, 24)),
    );
  });

  it("draws each kind from its own stream: one kind's draws never shift another's", () => {
    const quiet = new ChaosPlan(7);
    const busy = new ChaosPlan(7);
    draws(busy, 'dynamodbThrottle', 10_000);
    busy.pick('lambdaTimeout', 1, 100);
    expect(draws(busy, 'snsResponseLost', 1_000)).toEqual(draws(quiet, 'snsResponseLost', 1_000));
  });

  it('decides true at about the configured rate', () => {
    const plan = new ChaosPlan(1, { rates: { dynamodbThrottle: 0.2 } });
    const n = 50_000;
    const hits = draws(plan, 'dynamodbThrottle', n).filter(Boolean).length;
    expect(hits / n).toBeGreaterThan(0.19);
    expect(hits / n).toBeLessThan(0.21);
    const none = new ChaosPlan(1, { rates: { lambdaTimeout: 0 } });
    expect(draws(none, 'lambdaTimeout', 10_000).some(Boolean)).toBe(false);
  });

  it('picks whole numbers within the bounds, reaching both ends', () => {
    const plan = new ChaosPlan(5);
    const picks = Array.from({ length: 5_000 }, () => plan.pick('lambdaTimeout', 2, 9));
    expect(Math.min(...picks)).toBe(2);
    expect(Math.max(...picks)).toBe(9);
    expect(picks.every(Number.isInteger)).toBe(true);
  });

  it('counts only the faults recorded as injected, by kind', () => {
    const plan = new ChaosPlan(3);
    draws(plan, 'handlerCrash', 100);
    expect(plan.totalFaults()).toBe(0);
    plan.injected('handlerCrash');
    plan.injected('reshard');
    plan.injected('reshard');
    expect(plan.faults()).toMatchObject({ handlerCrash: 1, reshard: 2, lambdaTimeout: 0 });
    expect(plan.totalFaults()).toBe(3);
    expect(Object.keys(plan.faults()).sort()).toEqual([...FAULT_KINDS].sort());
    expect(formatFaults(plan.faults())).toContain('reshard 2');
  });

  it('refuses rates that could keep a batch failing, and seeds that are not integers', () => {
    expect(() => new ChaosPlan(1, { rates: { handlerCrash: 0.5 } })).toThrow(ChaosPlanError);
    expect(() => new ChaosPlan(1, { rates: { dynamodb5xx: -0.1 } })).toThrow(/dynamodb5xx/);
    expect(() => new ChaosPlan(1.5)).toThrow(ChaosPlanError);
  });

  it('strikes a crash at one of the first 25 writes unless told a lower bound, and refuses one that is not a whole number', () => {
    expect(new ChaosPlan(1).crashAtWriteMax).toBe(24);
    expect(new ChaosPlan(1, { crashAtWriteMax: 2 }).crashAtWriteMax).toBe(2);
    expect(() => new ChaosPlan(1, { crashAtWriteMax: -1 })).toThrow(/crashAtWriteMax must be a whole number/);
    expect(() => new ChaosPlan(1, { crashAtWriteMax: 0.5 })).toThrow(ChaosPlanError);
  });

  it('derives independent streams per label, in [0, 1)', () => {
    const s1 = seededStream(9, 'x');
    const s2 = seededStream(9, 'y');
    const a = Array.from({ length: 1_000 }, () => s1());
    const b = Array.from({ length: 1_000 }, () => s2());
    expect(a).not.toEqual(b);
    expect(a.every((v) => v >= 0 && v < 1)).toBe(true);
    const mean = a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});

describe('chaos mode settings', () => {
  it('makes the mapping retry without limit and never expire records', () => {
    const settings = parseConfig({
      eventSource: { retryAttempts: 2, maxRecordAgeSeconds: 60, batchSize: 7 },
    }).eventSource;
    expect(chaosMappingSettings(settings)).toEqual({
      ...settings,
      retryAttempts: -1,
      maxRecordAgeSeconds: -1,
    });
  });

  it('with bounded retries (--retry-attempts N), retries a failed batch N times and still never expires records', () => {
    const settings = parseConfig({ eventSource: { retryAttempts: 5, maxRecordAgeSeconds: 60 } }).eventSource;
    expect(chaosMappingSettings(settings, 0)).toEqual({
      ...settings,
      retryAttempts: 0,
      maxRecordAgeSeconds: -1,
    });
    expect(chaosMappingSettings(settings, 3).retryAttempts).toBe(3);
    expect(new ChaosPlan(1, { retryAttempts: 2 }).retryAttempts).toBe(2);
    expect(new ChaosPlan(1).retryAttempts).toBeUndefined();
    expect(() => new ChaosPlan(1, { retryAttempts: -1 })).toThrow(
      /retryAttempts must be a whole number from 0/,
    );
    expect(() => new ChaosPlan(1, { retryAttempts: 1.5 })).toThrow(ChaosPlanError);
  });

  it('reshards after a third and two thirds of the records', () => {
    expect(reshardPoints(100_000)).toEqual([33_333, 66_666]);
    expect(reshardPoints(3)).toEqual([1, 2]);
  });

  it('reads --chaos SEED for replay and start, and rejects a seed that is not a whole number', () => {
    expect(parseReplayArgs(['--input', 'f', '--out', 'd', '--chaos', '7']).chaosSeed).toBe(7);
    expect(parseReplayArgs(['--input', 'f', '--out', 'd']).chaosSeed).toBeUndefined();
    expect(parseStartArgs(['--chaos', '123']).chaosSeed).toBe(123);
    expect(() => parseReplayArgs(['--input', 'f', '--out', 'd', '--chaos', 'x'])).toThrow(UsageError);
    const bounded = parseReplayArgs(['--input', 'f', '--out', 'd', '--chaos', '7', '--retry-attempts', '1']);
    expect(bounded.chaosRetryAttempts).toBe(1);
    expect(() => parseReplayArgs(['--input', 'f', '--out', 'd', '--retry-attempts', '1'])).toThrow(
      /--retry-attempts needs --chaos/,
    );
    expect(() =>
      parseReplayArgs(['--input', 'f', '--out', 'd', '--chaos', '7', '--retry-attempts', '-1']),
    ).toThrow(UsageError);
    expect(() => parseStartArgs(['--chaos'])).toThrow(/--chaos/);
  });
});
