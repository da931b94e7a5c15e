/**
 * Kinesis sequence numbers as fixed-width strings.
 *
 * Sequence numbers are decimal strings of up to 128 digits (Kinesis API: pattern
 * `0|([1-9]\d{0,128})`), beyond both JavaScript's safe integers and DynamoDB's 38-digit
 * numbers. Left-padding them to one width makes plain string comparison numeric, in
 * memory and in DynamoDB condition expressions alike.
 */
export const SEQUENCE_WIDTH = 129;

export class InvalidSequenceNumberError extends Error {
  constructor(value: string) {
    super(`not a Kinesis sequence number: "${value.slice(0, 140)}"`);
    this.name = 'InvalidSequenceNumberError';
  }
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
