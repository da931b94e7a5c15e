/**
 * The one parse helper: every refused input names its source, the path of each problem,
 * the near key a typo meant, the accepted tags of a union, and a missing value as such.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { WindowpaneError } from '../../functions/domain/errors.js';
import {
  ConfigError,
  nearestKey,
  nearMisses,
  parse,
  taggedUnion,
  unknownKeyMessage,
} from '../../functions/domain/parse.js';

const Threshold = z
  .strictObject({ type: z.literal('threshold'), above: z.number().optional() })
  .refine((r) => r.above !== undefined, { message: 'needs above' });
const Delta = z.strictObject({ type: z.literal('delta'), maxDelta: z.number() });
const Schema = z.strictObject({
  name: z.string(),
  allowedLatenessMs: z.number().default(0),
  eventSource: z.strictObject({ batchSize: z.number().default(1) }).default({ batchSize: 1 }),
  rules: z.array(taggedUnion('rule', 'type', [Threshold, Delta])).default([]),
});

function issuesOf(input: unknown, at?: string[]): readonly string[] {
  try {
    parse(Schema, input, 'test input', at ? { at } : {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  return expect.fail('expected the input to be refused');
}

describe('parse: one error naming the source and every problem by its path', () => {
  it('returns the parsed value, defaults applied', () => {
    expect(parse(Schema, { name: 'x' }, 'test input')).toEqual({
      name: 'x',
      allowedLatenessMs: 0,
      eventSource: { batchSize: 1 },
      rules: [],
    });
  });

  it('throws a ConfigError (a WindowpaneError) whose message names the source and joins the issues', () => {
    expect(() => parse(Schema, { name: 1, allowedLatenessMs: 'x' }, 'CDK context "windowpane"')).toThrow(
      /^invalid CDK context "windowpane": name: .*; allowedLatenessMs: /,
    );
    try {
      parse(Schema, {}, 'x');
    } catch (err) {
      expect(err).toBeInstanceOf(WindowpaneError);
      expect((err as Error).name).toBe('ConfigError');
    }
  });

  it('prefixes every path with `at` and throws the requested subclass', () => {
    class DeployError extends ConfigError {}
    expect(() =>
      parse(Schema, { name: 'x', batchsize: 1 }, 'ctx', { at: ['deploy'], error: DeployError }),
    ).toThrow(DeployError);
    expect(issuesOf({ eventSource: { batchsize: 2 } }, ['windowpane'])).toEqual([
      'windowpane.name: required, missing (expected string)',
      'windowpane.eventSource.batchsize: unknown key; did you mean batchSize?',
    ]);
  });

  it('names an unknown key at its own path, with the near key it meant', () => {
    expect(issuesOf({ name: 'x', allowedLatenesMs: 5 })).toEqual([
      'allowedLatenesMs: unknown key; did you mean allowedLatenessMs?',
    ]);
  });

  it('lists the accepted keys when no key is near, one line per unknown key', () => {
    expect(issuesOf({ name: 'x', eventSource: { size: 1, batchsize: 1 } })).toEqual([
      'eventSource.size: unknown key; expected one of batchSize',
      'eventSource.batchsize: unknown key; did you mean batchSize?',
    ]);
  });

  it('says which tags a union accepts when the tag is unknown, missing or not a string', () => {
    const rules = [{ type: 'delta', maxDelta: 1 }, { type: 'thershold' }, {}, { type: 3 }];
    expect(issuesOf({ name: 'x', rules })).toEqual([
      'rules.1.type: unknown rule type "thershold"; expected one of threshold, delta',
      'rules.2.type: missing rule type; expected one of threshold, delta',
      'rules.3.type: unknown rule type 3; expected one of threshold, delta',
    ]);
  });

  it("reports a matched option's own problems (refinements, keys) as usual", () => {
    expect(issuesOf({ name: 'x', rules: [{ type: 'threshold', abov: 1 }] })).toEqual([
      'rules.0.abov: unknown key; did you mean above?',
      'rules.0: needs above',
    ]);
  });

  it('names the root as (root)', () => {
    expect(issuesOf('not an object')).toEqual(['(root): Invalid input: expected object, received string']);
  });
});

describe('nearestKey: the key a typo meant', () => {
  const known = ['allowedLatenessMs', 'batchSize', 'removalPolicy', 'logRetentionDays', 'stddev', 'mode'];

  it.each([
    ['allowedLatenesMs', 'allowedLatenessMs'],
    ['batchsize', 'batchSize'],
    ['removalpolicy', 'removalPolicy'],
    ['logRetentionDay', 'logRetentionDays'],
    ['stdev', 'stddev'],
    ['mdoe', 'mode'],
    ['BATCHSIZE', 'batchSize'],
    ['allowedLateness', 'allowedLatenessMs'],
  ])('%s -> %s', (typo, meant) => {
    expect(nearestKey(typo, known)).toBe(meant);
  });

  it.each(['size', 'retention', 'x', 'latenessMs'])('suggests nothing for %s', (key) => {
    expect(nearestKey(key, known)).toBeUndefined();
  });

  it('never suggests the key itself', () => {
    expect(nearestKey('mode', ['mode'])).toBeUndefined();
    expect(unknownKeyMessage('a', [])).toBe('unknown key');
  });
});

describe('nearMisses: environments are open, but a misspelt variable is an error', () => {
  const Env = z
    .looseObject({ STATE_TABLE_NAME: z.string(), WINDOWPANE_CONFIG: z.string().optional() })
    .check(nearMisses(['STATE_TABLE_NAME', 'WINDOWPANE_CONFIG']));

  it('names a near miss of an absent variable, beside the missing one', () => {
    expect(() => parse(Env, { STATE_TABLE_NAM: 't', PATH: '/bin' }, 'handler environment')).toThrow(
      'invalid handler environment: STATE_TABLE_NAME: required, missing (expected string); ' +
        'STATE_TABLE_NAM: unknown variable; did you mean STATE_TABLE_NAME?',
    );
    expect(() => parse(Env, { STATE_TABLE_NAME: 't', windowpane_config: '{}' }, 'env')).toThrow(
      /windowpane_config: unknown variable; did you mean WINDOWPANE_CONFIG/,
    );
  });

  it('accepts unrelated variables, and a near name when the real one is also set', () => {
    expect(parse(Env, { STATE_TABLE_NAME: 't', PATH: '/bin', AWS_REGION: 'eu-west-1' }, 'env')).toMatchObject(
      {
        PATH: '/bin',
      },
    );
    expect(parse(Env, { STATE_TABLE_NAME: 't', STATE_TABLE_NAM: 'u' }, 'env').STATE_TABLE_NAME).toBe('t');
  });
});
