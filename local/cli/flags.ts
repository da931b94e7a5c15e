/**
 * The one way windowpane's commands read flags (`npm start`, `replay`, `recover`, `bench`):
 * `node:util` parseArgs for the splitting, a table of `Flag`s for what each flag accepts,
 * and the same message for the same mistake everywhere. Every problem is a `UsageError`
 * naming the flag (the commands print it and exit 2).
 *
 * A command declares its flags once, and gets typed values and its help lines from them:
 *
 *   const FLAGS = {
 *     sensors: flag.integer('N', 'simulated sensors (default 5)', { min: 1, max: 10_000, default: 5 }),
 *     rules: flag.string('FILE', 'rule file'),                   // string | undefined
 *     'no-dashboard': flag.boolean('do not serve the dashboard'), // boolean, as noDashboard
 *   } satisfies FlagSet;
 *   const { values, given } = parseFlags(argv, FLAGS);           // values.sensors: number
 *   const help = formatFlagHelp(FLAGS);
 *
 * Accepted spellings: `--name value`, `--name=value`, declared short forms (`-h`). A value
 * may start with one dash (`--seed -3`, `--input -`) but not with two: `--out --stdin` is a
 * missing value, not a directory called `--stdin`. A flag given twice is an error.
 */
import { parseArgs } from 'node:util';
import { WindowpaneError } from '../../functions/domain/errors.js';

export class UsageError extends WindowpaneError {}

/** Exit status for a usage error (bad flags), as most Unix tools use it. */
export const USAGE_EXIT_CODE = 2;

/** A flag whose value is a `V` when given and `F` when absent. */
export interface Flag<V, F = V | undefined> {
  readonly kind: 'boolean' | 'value';
  /** Shown after the name in help and messages (`N`, `FILE`); empty for booleans. */
  readonly placeholder: string;
  readonly short?: string;
  /** Help text; a "\n" continues it on the next line, aligned. */
  readonly help: string;
  /** The value from its text (value flags); throws a `UsageError` naming `name`. */
  readonly parse: (text: string, name: string) => V;
  /** The value when the flag is absent. */
  readonly fallback: F;
}

// biome-ignore lint/suspicious/noExplicitAny: a set holds flags of every value type
export type FlagSet = Record<string, Flag<any, any>>;

/** `keep-resources` -> `keepResources`: the property that holds a flag's value. */
export type PropertyName<F extends string> = F extends `${infer Head}-${infer Tail}`
  ? `${Head}${Capitalize<PropertyName<Tail>>}`
  : F;

export function propertyName<F extends string>(flag: F): PropertyName<F> {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()) as PropertyName<F>;
}

/** Each flag's value under its property name: the parsed value, or the fallback when absent. */
export type FlagValues<S extends FlagSet> = {
  -readonly [K in keyof S & string as PropertyName<K>]: ReturnType<S[K]['parse']> | S[K]['fallback'];
};

export interface ParsedFlags<S extends FlagSet> {
  values: FlagValues<S>;
  /** Names of the flags that were given (a flag at its default is not). */
  given: ReadonlySet<keyof S & string>;
  /** Words that are not flags, in order (only where the caller allows them). */
  positionals: string[];
}

// ---------------------------------------------------------------------------------------
// Value parsers (each names the flag in its message)
// ---------------------------------------------------------------------------------------

export function parseIntegerFlag(name: string, text: string, range: { min: number; max: number }): number {
  if (!/^[+-]?\d+$/.test(text.trim())) {
    throw new UsageError(`flag --${name} must be a whole number, got "${text}"`);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new UsageError(`flag --${name} must be between ${range.min} and ${range.max}, got ${text}`);
  }
  return n;
}

export function parseNumberFlag(
  name: string,
  text: string,
  range: { minExclusive: number; max: number },
): number {
  const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isFinite(n)) throw new UsageError(`flag --${name} must be a number, got "${text}"`);
  if (n <= range.minExclusive || n > range.max) {
    throw new UsageError(
      `flag --${name} must be above ${range.minExclusive} and at most ${range.max}, got ${text}`,
    );
  }
  return n;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `500ms`, `10s`, `1.5m`, `2h`, or a bare number of seconds; whole milliseconds. */
