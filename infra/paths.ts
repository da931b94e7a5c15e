/** Where the CDK app finds the repository and the Lambda entry points it bundles. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const WINDOW_HANDLER_ENTRY = path.join(REPO_ROOT, 'functions', 'window-handler', 'handler.ts');
export const IDLE_SWEEPER_ENTRY = path.join(REPO_ROOT, 'functions', 'idle-sweeper', 'handler.ts');
export const SHARD_SCALER_ENTRY = path.join(REPO_ROOT, 'functions', 'shard-scaler', 'handler.ts');
export const LOCK_FILE = path.join(REPO_ROOT, 'package-lock.json');
