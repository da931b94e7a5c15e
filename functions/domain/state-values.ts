/**
 * Dense spellings of the values a state body repeats most (state-codec.ts): shard ids,
 * record positions (Kinesis sequence numbers of 56 digits and more) and doubles with
 * long decimal forms (the error terms of exact sums). Each is exact: a value without a
 * canonical form to densify keeps its own spelling. The decoders return undefined for
 * what no encoder writes, and the codec names it in its error.
 */

const SHARD = /^shardId-(\d{12})$/;

/** `shardId-<12 digits>` as its number; any other shard id as it is. */
export function encodeShard(shard: string): string | number {
  const m = SHARD.exec(shard);
  return m ? Number(m[1]) : shard;
}

export function decodeShard(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x < 1e12) {
    return `shardId-${String(x).padStart(12, '0')}`;
  }
  return undefined;
}

const CANONICAL_POSITION = /^([1-9]\d*)(\.[1-9]\d*)?$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * A record position (record-position.ts: `<sequence>` or `<sequence>.<sub-index>`) as
 * `~<sequence in base64url>[.<sub-index>]`, or `=<as it is>` when not in canonical form.
 */
export function encodePosition(p: string): string {
  const m = CANONICAL_POSITION.exec(p);
  if (!m) return `=${p}`;
  return `~${denseDecimal(m[1]!)}${m[2] ?? ''}`;
}

export function decodePosition(x: unknown): string | undefined {
  if (typeof x !== 'string') return undefined;
  if (x.startsWith('=')) return x.slice(1);
  if (!x.startsWith('~')) return undefined;
  const dot = x.indexOf('.');
  const seq = decimalOf(x.slice(1, dot < 0 ? undefined : dot));
  return seq === undefined ? undefined : dot < 0 ? seq : seq + x.slice(dot);
}

/** A canonical decimal (no leading zero) as its big-endian bytes in base64url. */
function denseDecimal(digits: string): string {
  let hex = BigInt(digits).toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return Buffer.from(hex, 'hex').toString('base64url');
}

function decimalOf(dense: string): string | undefined {
  if (!BASE64URL.test(dense)) return undefined;
  const hex = Buffer.from(dense, 'base64url').toString('hex');
  return hex === '' ? undefined : BigInt(`0x${hex}`).toString();
}

const RECORD_ID = /^(shardId-\d{12}):([1-9]\d*(?:\.[1-9]\d*)?)$/;

/**
 * A record id `<shardId>:<position>` (late readings, transitions, action outcomes) as
 * `<shard number>:<dense position>`, or undefined when it is not of that form.
 */
export function encodeRecordId(id: string): string | undefined {
  const m = RECORD_ID.exec(id);
  return m ? `${encodeShard(m[1]!)}:${encodePosition(m[2]!).slice(1)}` : undefined;
}

export function decodeRecordId(x: string): string | undefined {
  const colon = x.indexOf(':');
  const shard = decodeShard(Number(x.slice(0, colon)));
  const position = colon > 0 ? decodePosition(`~${x.slice(colon + 1)}`) : undefined;
  return shard === undefined || position === undefined ? undefined : `${shard}:${position}`;
}

const scratch = Buffer.alloc(8);

/**
 * A double as itself when its decimal form is short, else its 8 bytes big-endian in
 * base64url without the trailing zero bytes (2 to 11 characters; exact either way).
 */
export function compactDouble(x: number): number | string {
  const decimal = String(x).length;
  if (decimal <= 3) return x;
  scratch.writeDoubleBE(x, 0);
  let n = 8;
  while (n > 1 && scratch[n - 1] === 0) n--;
  const dense = scratch.subarray(0, n).toString('base64url');
  return dense.length + 2 < decimal ? dense : x;
}

/** What compactDouble wrote; JSON's null for a non-finite double (as format 1 read it). */
export function fullDouble(x: unknown): number | null | undefined {
  if (typeof x === 'number' || x === null) return x;
  if (typeof x !== 'string' || x.length < 2 || x.length > 11 || !BASE64URL.test(x)) return undefined;
  const bytes = Buffer.from(x, 'base64url');
  if (bytes.length > 8) return undefined;
  scratch.fill(0);
  bytes.copy(scratch);
  return scratch.readDoubleBE(0);
}

const exactDifference = (x: number, base: number) =>
  Number.isSafeInteger(x) && Number.isSafeInteger(base) && Number.isSafeInteger(x - base);

/** An event time as `x - base` when exact (integers, as event times are), else `[x]`. */
export function relativeTo(x: number, base: number | null): number | [number] {
  return base !== null && exactDifference(x, base) ? x - base : [x];
}

export function absoluteTime(x: unknown, base: number | null): number | undefined {
  if (Array.isArray(x) && x.length === 1 && typeof x[0] === 'number') return x[0];
  return typeof x === 'number' && base !== null ? base + x : undefined;
}

/** A rule's cooldown buckets (integers a few apart) as the first and the steps from it, or `[[...]]`. */
export function encodeBuckets(b: readonly number[]): unknown[] {
  const first = b[0];
  if (first === undefined) return [];
  return b.every((x) => exactDifference(x, first)) ? b.map((x, i) => (i === 0 ? x : x - first)) : [b.slice()];
}

export function bucketsOf(x: unknown): number[] | undefined {
  if (!Array.isArray(x)) return undefined;
  if (Array.isArray(x[0]))
    return x.length === 1 && x[0].every((b) => typeof b === 'number') ? x[0] : undefined;
  if (!x.every((d) => typeof d === 'number')) return undefined;
  const first = x[0] as number;
  return x.map((d: number, i) => (i === 0 ? first : first + d));
}
