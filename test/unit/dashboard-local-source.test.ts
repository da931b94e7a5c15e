/**
 * The local pipeline source turns one poll of the console's monitor into dashboard events:
 * the monitor's events as they are, open windows only when they changed, and a health
 * sample with the batch sizes since the previous one and, in chaos mode, the faults.
 */
import { describe, expect, it } from 'vitest';
import { buildTransition, type TransitionDraft } from '../../functions/domain/alarms/transition.js';
import { ChaosPlan } from '../../local/chaos/plan.js';
import { type LiveEvent, LiveMonitor } from '../../local/cli/monitor.js';
import type { AlarmView, DashboardEvent } from '../../local/dashboard/model.js';
import { LocalPipelineSource } from '../../local/dashboard/sources/local.js';
import { DashboardStore } from '../../local/dashboard/store.js';
import type { LocalPipeline } from '../../local/pipeline/index.js';
import { alert, finalWindow } from '../browser/fleet.js';

function setUp(chaos?: ChaosPlan) {
  // Only what the source reads of a pipeline: its mode, stream name and chaos figures.
  const pipeline = {
    mode: 'embedded',
    resources: { stream: { name: 'wp-readings' } },
    ...(chaos ? { chaos: { plan: chaos, handler: { stats: { duplicatesSuppressed: 4 } } } } : {}),
  } as unknown as LocalPipeline;
  const monitor = new LiveMonitor(pipeline, []);
  const source = new LocalPipelineSource({ pipeline, monitor, poll: 'external' });
  const pushed: DashboardEvent[][] = [];
  void source.start({ push: (events) => pushed.push([...events]) });
  return { monitor, source, pushed };
}

const open = {
  metric: 'temperature',
  windowType: 'tumbling',
  spec: 'tumbling:60000',
  start: 0,
  end: 60_000,
  count: 3,
  mean: 20,
  min: 19,
  max: 21,
};

describe('dashboard local pipeline source', () => {
  it('passes the monitor events on, open windows when they change, and a health sample per poll', () => {
    const { monitor, source, pushed } = setUp();
    expect(source.label).toBe('local pipeline (embedded emulators), stream wp-readings');
    const events: LiveEvent[] = [
      { kind: 'window', at: 1, window: finalWindow('sensor_1', 0, 20) },
      { kind: 'alert', at: 1, alert: alert('sensor_1', 'a1') },
    ];
    monitor.snapshot.current.set('sensor_1', open);
    monitor.snapshot.throughput = 12.5;
    monitor.snapshot.iteratorLagMs = 800;
    monitor.snapshot.processed = 40;
    source.onBatch({ records: 25 } as Parameters<typeof source.onBatch>[0]);
    source.onBatch({ records: 15 } as Parameters<typeof source.onBatch>[0]);
    source.observe(events, 1_000);
    expect(pushed[0]!.map((e) => e.kind)).toEqual(['window', 'alert', 'open', 'health']);
    const health = pushed[0]!.at(-1);
    expect(health).toMatchObject({
      kind: 'health',
      health: {
        at: 1_000,
        throughput: 12.5,
        iteratorAgeMs: 800,
        batchSizes: [25, 15],
        counters: { processed: 40 },
      },
    });
    // The same open window again is not news; batch sizes start over.
    source.observe([], 2_000);
    expect(pushed[1]!.map((e) => e.kind)).toEqual(['health']);
    expect(pushed[1]![0]).toMatchObject({ health: { batchSizes: [] } });
    monitor.snapshot.current.set('sensor_1', { ...open, count: 4 });
    source.observe([], 3_000);
    expect(pushed[2]!.map((e) => e.kind)).toEqual(['open', 'health']);
  });

  it('reports the injected faults in chaos mode', () => {
    const plan = new ChaosPlan(7);
    plan.injected('handlerCrash');
    plan.injected('handlerCrash');
    plan.injected('lambdaTimeout');
    const { source, pushed } = setUp(plan);
    source.observe([], 1);
    expect(pushed[0]![0]).toMatchObject({
      kind: 'health',
      health: { chaos: { total: 3, faults: { handlerCrash: 2, lambdaTimeout: 1, duplicatesSuppressed: 4 } } },
    });
  });

  it('turns alarm transitions into the alarm state the page shows: state, since, value, peak, by and note', () => {
    const { source, pushed } = setUp();
    const ctx = {
      sensorId: 'sensor_2',
      rule: 'overheat',
      ruleVersion: 3,
      ruleType: 'threshold',
      severity: 'critical' as const,
      metric: 'temperature',
    };
    const draft: TransitionDraft = {
      transition: 'ALARM',
      from: 'NORMAL',
      state: 'ACTIVE',
      at: 1_000,
      clock: 'event',
      since: 1_000,
      value: 36.5,
      peak: 36.5,
      peakAt: 1_000,
    };
    const raised = buildTransition({ ...ctx, seq: 1 }, draft);
    const acked = buildTransition(
      { ...ctx, seq: 2 },
      {
        ...draft,
        transition: 'ACKNOWLEDGED',
        from: 'ACTIVE',
        state: 'ACKNOWLEDGED',
        at: 5_000,
        clock: 'processing',
        peak: 39,
        by: 'ann',
        note: 'on my way',
      },
    );
    source.observe([
      { kind: 'alarm', at: 1, transition: raised },
      { kind: 'alarm', at: 1, transition: acked },
    ]);
    const alarms = pushed[0]!.flatMap((e) => (e.kind === 'alarm' ? [e.alarm] : []));
    const active: AlarmView = {
      id: 'overheat@sensor_2',
      sensorId: 'sensor_2',
      rule: 'overheat',
      ruleVersion: 3,
      state: 'ACTIVE',
      transition: 'ALARM',
      seq: 1,
      severity: 'critical',
      since: 1_000,
      value: 36.5,
      peak: 36.5,
    };
    expect(alarms).toEqual([
      active,
      {
        ...active,
        state: 'ACKNOWLEDGED',
        transition: 'ACKNOWLEDGED',
        seq: 2,
        since: 5_000,
        peak: 39,
        by: 'ann',
        note: 'on my way',
      },
    ]);
    // SNS is at-least-once and unordered: the store keeps the newest transition of an alarm.
    const store = new DashboardStore();
    store.push([
      { kind: 'alarm', alarm: alarms[1]! },
      { kind: 'alarm', alarm: alarms[0]! },
    ]);
    expect(store.snapshot().alarms.map((a) => a.state)).toEqual(['ACKNOWLEDGED']);
    expect(source.provides).toContain('alarms');
  });
});
