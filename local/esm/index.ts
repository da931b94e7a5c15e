/**
 * The local Kinesis event source mapping: runs a Lambda handler against a stream with
 * Lambda's batching, retry, bisect, partial-failure, on-failure and resharding rules.
 */
export * from './mapping.js';
export * from './policy.js';
export * from './progress.js';
export * from './records.js';
export * from './response.js';
export * from './tumbling.js';
