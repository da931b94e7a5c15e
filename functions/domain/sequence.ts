/**
 * Kinesis sequence numbers: decimal strings of up to 129 digits (Kinesis API: pattern
 * `0|([1-9]\d{0,128})`), beyond both JavaScript's safe integers and DynamoDB's 38-digit
 * numbers. In memory they are compared as numbers without conversion (shorter is
 * smaller, equal lengths compare as strings); in DynamoDB they are stored left-padded to
 * one width, so that plain string comparison there is numeric too.
 */
export const SEQUENCE_WIDTH = 129;

export class InvalidSequenceNumberError extends Error {
  constructor(value: string) {
    super(`not a Kinesis sequence number: "${value.slice(0, 140)}"`);
    this.name = 'InvalidSequenceNumberError';
  }
}

/** Throws unless `value` is a Kinesis sequence number: 1-129 digits, no leading zero. */
export function checkSequence(value: string): string {
  const n = value.length;
  // A character loop: this runs once per record, and is several times cheaper than a regex.
  let ok = n > 0 && n <= 129 && (n === 1 || value.charCodeAt(0) !== 0x30);
  for (let i = 0; ok && i < n; i++) {
    const c = value.charCodeAt(i);
    ok = c >= 0x30 && c <= 0x39;
  }
  if (!ok) throw new InvalidSequenceNumberError(value);
  return value;
}

/** Numeric order of two sequence numbers (as `checkSequence` accepts them). */
export function compareSequence(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function padSequence(sequenceNumber: string): string {
  if (!/^\d{1,129}$/.test(sequenceNumber)) throw new InvalidSequenceNumberError(sequenceNumber);
  return sequenceNumber.padStart(SEQUENCE_WIDTH, '0');
}

export function unpadSequence(padded: string): string {
  const trimmed = padded.replace(/^0+/, '');
  return trimmed === '' ? '0' : trimmed;
}

/** The shard id of a Lambda Kinesis record: `eventID` is `<shardId>:<sequenceNumber>`. */
export function shardIdOfEventId(eventId: string): string {
  const i = eventId.lastIndexOf(':');
  return i > 0 ? eventId.slice(0, i) : 'shardId-unknown';
}
