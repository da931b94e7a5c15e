/**
 * The compact text form of a quantile sketch, for the sensor's state item (whose body is
 * JSON, so the form is a base64url string): version 1, then unsigned LEB128 varints:
 *
 *   1 | accuracyPpm | maxBuckets | n | zigzag(key0) count0 | (key_i - key_i-1) count_i ...
 *
 * Keys are ascending, so every later key is a small positive delta: a bucket costs two
 * bytes while its count is below 128 and its neighbour within 127 ids. The header carries
 * the spec, so a state written under one configuration decodes the same under another.
 * A sketch's text is a function of its buckets, so equal sketches have equal texts.
 */
import { WindowpaneError } from '../errors.js';
import { KEY_OFFSET, MAX_BUCKETS, type QuantileSketch, SketchConfigError, sketchSpec } from './sketch.js';

const VERSION = 1;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Bucket ids are within +-(KEY_OFFSET + 4e6); anything further is not a sketch of ours. */
const MAX_KEY = 2 * KEY_OFFSET;

export class SketchDecodeError extends WindowpaneError {}

/**
 * One scratch buffer for every encoding: a sketch needs at most 4 * 4 header bytes and,
 * per bucket, 4 of key delta and 8 of count (the longest varint a safe integer needs).
 */
const scratch = Buffer.alloc(16 + 12 * MAX_BUCKETS);

function writeVarint(at: number, value: number): number {
  let v = value;
  let i = at;
  while (v >= 128) {
    scratch[i++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  scratch[i++] = v;
  return i;
}

function zigzag(v: number): number {
  return v < 0 ? -2 * v - 1 : 2 * v;
}

function unzigzag(v: number): number {
  return v % 2 === 1 ? -(v + 1) / 2 : v / 2;
}

/** Encodes into the scratch buffer; returns the length used. */
function encodeToScratch(sketch: QuantileSketch): number {
  scratch[0] = VERSION;
  let at = writeVarint(1, sketch.spec.accuracyPpm);
  at = writeVarint(at, sketch.spec.maxBuckets);
  at = writeVarint(at, sketch.keys.length);
  let previous = 0;
  for (let i = 0; i < sketch.keys.length; i++) {
    const key = sketch.keys[i]!;
    at = writeVarint(at, i === 0 ? zigzag(key) : key - previous);
    at = writeVarint(at, sketch.counts[i]!);
    previous = key;
  }
  return at;
}

export function encodeSketchBytes(sketch: QuantileSketch): Uint8Array {
  return new Uint8Array(scratch.subarray(0, encodeToScratch(sketch)));
}

export function encodeSketch(sketch: QuantileSketch): string {
  return scratch.toString('base64url', 0, encodeToScratch(sketch));
}

function label(what: string, index: number): string {
  return index < 0 ? what : `${what} ${index}`;
}

class Reader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  /** `what` and `index` name the field in an error; the name is only built on failure. */
  varint(what: string, index = -1): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.bytes[this.at++];
      if (byte === undefined) throw new SketchDecodeError(`sketch ends inside ${label(what, index)}`);
      value += (byte & 127) * scale;
      if (byte < 128) {
        if (value > Number.MAX_SAFE_INTEGER) {
          throw new SketchDecodeError(`sketch ${label(what, index)} is too large`);
        }
        return value;
      }
      scale *= 128;
    }
    throw new SketchDecodeError(`sketch ${label(what, index)} is longer than 8 bytes`);
  }

  done(): boolean {
    return this.at === this.bytes.length;
  }
}

export function decodeSketchBytes(bytes: Uint8Array): QuantileSketch {
  const reader = new Reader(bytes);
  const version = reader.varint('version');
  if (version !== VERSION) throw new SketchDecodeError(`sketch version ${version} is not ${VERSION}`);
  const accuracyPpm = reader.varint('accuracy');
  const maxBuckets = reader.varint('bucket limit');
  let spec: ReturnType<typeof sketchSpec>;
  try {
    spec = sketchSpec({ accuracy: accuracyPpm / 1e6, maxBuckets });
  } catch (err) {
    if (err instanceof SketchConfigError) throw new SketchDecodeError(`sketch header: ${err.message}`);
    throw err;
  }
  const n = reader.varint('bucket count');
  if (n > maxBuckets) throw new SketchDecodeError(`sketch has ${n} buckets, over its limit ${maxBuckets}`);
  const keys: number[] = [];
  const counts: number[] = [];
  let key = 0;
  for (let i = 0; i < n; i++) {
    const raw = reader.varint('key', i);
    if (i === 0) {
      key = unzigzag(raw);
    } else {
      if (raw === 0) throw new SketchDecodeError(`sketch key ${i} repeats the previous one`);
      key += raw;
    }
    if (Math.abs(key) > MAX_KEY) throw new SketchDecodeError(`sketch key ${i} (${key}) is out of range`);
    const count = reader.varint('count', i);
    if (count === 0) throw new SketchDecodeError(`sketch bucket ${i} has count 0`);
    keys.push(key);
    counts.push(count);
  }
  if (!reader.done()) throw new SketchDecodeError('sketch has trailing bytes');
  return { spec, keys, counts };
}

export function decodeSketch(text: string): QuantileSketch {
  if (!BASE64URL.test(text)) throw new SketchDecodeError('sketch text is not base64url');
  return decodeSketchBytes(Buffer.from(text, 'base64url'));
}
