/**
 * The replay contract's `windows.jsonl` format: one line per metric of a final window.
 * It is an output format of the local tools (replay, start), not part of the domain: the
 * handler stores `FinalWindow`s with all their metrics in one item.
 */
import type { AggregateSummary } from '../functions/domain/aggregate.js';
import type { WindowSpec } from '../functions/domain/config.js';
import type { FinalWindow } from '../functions/domain/state.js';

/** One line of `windows.jsonl` per metric of a final window (the replay contract). */
export interface WindowLine extends AggregateSummary {
  sensorId: string;
  metric: string;
  windowType: WindowSpec['type'];
  windowSizeMs: number;
  windowSlideMs?: number;
  windowGapMs?: number;
  windowStart: number;
  windowEnd: number;
}

/** Tumbling lines carry exactly the contract's fields; sliding add the slide, sessions the gap. */
export function windowLines(final: FinalWindow): WindowLine[] {
  return Object.entries(final.metrics).map(([metric, s]) => ({
    sensorId: final.sensorId,
    metric,
    windowType: final.windowType,
    windowSizeMs: final.windowSizeMs,
    ...(final.windowSlideMs !== undefined ? { windowSlideMs: final.windowSlideMs } : {}),
    ...(final.windowGapMs !== undefined ? { windowGapMs: final.windowGapMs } : {}),
    windowStart: final.windowStart,
    windowEnd: final.windowEnd,
    ...s,
  }));
}
