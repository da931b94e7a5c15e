/**
 * Lambda entry point of the window handler (Kinesis event source, ReportBatchItemFailures).
 * Everything is built once per cold start; configuration errors fail the cold start.
 */
import { parseHandlerEnv } from '../lib/env.js';
import { buildHandler } from './build.js';

export const handler = buildHandler(parseHandlerEnv());
