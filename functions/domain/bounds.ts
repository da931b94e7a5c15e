/**
 * The bounds that keep a sensor's state item under DynamoDB's 400 KB (docs/SEMANTICS.md
 * "Bounds"): how the item's body is measured, the sizes a commit aims for and may not
 * pass, the ceiling on open windows, and the configuration check that the ceiling's
 * windows fit. The store (functions/lib/state-store.ts) serialises the body with
 * `stateBody`, so what is measured here is what is written.
 */
import { WindowpaneError } from './errors.js';
import type { SensorState } from './state.js';
import { encodeStateBody } from './state-codec.js';

/** DynamoDB's item size limit: 400 KB, counted as UTF-8 bytes of names and values. */
export const DYNAMODB_ITEM_LIMIT_BYTES = 409_600;

/**
 * The most a state item's `body` may hold. The 29,600 bytes to the item limit carry the
 * item's other attributes (a sensor id of at most 256 characters, at most 1,024 bytes, and
 * six short attributes: under 1.5 KB) with room to spare.
 */
export const MAX_STATE_BYTES = 380_000;

/**
 * What a commit aims for: readings are folded into one commit while the body stays at or
 * under this. The 80,000 bytes to MAX_STATE_BYTES are the growth of one reading, the
 * smallest step a commit can take (a reading that closes every open window moves them
 * all into the outbox).
 */
export const COMMIT_TARGET_BYTES = 300_000;

/**
 * What the alarm-mode rules' kind states of one sensor may declare together (B5; rules/kind.ts
 * `maxStateBytes`), reserved out of the commit target before open windows are fitted. Two
 * zscore windows of the largest count (500 values, 12.5 KB each) or one span window at its
 * cap (500 values and times, 25 KB) fit, with room; the small fixed states (a previous value,
 * an EWMA's four numbers) and the alarm entries ride in the margin to MAX_STATE_BYTES.
 */
export const RULE_STATE_BUDGET_BYTES = 50_000;

/** Default and range of `maxOpenWindows` (config.ts). */
export const DEFAULT_MAX_OPEN_WINDOWS = 100;
export const MAX_OPEN_WINDOWS_LIMIT = 1_000;

/**
 * Bytes one open window may take in the body, both as an open window and as the final
 * window it becomes in the outbox (a reading can close every open window at once).
 * Measured on the body as a JSON object (format 1): an open window of one metric with
 * squares is ~250 bytes, its final window ~320 with an 8-character sensor id; the allowance
 * adds room for longer ids (64 characters) and for sums that need a few partials. The
 * compact body (format 2, state-codec.ts) takes under half of that (~90 and ~140 bytes; its
 * final windows name the sensor as `~`), so the allowance is an upper bound for it.
 */
export function openWindowAllowanceBytes(metrics: readonly string[], stddev: boolean): number {
  let bytes = 400;
  for (const metric of metrics) bytes += 2 * metric.length + (stddev ? 400 : 250);
  return bytes;
}

/**
 * The largest `maxOpenWindows` whose windows fit in the commit target with these metrics,
 * beside the rule-state budget.
 */
export function maxOpenWindowsFor(metrics: readonly string[], stddev: boolean): number {
  return Math.floor(
    (COMMIT_TARGET_BYTES - RULE_STATE_BUDGET_BYTES) / openWindowAllowanceBytes(metrics, stddev),
  );
}

/**
 * The stored `body` of a state item: everything but the attributes kept beside it, in the
 * compact encoding of state-codec.ts.
 */
export function stateBody(state: SensorState): string {
  return encodeStateBody(state);
}

/** UTF-8 size of a body: what DynamoDB counts. */
export function bodyBytes(body: string): number {
  return Buffer.byteLength(body, 'utf8');
}

/**
 * A sensor reached `maxOpenWindows`: its oldest open windows were finalised early (as by a
 * flush up to their end), so later readings for them are late. Logged with the sensor and
 * counted by the WindowsFinalisedEarly metric; nothing is lost.
 */
export class OpenWindowLimitError extends WindowpaneError {
  readonly sensorId: string;
  readonly limit: number;
  readonly finalisedEarly: number;

  constructor(options: { sensorId: string; limit: number; finalisedEarly: number }) {
    super(
      `sensor "${options.sensorId}" reached maxOpenWindows ${options.limit}: its ${options.finalisedEarly} oldest open window(s) were finalised early; later readings for them are late`,
    );
    this.sensorId = options.sensorId;
    this.limit = options.limit;
    this.finalisedEarly = options.finalisedEarly;
  }
}
