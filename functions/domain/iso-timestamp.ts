/**
 * Timestamps written as text (docs/SEMANTICS.md "Reading"): ISO-8601 with a zone, read
 * into epoch milliseconds without Date.parse, whose accepted forms are wider than the
 * contract and differ between engines.
 */

// ISO-8601 extended format with a zone: date, `T`, hh:mm[:ss[.fraction]], then `Z` or an
// offset ±hh[:mm] / ±hhmm. This is the RFC 3339 profile plus the offset spellings
// Python's strftime("%z") and ISO itself allow. Zone-less strings are rejected because
// their instant depends on the reader's clock zone; RFC 2822 dates and other forms
// Date.parse happens to accept are rejected because they are not the contract.
const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;
const ISO_LOCAL = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?$/;
const DIGITS = /^[+-]?\d+(?:\.\d+)?$/;

/** Epoch ms for a valid ISO-8601 timestamp with zone, or a message saying what is wrong. */
export function parseIsoTimestamp(text: string): number | string {
  const m = ISO_TIMESTAMP.exec(text);
  if (m === null) {
    if (DIGITS.test(text)) return 'is a numeric string; send epoch ms as a JSON number';
    if (ISO_LOCAL.test(text)) return 'has no zone (add Z or an offset such as +01:00)';
    return 'is not an ISO-8601 timestamp with zone';
  }
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  // Sub-millisecond digits are truncated, as Date.parse does.
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12) return `has month ${m[2]}`;
  if (day < 1 || day > daysInMonth(year, month)) return `has day ${m[3]}, not a day of ${m[1]}-${m[2]}`;
  // 24:00 and leap second 60 are legal ISO spellings but name instants we would have to
  // reinterpret; senders emit 00:00 of the next day and :59 instead.
  if (hour > 23) return `has hour ${m[4]}`;
  if (minute > 59) return `has minute ${m[5]}`;
  if (second > 59) return `has second ${m[6]}`;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = m[11] === undefined ? 0 : Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return 'has an offset outside ±23:59';
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const ms =
    daysFromCivil(year, month, day) * 86_400_000 +
    hour * 3_600_000 +
    minute * 60_000 +
    second * 1_000 +
    millis -
    offsetMinutes * 60_000;
  return ms;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
 * Used instead of Date.UTC, which maps years 0..99 to 1900..1999.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/**
 * `parseIsoTimestamp` for the spelling producers use, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`,
 * read from ASCII bytes `data[from, to)` without making a string: the same epoch ms
 * when that spelling denotes a valid instant, undefined for anything else (the caller
 * then asks `parseIsoTimestamp`, which also says what is wrong).
 */
export function parseUtcTimestampBytes(data: Uint8Array, from: number, to: number): number | undefined {
  const length = to - from;
  if (length < 20 || data[to - 1] !== 0x5a /* Z */) return undefined;
  const at = (offset: number, width: number): number => {
    let n = 0;
    for (let k = from + offset; k < from + offset + width; k++) {
      const d = data[k]! - 0x30;
      if (d < 0 || d > 9) return -1;
      n = n * 10 + d;
    }
    return n;
  };
  if (data[from + 4] !== 0x2d || data[from + 7] !== 0x2d || data[from + 10] !== 0x54 /* T */)
    return undefined;
  if (data[from + 13] !== 0x3a || data[from + 16] !== 0x3a) return undefined;
  const year = at(0, 4);
  const month = at(5, 2);
  const day = at(8, 2);
  const hour = at(11, 2);
  const minute = at(14, 2);
  const second = at(17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  let millis = 0;
  if (length > 20) {
    // `.` and at least one digit; sub-millisecond digits are truncated, as the regex path does.
    const digits = length - 21;
    if (data[from + 19] !== 0x2e /* . */ || digits < 1 || at(20, digits) < 0) return undefined;
    const kept = Math.min(3, digits);
    millis = at(20, kept) * 10 ** (3 - kept);
  }
  return (
    daysFromCivil(year, month, day) * 86_400_000 +
    hour * 3_600_000 +
    minute * 60_000 +
    second * 1_000 +
    millis
  );
}
