/**
 * Event-time window assignment and finality (SEMANTICS.md "Windows" and "Event time,
 * lateness, finality"). Pure arithmetic on epoch milliseconds.
 */
import type { WindowSpec } from './config.js';

export interface WindowBounds {
  /** Inclusive start, epoch ms. */
  start: number;
  /** Exclusive end, epoch ms. */
  end: number;
}

/** Stable identifier of a window definition, e.g. `tumbling:60000`. */
export function specId(spec: WindowSpec): string {
  return `${spec.type}:${spec.sizeMs}`;
}

/** Tumbling windows aligned to the epoch: start = floor(t / S) * S, end exclusive. */
export function assignTumbling(sizeMs: number, timestamp: number): WindowBounds {
  const start = Math.floor(timestamp / sizeMs) * sizeMs;
  return { start, end: start + sizeMs };
}

/** The windows of `spec` that contain `timestamp`. */
export function assignWindows(spec: WindowSpec, timestamp: number): WindowBounds[] {
  return [assignTumbling(spec.sizeMs, timestamp)];
}

/**
 * A window is final once the sensor's watermark has passed its end by the allowed
 * lateness, or once a flush (end of replay, idle sensor) closed every window ending at
 * or before `flushedThrough`.
 */
export function isFinal(
  end: number,
  watermark: number | null,
  allowedLatenessMs: number,
  flushedThrough: number | null = null,
): boolean {
  if (flushedThrough !== null && end <= flushedThrough) return true;
  return watermark !== null && watermark >= end + allowedLatenessMs;
}

const KEY_WIDTH = 16; // epoch ms fit in 16 digits until the year 318857

/**
 * Results-table sort key: `<spec id>#<start>`, with the start zero-padded so keys of one
 * spec sort by time. Negative starts (before 1970) sort before positive ones.
 */
export function windowKey(spec: string, start: number): string {
  const digits = String(Math.abs(start)).padStart(KEY_WIDTH, '0');
  return `${spec}#${start < 0 ? '-' : ''}${digits}`;
}
