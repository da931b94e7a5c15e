/**
 * The one way windowpane turns configuration it did not write (the `cdk.json` context, a
 * Lambda environment, a JSON variable) into typed values: `parse(schema, input, source)`.
 *
 * Every problem becomes one line `<path>: <message>`, and the lines are joined into one
 * `ConfigError` that names the source, so a bad key fails synth, a cold start or a CLI
 * with the same wording everywhere. Three shapes get messages of their own, because
 * zod's defaults do not say what to do:
 * - an unknown key (objects are strict) names the key and the near one it probably meant:
 *   `windowpane.allowedLatenesMs: unknown key; did you mean allowedLatenessMs?`;
 * - a tagged union (`taggedUnion`) with an unknown tag names the accepted ones:
 *   `rules.3.type: unknown rule type "thershold"; expected one of threshold, delta`;
 * - a missing required value says so, instead of "expected string, received undefined".
 */
import { z } from 'zod';
import { WindowpaneError } from './errors.js';

export interface ConfigErrorOptions {
  /** Each problem as one `<path>: <message>` line. */
  issues?: readonly string[];
  cause?: unknown;
}

/** Configuration (or an environment) that windowpane refuses; the message says why. */
export class ConfigError extends WindowpaneError {
  readonly issues: readonly string[];

  constructor(message: string, options: ConfigErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.issues = options.issues ?? [];
  }
}

export type ConfigErrorClass = new (message: string, options?: ConfigErrorOptions) => ConfigError;

export interface ParseOptions {
  /** Prefix of every issue path, e.g. `['windowpaneDeploy']` for a context key. */
  at?: readonly (string | number)[];
  /** The error to throw (a subclass of ConfigError); ConfigError by default. */
  error?: ConfigErrorClass;
}

/**
 * Parses `input` with `schema`, or throws one error naming `source` and every problem.
 * `source` reads as the object of "invalid ...": `CDK context "windowpane"`, `handler
 * environment`, `WINDOWPANE_CONFIG`.
 */
export function parse<S extends z.ZodType>(
  schema: S,
  input: unknown,
  source: string,
  options: ParseOptions = {},
): z.output<S> {
  // Known keys of each object that reported unknown ones, by path: zod's issue carries
  // the unknown keys, the schema (seen only by the error map) the known ones.
  const knownKeys = new Map<string, readonly string[]>();
  const result = schema.safeParse(input, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') {
        knownKeys.set(pathKey(issue.path ?? []), objectKeys(issue.inst));
        return undefined;
      }
      if (issue.code === 'invalid_type' && issue.input === undefined) {
        return `required, missing (expected ${issue.expected})`;
      }
      return undefined;
    },
  });
  if (result.success) return result.data;
  const at = options.at ?? [];
  const issues = result.error.issues.flatMap((issue) => {
    const path = [...at, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (issue.code !== 'unrecognized_keys') return [`${formatPath(path)}: ${issue.message}`];
    const known = knownKeys.get(pathKey(issue.path)) ?? [];
    return issue.keys.map((key) => `${formatPath([...path, key])}: ${unknownKeyMessage(key, known)}`);
  });
  const ErrorClass = options.error ?? ConfigError;
  throw new ErrorClass(`invalid ${source}: ${issues.join('; ')}`, { issues });
}

/** `unknown key; did you mean X?`, or the keys that are allowed when none is near. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const near = nearestKey(key, known);
  if (near !== undefined) return `unknown key; did you mean ${near}?`;
  if (known.length === 0) return 'unknown key';
  return `unknown key; expected one of ${known.join(', ')}`;
}

/**
 * The known key `key` was most likely meant to be: equal ignoring case, or within a
 * small edit distance (one edit for short keys, two from 6 characters, three from 12).
 * Ties go to the first key in `known`.
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const wanted = key.toLowerCase();
  const budget = wanted.length >= 12 ? 3 : wanted.length >= 6 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = budget + 1;
  for (const candidate of known) {
    if (candidate === key) continue;
    const d = editDistance(wanted, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, transpositions. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Number.POSITIVE_INFINITY;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      }
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

type Discriminable = Parameters<typeof z.discriminatedUnion>[1][number];

/**
 * A union told apart by one literal field (`type`), whose failure to match names the
 * accepted values: `unknown rule type "thershold"; expected one of threshold, delta`.
 * `noun` is what the union holds ("rule", "window"). The options are plain zod objects,
 * so a registry of kinds can build this list later.
 */
export function taggedUnion<const Options extends readonly [Discriminable, ...Discriminable[]]>(
  noun: string,
  discriminator: string,
  options: Options,
) {
  return z.discriminatedUnion(discriminator, options, {
    error: (issue) => {
      if (issue.code !== 'invalid_union') return undefined;
      const accepted = `expected one of ${tagsOf(options, discriminator).join(', ')}`;
      const input = issue.input as Record<string, unknown> | undefined;
      const tag = input?.[discriminator];
      if (tag === undefined) return `missing ${noun} ${discriminator}; ${accepted}`;
      return `unknown ${noun} ${discriminator} ${JSON.stringify(tag)}; ${accepted}`;
    },
  });
}

/**
 * Reports variables that look like misspellings of known ones: a present key that is
 * not known, near a known key that is absent. Meant for environments, which hold many
 * variables that are not windowpane's and so cannot be strict objects. Use with
 * `.check(...)`; it runs even when other variables failed, since a misspelt variable
 * usually shows first as a missing one.
 */
export function nearMisses(known: readonly string[]) {
  const knownSet = new Set(known);
  return z.superRefine<Record<string, unknown>>(
    (value, ctx) => {
      if (typeof value !== 'object' || value === null) return;
      const absent = known.filter((k) => value[k] === undefined);
      for (const key of Object.keys(value)) {
        if (knownSet.has(key) || value[key] === undefined) continue;
        const near = nearestKey(key, absent);
        if (near !== undefined) {
          ctx.addIssue({ code: 'custom', path: [key], message: `unknown variable; did you mean ${near}?` });
        }
      }
    },
    { when: () => true },
  );
}

function tagsOf(options: readonly Discriminable[], discriminator: string): string[] {
  const tags: string[] = [];
  for (const option of options) {
    const values = (option as unknown as { _zod: { propValues?: Record<string, Set<unknown>> } })._zod
      .propValues?.[discriminator];
    for (const v of values ?? []) tags.push(String(v));
  }
  return tags;
}

function objectKeys(schema: unknown): readonly string[] {
  const shape = (schema as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def
    ?.shape;
  return shape ? Object.keys(shape) : [];
}

function pathKey(path: readonly PropertyKey[]): string {
  return path.map(String).join('\u0000');
}

function formatPath(path: readonly (string | number)[]): string {
  return path.length === 0 ? '(root)' : path.join('.');
}
