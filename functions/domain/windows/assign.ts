/**
 * Event-time window assignment and finality (docs/SEMANTICS.md "Windows" and "Event time,
 * lateness, finality"). Pure arithmetic on epoch milliseconds. Session windows depend on
 * the other readings of the sensor, so they are assigned (and merged) in sessions.ts.
 */
import type { SlidingWindowSpec, TumblingWindowSpec, WindowSpec } from '../config.js';

export interface WindowBounds {
  /** Inclusive start, epoch ms. */
  start: number;
  /** Exclusive end, epoch ms. */
  end: number;
}

/** Stable identifier of a window definition: `tumbling:60000`, `sliding:300000:60000`, `session:30000`. */
export function specId(spec: WindowSpec): string {
  switch (spec.type) {
    case 'tumbling':
      return `tumbling:${spec.sizeMs}`;
    case 'sliding':
      return `sliding:${spec.sizeMs}:${spec.slideMs}`;
    case 'session':
      return `session:${spec.gapMs}`;
  }
}

/** Tumbling windows aligned to the epoch: start = floor(t / S) * S, end exclusive. */
export function assignTumbling(sizeMs: number, timestamp: number): WindowBounds {
  const start = Math.floor(timestamp / sizeMs) * sizeMs;
  return { start, end: start + sizeMs };
}

/**
 * Sliding (hopping) windows of size S every H, aligned to the epoch: the S / H windows
 * `[k*H, k*H + S)` that contain the timestamp, oldest first.
 */
export function assignSliding(sizeMs: number, slideMs: number, timestamp: number): WindowBounds[] {
  const last = Math.floor(timestamp / slideMs) * slideMs;
  const windows: WindowBounds[] = [];
  for (let start = last - sizeMs + slideMs; start <= last; start += slideMs) {
    windows.push({ start, end: start + sizeMs });
  }
  return windows;
}

/** The windows of a fixed (tumbling or sliding) definition that contain `timestamp`. */
export function assignWindows(
  spec: TumblingWindowSpec | SlidingWindowSpec,
  timestamp: number,
): WindowBounds[] {
  return spec.type === 'tumbling'
    ? [assignTumbling(spec.sizeMs, timestamp)]
    : assignSliding(spec.sizeMs, spec.slideMs, timestamp);
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
