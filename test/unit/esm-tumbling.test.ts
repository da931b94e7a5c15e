/**
 * The local mapping's tumbling window (local/esm/tumbling.ts) without AWS: epoch-aligned
 * windows, when a window's final invocation is due, and how a response's state is read.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../functions/domain/config.js';
import type { QueuedRecord } from '../../local/esm/lane.js';
import type { Runtime } from '../../local/esm/runtime.js';
import { MAX_WINDOW_STATE_BYTES, TumblingWindow, windowStartMs } from '../../local/esm/tumbling.js';

const T = Date.UTC(2026, 11, 2, 18, 0, 0);

function runtime(): Runtime {
  return {
    settings: { ...DEFAULT_CONFIG.eventSource, tumblingWindowSeconds: 60 },
    stats: { windowsTerminatedEarly: 0, windowStatesDropped: 0, finalInvokes: 0 },
    opts: {},
    streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
    log: () => undefined,
  } as unknown as Runtime;
}

const record = (arrivalMs: number) => ({ arrivalMs }) as QueuedRecord;
const open = { readToEnd: false, inputExhausted: false };

describe('tumbling windows of the local event source mapping', () => {
  it('aligns windows to the epoch', () => {
    expect(windowStartMs(T + 59_999, 60)).toBe(T);
    expect(windowStartMs(T + 60_000, 60)).toBe(T + 60_000);
    expect(windowStartMs(T - 1, 60)).toBe(T - 60_000);
  });

  it('opens on the first batch with state {} and ISO bounds, and is due at the next window, its end, or the producer done; never for a shard read to its end', () => {
    const w = new TumblingWindow(runtime(), 'shardId-000000000000');
    expect(w.finalDue(record(T + 120_000), T, open)).toBe(false); // nothing open yet
    const fields = w.batchFields(record(T + 5_000));
    expect(fields).toMatchObject({
      window: { start: '2026-12-02T18:00:00Z', end: '2026-12-02T18:01:00Z' },
      state: {},
      isFinalInvokeForWindow: false,
      isWindowTerminatedEarly: false,
    });
    expect(w.finalDue(record(T + 59_000), T + 10_000, open)).toBe(false);
    expect(w.finalDue(record(T + 60_000), T + 10_000, open)).toBe(true);
    expect(w.finalDue(undefined, T + 59_999, open)).toBe(false);
    expect(w.finalDue(undefined, T + 60_000, open)).toBe(true);
    expect(w.finalDue(undefined, T + 10_000, { readToEnd: false, inputExhausted: true })).toBe(true);
    expect(w.finalDue(undefined, T + 60_000, { readToEnd: true, inputExhausted: true })).toBe(false);
    expect(w.waitMs(T + 10_000)).toBe(50_000);
  });

  it('advances the state only on an answer with a state object; past 1 MB the window ends early', () => {
    const rt = runtime();
    const w = new TumblingWindow(rt, 'shardId-000000000000');
    w.batchFields(record(T));
    const ok = { kind: 'ok' } as const;
    expect(w.settle(ok, { batchItemFailures: [] })).toMatchObject({ kind: 'error', functionError: false });
    expect(w.settle(ok, undefined)).toMatchObject({ kind: 'error' });
    expect(w.batchFields(record(T)).state).toEqual({});
    expect(w.settle(ok, { state: { n: 1 } })).toEqual(ok);
    expect(w.batchFields(record(T)).state).toEqual({ n: 1 });
    expect(w.finalDue(record(T), T, open)).toBe(false);
    w.settle(ok, { state: { pad: 'x'.repeat(MAX_WINDOW_STATE_BYTES) } });
    expect(rt.stats.windowsTerminatedEarly).toBe(1);
    expect(w.finalDue(record(T), T, open)).toBe(true);
  });
});