export function parseDuration(name: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) {
    throw new UsageError(`flag --${name} must be a duration such as 90s, 5m, 500ms or 0, got "${text}"`);
  }
  const ms = Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!;
  if (!Number.isInteger(ms)) {
    throw new UsageError(`flag --${name} must be a whole number of milliseconds, got "${text}"`);
  }
  return ms;
}

/** `90000` -> `90s`, `1500` -> `1500ms`: the largest unit that divides it, for messages. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms === 0 ? '0' : `${ms}ms`;
}

/** An http(s) URL such as an emulator or LocalStack endpoint. */
export function parseUrlFlag(name: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`flag --${name} must be a URL such as http://localhost:4566, got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(
      `flag --${name} must be an http(s) URL such as http://localhost:4566, got "${text}"`,
    );
  }
  return text;
}

// ---------------------------------------------------------------------------------------
// Flag builders
// ---------------------------------------------------------------------------------------

function valueFlag<V, F>(
  placeholder: string,
  help: string,
  parse: (text: string, name: string) => V,
  fallback: F,
  short?: string,
): Flag<V, F> {
  return { kind: 'value', placeholder, help, parse, fallback, ...(short ? { short } : {}) };
}

export const flag = {
  /** A switch: true when given, false otherwise. */
  boolean(help: string, opts: { short?: string } = {}): Flag<true, false> {
    return {
      kind: 'boolean',
      placeholder: '',
      help,
      parse: () => true as const,
      fallback: false,
      ...(opts.short ? { short: opts.short } : {}),
    };
  },

  /** Any non-empty text; `check` may refuse it (throwing a `UsageError`). */
  string<D extends string | undefined = undefined>(
    placeholder: string,
    help: string,
    opts: { default?: D; short?: string; check?: (text: string, name: string) => void } = {},
  ): Flag<string, D> {
    const parse = (text: string, name: string) => {
      opts.check?.(text, name);
      return text;
    };
    return valueFlag(placeholder, help, parse, opts.default as D, opts.short);
  },

  /** A whole number within `[min, max]`. */
  integer<D extends number | undefined = undefined>(
    placeholder: string,
    help: string,
    opts: { min: number; max: number; default?: D },
  ): Flag<number, D> {
    return valueFlag(placeholder, help, (t, n) => parseIntegerFlag(n, t, opts), opts.default as D);
  },

  /** A finite number within `(minExclusive, max]`. */
  number<D extends number | undefined = undefined>(
    placeholder: string,
    help: string,
    opts: { minExclusive: number; max: number; default?: D },
  ): Flag<number, D> {
    return valueFlag(placeholder, help, (t, n) => parseNumberFlag(n, t, opts), opts.default as D);
  },

  /**
   * A duration (see `parseDuration`) in milliseconds: at least `min`, or above 0 with
   * `positive` (a timeout of 0 would mean "fail at once").
   */
  duration<D extends number | undefined = undefined>(
    help: string,
    opts: { min?: number; positive?: boolean; placeholder?: string; default?: D } = {},
  ): Flag<number, D> {
    const parse = (text: string, name: string) => {
      const ms = parseDuration(name, text);
      if (opts.positive && ms === 0) throw new UsageError(`flag --${name} must be above 0, got "${text}"`);
      if (opts.min !== undefined && ms < opts.min) {
        throw new UsageError(`flag --${name} must be at least ${formatDuration(opts.min)}, got "${text}"`);
      }
      return ms;
    };
    return valueFlag(opts.placeholder ?? 'DURATION', help, parse, opts.default as D);
  },

  /** One of a fixed set of words (`--format avro`). */
  oneOf<const W extends string, D extends W | undefined = undefined>(
    words: readonly W[],
    help: string,
    opts: { placeholder?: string; default?: D } = {},
  ): Flag<W, D> {
    const parse = (text: string, name: string): W => {
      const word = words.find((w) => w === text);
      if (word === undefined) {
        throw new UsageError(`flag --${name} must be one of ${words.join(', ')}, got "${text}"`);
      }
      return word;
    };
    return valueFlag(opts.placeholder ?? words.join('|'), help, parse, opts.default as D);
  },

  /** An http(s) URL. */
  url(help: string, opts: { placeholder?: string } = {}): Flag<string, undefined> {
    return valueFlag(opts.placeholder ?? 'URL', help, (t, n) => parseUrlFlag(n, t), undefined);
  },

  /** Any other value: `parse` turns the text into it, or throws a `UsageError`. */
  custom<T>(placeholder: string, help: string, parse: (text: string, name: string) => T): Flag<T, undefined> {
    return valueFlag(placeholder, help, parse, undefined);
  },
};

