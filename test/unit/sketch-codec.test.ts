/**
 * Percentiles (issue 17, clause drafted for SEMANTICS.md): the sketch's text form in
 * the state item. It round-trips exactly, equal sketches have equal texts whatever the
 * arrival order, it is small (the bytes per open window the design note states), and a
 * damaged text is refused with a message naming what is wrong.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSketch,
  decodeSketchBytes,
  encodeSketch,
  encodeSketchBytes,
  SketchDecodeError,
} from '../../functions/domain/sketch/codec.js';
import { KEY_OFFSET, sketchSpec } from '../../functions/domain/sketch/sketch.js';
import { domainValue, sketchOf } from './sketch-values.js';

fc.configureGlobal({ interruptAfterTimeLimit: 20_000 });

const SPECS = [
  sketchSpec(),
  sketchSpec({ accuracy: 0.0001, maxBuckets: 2048 }),
  sketchSpec({ maxBuckets: 16 }),
];

describe('Percentiles: the text form round-trips and does not depend on arrival order', () => {
  it.each(SPECS.map((spec) => ({ spec, label: `${spec.accuracy}/${spec.maxBuckets}` })))(
    'decode(encode(s)) is s, and a permutation encodes to the same text ($label)',
    ({ spec }) => {
      fc.assert(
        fc.property(fc.array(fc.tuple(domainValue, fc.nat()), { maxLength: 200, size: 'max' }), (pairs) => {
          const s = sketchOf(
            pairs.map(([v]) => v),
            spec,
          );
          const shuffled = sketchOf(
            [...pairs].sort((a, b) => a[1] - b[1]).map(([v]) => v),
            spec,
          );
          const text = encodeSketch(s);
          const back = decodeSketch(text);
          return (
            encodeSketch(shuffled) === text &&
            back.spec === s.spec &&
            JSON.stringify([back.keys, back.counts]) === JSON.stringify([s.keys, s.counts])
          );
        }),
      );
    },
  );

  it('is base64url text, safe inside the JSON body of the state item', () => {
    const text = encodeSketch(sketchOf([-3, 0, 21.5, 1e100], sketchSpec()));
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(JSON.stringify({ s: text })).s).toBe(text);
  });
});

describe('Percentiles: bytes per (window, metric) at the default accuracy 0.01 and 128 buckets', () => {
  const spec = sketchSpec();
  const size = (values: number[]) => encodeSketchBytes(sketchOf(values, spec)).length;
  const minute = (spread: number) =>
    Array.from({ length: 60 }, (_, i) => Math.round(210 + spread * 10 * Math.sin(i / 3)) / 10);

  it('empty: 6 bytes of header; one value: 11 bytes, 15 characters of text', () => {
    expect(size([])).toBe(6);
    expect(size([21.5])).toBe(11);
    expect(encodeSketch(sketchOf([21.5], spec)).length).toBe(15);
  });

  it('a minute of a 1 Hz thermometer (0.1 resolution): 13 bytes at 0.5 degrees of spread, 21 at 2', () => {
    expect(size(minute(0.25))).toBe(13);
    expect(size(minute(1))).toBe(21);
  });

  it('a full sketch (128 buckets) is under 300 bytes, about two bytes a bucket', () => {
    const full = sketchOf(
      Array.from({ length: 6_000 }, (_, i) => Math.round(100 * Math.sin(i / 300)) / 10),
      spec,
    );
    expect(full.keys.length).toBe(128);
    expect(encodeSketchBytes(full).length).toBeLessThan(300);
  });

  it('never more than 6 + 6 bytes a bucket (4 of key, 2 of count) below 16,384 values', () => {
    fc.assert(
      fc.property(fc.array(domainValue, { maxLength: 2_000, size: 'max' }), (values) => {
        const s = sketchOf(values, spec);
        return encodeSketchBytes(s).length <= 6 + 6 * s.keys.length;
      }),
      { numRuns: 30 },
    );
  });
});

describe('Percentiles: a damaged sketch text is refused, naming the problem', () => {
  const good = encodeSketchBytes(sketchOf([1, 2, 3], sketchSpec()));
  const cases: [string, Uint8Array | string, string][] = [
    ['not base64url', 'ab+/', 'not base64url'],
    ['another version', Uint8Array.from([2, ...good.slice(1)]), 'sketch version 2 is not 1'],
    ['truncated', good.slice(0, good.length - 1), 'sketch ends inside count 2'],
    ['trailing bytes', Uint8Array.from([...good, 0]), 'trailing bytes'],
    [
      'an accuracy outside the range',
      Uint8Array.from([1, 0, 128, 1, 0]),
      'sketch header: percentileAccuracy',
    ],
    [
      'more buckets than its limit',
      Uint8Array.from([1, 0x90, 0x4e, 16, 17]),
      '17 buckets, over its limit 16',
    ],
    ['a repeated key', Uint8Array.from([1, 0x90, 0x4e, 16, 2, 2, 1, 0, 1]), 'key 1 repeats the previous one'],
    ['a zero count', Uint8Array.from([1, 0x90, 0x4e, 16, 1, 2, 0]), 'bucket 0 has count 0'],
    [
      'a key out of range',
      Uint8Array.from([1, 0x90, 0x4e, 16, 1, 0xff, 0xff, 0xff, 0x7f, 1]),
      'out of range',
    ],
    [
      'a varint over 8 bytes',
      Uint8Array.from([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]),
      '8 bytes',
    ],
  ];

  it.each(cases)('%s', (_, input, message) => {
    const decode = () => (typeof input === 'string' ? decodeSketch(input) : decodeSketchBytes(input));
    expect(decode).toThrow(SketchDecodeError);
    expect(decode).toThrow(message);
  });

  it('accepts the largest keys a sketch can hold', () => {
    const s = sketchOf([Number.MAX_VALUE, -Number.MAX_VALUE, 5e-324], sketchSpec({ accuracy: 0.0001 }));
    expect(Math.max(...s.keys.map(Math.abs))).toBeLessThan(2 * KEY_OFFSET);
    expect(decodeSketch(encodeSketch(s)).keys).toEqual(s.keys);
  });
});
