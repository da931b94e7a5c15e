/**
 * The byte reader of the usual UTC spelling against `parseIsoTimestamp`, the reading of
 * every spelling the contract accepts: the same instant whenever the byte reader answers,
 * and an answer for every valid instant in that spelling.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIsoTimestamp, parseUtcTimestampBytes } from '../../functions/domain/iso-timestamp.js';

const encoder = new TextEncoder();
const two = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0'));

function agrees(text: string): boolean {
  const bytes = encoder.encode(`"${text}"`);
  const fast = parseUtcTimestampBytes(bytes, 1, bytes.length - 1);
  const full = parseIsoTimestamp(text);
  if (fast === undefined) return false;
  expect(fast).toBe(full);
  return true;
}

describe('parseUtcTimestampBytes', () => {
  it('reads YYYY-MM-DDTHH:MM:SS[.fraction]Z as parseIsoTimestamp does, answering for every valid one', () => {
    const text = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
        two,
        two,
        two,
        two,
        two,
        fc.option(fc.stringMatching(/^[0-9]{1,9}$/)),
      )
      .map(([y, mo, d, h, mi, s, f]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${f === null ? '' : `.${f}`}Z`);
    fc.assert(
      fc.property(text, (t) => {
        expect(agrees(t)).toBe(typeof parseIsoTimestamp(t) === 'number');
      }),
      { numRuns: 5_000 },
    );
  });

  it('leaves other spellings, and damaged ones, to parseIsoTimestamp', () => {
    for (const t of [
      '2026-01-01T00:00:00+00:00',
      '2026-01-01t00:00:00z',
      '2026-01-01T00:00:00,5Z',
      '2026-01-01T00:00Z',
      '2026-01-01T00:00:00.Z',
      '2026-02-29T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01 00:00:00Z',
      '2026-1-01T00:00:00.0Z',
    ]) {
      expect(agrees(t), t).toBe(false);
    }
    const char = fc.constantFrom(...'0123456789-:TZ.+ '.split(''));
    fc.assert(
      fc.property(fc.array(char, { minLength: 18, maxLength: 26 }), (chars) => {
        agrees(chars.join(''));
      }),
      { numRuns: 3_000 },
    );
  });
});