/** The standard `-h, --help`. */
export const HELP_FLAG = flag.boolean('this text', { short: 'h' });

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

/** The known name nearest to a mistyped one, if it is near enough to be the likely intent. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Parses `argv` against `specs`. Words that are not flags are refused unless
 * `allowPositionals` (a command such as `recover dlq list` reads them).
 */
export function parseFlags<S extends FlagSet>(
  argv: readonly string[],
  specs: S,
  opts: { allowPositionals?: boolean } = {},
): ParsedFlags<S> {
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, s]) => [
      name,
      {
        type: s.kind === 'boolean' ? ('boolean' as const) : ('string' as const),
        ...(s.short ? { short: s.short } : {}),
      },
    ]),
  );
  // Not strict: every problem is reported here, in windowpane's words, rather than as
  // parseArgs' own TypeError; tokens keep the order, so the first mistake is the one named.
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(specs)) values[propertyName(name)] = s.fallback;
  const given = new Set<string>();
  const positionals: string[] = [];
  let afterTerminator = false;
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      afterTerminator = true;
      continue;
    }
    if (token.kind === 'positional') {
      if (!opts.allowPositionals || afterTerminator) {
        throw new UsageError(`unexpected argument "${token.value}" (flags start with --)`);
      }
      positionals.push(token.value);
      continue;
    }
    const { name, rawName } = token;
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec) {
      const near = rawName.startsWith('--') ? closestName(name, Object.keys(specs)) : undefined;
      throw new UsageError(`unknown flag ${rawName}${near ? ` (did you mean --${near}?)` : ''}`);
    }
    if (given.has(name)) throw new UsageError(`flag --${name} is given more than once`);
    given.add(name);
    if (spec.kind === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`flag --${name} takes no value`);
      values[propertyName(name)] = true;
      continue;
    }
    const usage = `--${name} ${spec.placeholder}`;
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      throw new UsageError(`flag --${name} needs a value (${usage})`);
    }
    if (token.value === '') throw new UsageError(`flag --${name} needs a value (${usage}), got ""`);
    values[propertyName(name)] = spec.parse(token.value, name);
  }
  return { values: values as FlagValues<S>, given: given as Set<keyof S & string>, positionals };
}

// ---------------------------------------------------------------------------------------
// Help
// ---------------------------------------------------------------------------------------

/**
 * The help lines of `specs`, in their order: `  -h, --name VALUE   help`, help texts
 * aligned in one column (at least `minColumn`), continuation lines under it.
 */
export function formatFlagHelp(specs: FlagSet, opts: { minColumn?: number } = {}): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const left = `${s.short ? `-${s.short}, ` : ''}--${name}${s.placeholder ? ` ${s.placeholder}` : ''}`;
    return { left, help: s.help.split('\n') };
  });
  const column = Math.max(opts.minColumn ?? 0, ...rows.map((r) => r.left.length + 4));
  const pad = ' '.repeat(column);
  return rows
    .flatMap(({ left, help }) => [
      `  ${left}`.padEnd(column) + (help[0] ?? ''),
      ...help.slice(1).map((line) => pad + line),
    ])
    .join('\n');
}
