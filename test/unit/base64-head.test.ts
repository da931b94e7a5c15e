/**
 * `base64Head` against Node's own base64 decoder: whenever it answers, its bytes are the
 * first six Buffer.from decodes, for encoded records and for text that is not clean base64.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64Head } from '../../functions/ingest/base64-head.js';

function agrees(text: string): boolean {
  const head = base64Head(text);
  if (head === undefined) return false;
  const full = Buffer.from(text, 'base64');
  expect(full.length).toBeGreaterThanOrEqual(6);
  expect([...head]).toStrictEqual([...full.subarray(0, 6)]);
  return true;
}

describe('base64Head', () => {
  it('gives the first six bytes of every encoded record of six bytes or more', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
        const text = Buffer.from(bytes).toString('base64');
        expect(agrees(text)).toBe(bytes.length >= 6);
      }),
      { numRuns: 2_000 },
    );
  });

  it('answers only as Buffer.from decodes text with other characters', () => {
    const char = fc.constantFrom(...'ABCxyz019+/-_= \n.é'.split(''));
    fc.assert(
      fc.property(fc.array(char, { maxLength: 16 }), (chars) => {
        agrees(chars.join(''));
      }),
      { numRuns: 2_000 },
    );
    expect(base64Head('eyJzZW5z')).toBeDefined();
    expect(base64Head('eyJz ZW5z')).toBeUndefined();
    expect(base64Head('eyJ')).toBeUndefined();
  });
});
