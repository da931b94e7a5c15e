/** Lambda entry point of the idle sweeper (EventBridge schedule). */
import { parseHandlerEnv } from '../lib/env.js';
import { buildSweeper } from './build.js';

export const handler = buildSweeper(parseHandlerEnv());
