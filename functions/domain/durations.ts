/**
 * The ranges of windowpane's configured durations, in one place: each is a schema whose
 * messages and description state its range, so the README, `cdk.json` errors and the
 * handler's cold start all say the same thing.
 */
import { z } from 'zod';

export const SECOND_MS = 1_000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** The finest window `npm start --window` accepts, and the finest any window may be. */
export const MIN_WINDOW_MS = SECOND_MS;
/**
 * The longest window: windows align to the epoch, so calendar months cannot be expressed
 * anyway, and a longer period is better rolled up from the results table than held open
 * in every sensor's state item.
 */
export const MAX_WINDOW_MS = 31 * DAY_MS;
/** The longest session gap: beyond a day, one session would span a sensor's whole life. */
export const MAX_SESSION_GAP_MS = DAY_MS;
/** Alert cooldowns and the idle timeout: from a second to a day. */
export const MAX_COOLDOWN_MS = DAY_MS;
export const MAX_IDLE_TIMEOUT_MS = DAY_MS;
/** State and ledger TTLs: at most a year (the longest Kinesis retention, 8,760 h). */
export const MAX_TTL_DAYS = 365;

/** `60000 ms (1 min)`: the unit a person thinks in beside the number the schema holds. */
function human(ms: number): string {
  const units: [number, string][] = [
    [DAY_MS, 'd'],
    [HOUR_MS, 'h'],
    [MINUTE_MS, 'min'],
    [SECOND_MS, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}

/** A whole number of milliseconds in [min, max], with the range in its messages and description. */
export function durationMs(min: number, max: number, what: string) {
  const range = `${min} (${human(min)}) to ${max} (${human(max)})`;
  const message = `must be whole milliseconds from ${range}`;
  return z.number().int(message).min(min, message).max(max, message).describe(`${what}; ms, ${range}`);
}

export function ttlDays(what: string) {
  const message = `must be whole days from 1 to ${MAX_TTL_DAYS}`;
  return z
    .number()
    .int(message)
    .min(1, message)
    .max(MAX_TTL_DAYS, message)
    .describe(`${what}; 1 to ${MAX_TTL_DAYS}, and at least the stream's retention`);
}
