/**
 * The exactly-once fence extended to KPL sub-records (functions/domain/record-position.ts):
 * positions order by (sequence number, sub-index), and a fence that keeps the last applied
 * position recognises every redelivered user record, whatever the batching and retries.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  comparePosition,
  formatPosition,
  InvalidRecordPositionError,
  isAlreadyApplied,
  MAX_SUB_INDEX,
  padPosition,
  parsePosition,
  position,
  type RecordPosition,
} from '../../functions/domain/record-position.js';

const LONG = '49590338271490256608559692538361571095921575989136588898';

describe('record position: order is sequence number, then sub-index', () => {
  it.each([
    [position('5'), position('5', 1), -1],
    [position('5', 1), position('5', 10), -1],
    [position('5', 10), position('6'), -1],
    [position('10'), position('9', 99), 1],
    [position(LONG, 3), position(LONG, 3), 0],
    [position(LONG), position(`${LONG}1`), -1],
  ])('%o vs %o', (a, b, sign) => {
    expect(Math.sign(comparePosition(a, b))).toBe(sign);
    expect(Math.sign(comparePosition(b, a))).toBe(sign === 0 ? 0 : -sign);
  });
});

describe('record position: plain records keep the stored form they have today', () => {
  it('a plain record is its bare sequence number, padded as sequence.ts pads it', () => {
    expect(formatPosition(position(LONG))).toBe(LONG);
    expect(parsePosition(LONG)).toEqual({ sequence: LONG, subIndex: 0 });
    expect(padPosition(position('42'))).toBe('42'.padStart(129, '0'));
  });

  it('a user record of an aggregate is S.k', () => {
    expect(formatPosition(position(LONG, 7))).toBe(`${LONG}.7`);
    expect(parsePosition(`${LONG}.7`)).toEqual({ sequence: LONG, subIndex: 7 });
    expect(padPosition(position('42', 7))).toBe(`${'42'.padStart(129, '0')}.0000000007`);
  });

  it.each([
    ['5.0', 'one spelling per position'],
    ['5.01', 'leading zero'],
    ['5.', 'empty sub-index'],
    ['.1', 'empty sequence number'],
    ['05.1', 'leading zero in the sequence number'],
    ['5.x', 'not digits'],
    ['5.1.2', 'two dots'],
    [`5.${MAX_SUB_INDEX + 1}`, 'beyond 2^32 - 1'],
    ['', 'empty'],
  ])('refuses %j (%s)', (text) => {
    expect(() => parsePosition(text)).toThrow(InvalidRecordPositionError);
  });

  it('refuses a negative or fractional sub-index', () => {
    expect(() => position('5', -1)).toThrow(InvalidRecordPositionError);
    expect(() => position('5', 1.5)).toThrow(InvalidRecordPositionError);
  });

  const anyPosition = fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 60n }), fc.nat({ max: MAX_SUB_INDEX }))
    .map(([seq, sub]) => position(seq.toString(), sub));

  it('format and parse round-trip (property)', () => {
    fc.assert(
      fc.property(anyPosition, (p) => {
        expect(parsePosition(formatPosition(p))).toEqual(p);
      }),
    );
  });

  it('padded forms sort as positions do (property)', () => {
    fc.assert(
      fc.property(anyPosition, anyPosition, (a, b) => {
        const byString = padPosition(a) < padPosition(b) ? -1 : padPosition(a) > padPosition(b) ? 1 : 0;
        expect(byString).toBe(Math.sign(comparePosition(a, b)));
      }),
    );
  });
});

/**
 * One sensor's user records on one shard, in delivery order: plain records and aggregates
 * of random sizes (the sensor's records inside an aggregate are not contiguous indexes:
 * other sensors' records sit between them).
 */
const shardPositions = fc
  .array(
    fc.oneof(
      fc.constant([0]),
      fc.uniqueArray(fc.nat({ max: 50 }), { minLength: 1, maxLength: 8 }).map((s) => s.sort((a, b) => a - b)),
    ),
    { minLength: 1, maxLength: 30 },
  )
  .map((records) => records.flatMap((subs, i) => subs.map((sub) => position(String(1000 + i * 7), sub))));

/**
 * A consumer that commits the fence in chunks of `chunk` records (maxRecordsPerCommit) and
 * crashes after `crashAfter` commits; Lambda then redelivers from an earlier checkpoint
 * (`rewind` records back, never before the start). The fence alone must make the outcome
 * exactly-once.
 */
function run(positions: RecordPosition[], chunk: number, crashes: { crashAfter: number; rewind: number }[]) {
  let fence: string | undefined;
  const applied: RecordPosition[] = [];
  let duplicates = 0;
  let from = 0;
  for (const crash of [...crashes, undefined]) {
    let commits = 0;
    let i = from;
    for (; i < positions.length; i += chunk) {
      if (crash !== undefined && commits === crash.crashAfter) break;
      for (const p of positions.slice(i, i + chunk)) {
        if (isAlreadyApplied(p, fence)) {
          duplicates++;
          continue;
        }
        applied.push(p);
        fence = formatPosition(p);
      }
      commits++;
    }
    from = Math.max(0, Math.min(i, positions.length) - (crash?.rewind ?? 0));
  }
  return { applied, duplicates };
}

describe('record position: the fence applies every user record exactly once', () => {
  it('under any chunking, crash and redelivery (property)', () => {
    const crash = fc.record({ crashAfter: fc.nat({ max: 5 }), rewind: fc.nat({ max: 40 }) });
    fc.assert(
      fc.property(
        shardPositions,
        fc.integer({ min: 1, max: 12 }),
        fc.array(crash, { maxLength: 4 }),
        (ps, n, cs) => {
          const { applied } = run(ps, n, cs);
          expect(applied).toEqual(ps);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a redelivered sub-record after its aggregate was cut over two commits is a duplicate', () => {
    const aggregate = [0, 1, 2, 3].map((sub) => position('777', sub));
    // First commit applied sub-records 0 and 1; the retry delivers the whole aggregate again.
    const fence = formatPosition(aggregate[1]!);
    expect(aggregate.map((p) => isAlreadyApplied(p, fence))).toEqual([true, true, false, false]);
  });

  it('the sequence number alone would have dropped the second sub-record', () => {
    // What fold.ts's fence does today: compare sequence numbers only.
    const first = position('777', 0);
    const second = position('777', 1);
    expect(second.sequence === first.sequence).toBe(true);
    expect(isAlreadyApplied(second, formatPosition(first))).toBe(false);
  });

  it('a fence stored by today’s handler (a bare sequence number) reads as sub-index 0', () => {
    expect(isAlreadyApplied(position('100'), '100')).toBe(true);
    expect(isAlreadyApplied(position('101', 0), '100')).toBe(false);
    expect(isAlreadyApplied(position('101', 5), '100')).toBe(false);
    expect(isAlreadyApplied(position('99', 5), '100')).toBe(true);
  });

  it('nothing applied from the shard yet: everything applies', () => {
    expect(isAlreadyApplied(position('1', 3), undefined)).toBe(false);
  });
});
