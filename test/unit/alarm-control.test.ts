/**
 * Control records (docs/SEMANTICS.md A-C1..A-C4): the record's key and hash key, its
 * validation (a bad one is invalid with the field named, never a reading), where an
 * action sits in a sensor's evaluation order (A-E1), refusals, and that a repeated
 * actionId or a redelivered record applies once.
 */
import { createHash } from 'node:crypto';
import type { KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { buildKinesisEvent, fakeSequenceNumber } from '../../events/kinesis-event.js';
import {
  CONTROL_KEY_PREFIX,
  decodeControl,
  encodeControl,
  explicitHashKeyOf,
} from '../../functions/domain/alarms/control.js';
import { parseConfig } from '../../functions/domain/config.js';
import { foldSensorRecords } from '../../functions/domain/fold.js';
import { newSensorState, type SensorRecord, type SensorState } from '../../functions/domain/state.js';
import { decodeBatch } from '../../functions/pipeline/decode-batch.js';
import { record } from './factories.js';
import { aggregate } from './kpl-encoder.js';

const config = parseConfig({
  rules: [{ name: 'too-hot', type: 'threshold', metric: 'temperature', above: 35, mode: 'alarm' }],
});
const T0 = 1_700_000_000_000;

function body(extra: Record<string, unknown> = {}) {
  return {
    actionId: 'a-1',
    alarmId: 'too-hot@s1',
    sensorId: 's1',
    action: 'ack' as const,
    by: 'alice',
    requestedAt: T0,
    ...extra,
  };
}

let seq = 100;
function actionRecord(extra: Record<string, unknown> = {}, arrivalMs = T0): SensorRecord {
  const enc = encodeControl(body(extra) as Parameters<typeof encodeControl>[0]);
  const decoded = decodeControl(enc.data, enc.partitionKey, arrivalMs);
  if (!decoded.ok) throw new Error(decoded.detail);
  return { shardId: 'shardId-000000000000', sequence: String(seq++), action: decoded.action, arrivalMs };
}
const reading = (t: number, v: number): SensorRecord => ({ ...record('s1', t, v, seq++), arrivalMs: t });

function fold(records: SensorRecord[], state: SensorState = newSensorState('s1')) {
  return foldSensorRecords(state, records, config);
}

describe('A-C1 the record', () => {
  it('ExplicitHashKey is MD5(sensorId) as an unsigned 128-bit decimal: the shard of the readings', () => {
    const md5 = createHash('md5').update('s1').digest();
    let n = 0n;
    for (const byte of md5) n = n * 256n + BigInt(byte);
    expect(explicitHashKeyOf('s1')).toBe(n.toString());
    expect(BigInt(explicitHashKeyOf('s1'))).toBeLessThan(2n ** 128n);
    expect(encodeControl(body()).partitionKey).toBe(`${CONTROL_KEY_PREFIX}s1`);
  });

  it('decodes a valid body into the action', () => {
    const enc = encodeControl(body({ action: 'snooze', forMs: 60_000, note: 'looking' }));
    expect(decodeControl(enc.data, enc.partitionKey, T0)).toEqual({
      ok: true,
      action: {
        type: 'snooze',
        actionId: 'a-1',
        at: T0,
        by: 'alice',
        alarmId: 'too-hot@s1',
        sensorId: 's1',
        rule: 'too-hot',
        note: 'looking',
        forMs: 60_000,
      },
    });
  });
});

describe('A-C2 a bad control record is invalid, with the field named', () => {
  const key = `${CONTROL_KEY_PREFIX}s1`;
  const bytes = (o: unknown) => Buffer.from(JSON.stringify(o));
  const full = (extra: Record<string, unknown>) => ({
    windowpane: 'alarm-action',
    v: 1,
    ...body(),
    ...extra,
  });
  it.each([
    ['not JSON', Buffer.from('{nope'), 'body is not JSON'],
    ['unknown action', bytes(full({ action: 'mute' })), 'action:'],
    ['snooze without forMs', bytes(full({ action: 'snooze' })), 'forMs: is required for snooze'],
    ['forMs on an ack', bytes(full({ forMs: 5 })), 'forMs: is only for snooze'],
    ['alarmId of another sensor', bytes(full({ alarmId: 'too-hot@s2' })), 'alarmId: names sensor s2'],
    ['alarmId without a rule', bytes(full({ alarmId: 's1' })), 'alarmId'],
    ['an unknown field', bytes(full({ extra: 1 })), 'extra'],
    ['a wrong version', bytes(full({ v: 2 })), 'v:'],
    ['requestedAt far ahead of arrival', bytes(full({ requestedAt: T0 + 3_600_000 })), 'requestedAt:'],
  ])('%s', (_what, data, detail) => {
    const r = decodeControl(data, key, T0);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe('control-invalid');
      expect(r.detail).toContain(detail);
    }
  });

  it('a key naming another sensor than the body: control-key-mismatch', () => {
    const r = decodeControl(bytes(full({})), `${CONTROL_KEY_PREFIX}s2`, T0);
    expect(r).toMatchObject({ ok: false, reason: 'control-key-mismatch' });
  });

  it('in a batch: valid actions join their sensor in arrival order, bad ones go to the invalid sink', () => {
    const good = encodeControl(body());
    const rec = (data: Uint8Array, partitionKey: string, n: number) => ({
      eventID: `shardId-000000000000:${n}`,
      kinesis: {
        data: Buffer.from(data).toString('base64'),
        partitionKey,
        sequenceNumber: String(n),
        approximateArrivalTimestamp: T0 / 1000,
      },
    });
    const event = {
      Records: [
        rec(Buffer.from(JSON.stringify({ sensorId: 's1', timestamp: T0, temperature: 40 })), 's1', 1),
        rec(good.data, good.partitionKey, 2),
        rec(Buffer.from('{"windowpane":"alarm-action"}'), good.partitionKey, 3),
      ],
    } as unknown as KinesisStreamEvent;
    const { groups, invalid } = decodeBatch(event, ['temperature']);
    const records = groups.get('s1')!.records;
    expect(records.map((r) => (r.action ? `action:${r.action.type}` : 'reading'))).toEqual([
      'reading',
      'action:ack',
    ]);
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatchObject({ reason: 'control-invalid', partitionKey: good.partitionKey });
  });
});

describe('A-C1 a control record is one by its key, also inside a KPL aggregate', () => {
  it('an aggregate of a reading and an action: both reach the sensor, in order, the action with its sub-index', () => {
    const enc = encodeControl(body({ actionId: 'in-kpl' }));
    const data = aggregate([
      {
        partitionKey: 's1',
        data: Buffer.from(JSON.stringify({ sensorId: 's1', timestamp: T0, temperature: 40 })),
      },
      { partitionKey: enc.partitionKey, data: enc.data },
    ]);
    const event = buildKinesisEvent([
      {
        partitionKey: 's1',
        data,
        sequenceNumber: fakeSequenceNumber(1),
        approximateArrivalTimestamp: T0 / 1000,
      },
    ]);
    const { groups, invalid } = decodeBatch(event, ['temperature']);
    expect(invalid).toEqual([]);
    const records = groups.get('s1')!.records;
    expect(records.map((r) => [r.action ? r.action.actionId : 'reading', r.subIndex ?? 0])).toEqual([
      ['reading', 0],
      ['in-kpl', 1],
    ]);
    const folded = foldSensorRecords(newSensorState('s1'), records, config);
    expect(folded.effects.transitions!.map((t) => t.transition)).toEqual(['ALARM', 'ACKNOWLEDGED']);
  });
});

describe('A-C3 applying an action (A-E1: at its place in arrival order)', () => {
  it('ack after the breach in the same batch: ALARM then ACKNOWLEDGED, at requestedAt, with who', () => {
    const r = fold([reading(T0 - 10_000, 40), actionRecord({ note: 'on it' })]);
    expect(r.effects.transitions!.map((t) => t.transition)).toEqual(['ALARM', 'ACKNOWLEDGED']);
    expect(r.effects.transitions![1]).toMatchObject({
      from: 'ACTIVE',
      state: 'ACKNOWLEDGED',
      at: T0,
      clock: 'processing',
      by: 'alice',
      note: 'on it',
      actionId: 'a-1',
      seq: 2,
    });
    expect(r.effects.actions).toEqual([
      expect.objectContaining({
        outcome: 'applied',
        actionId: 'a-1',
        transitionId: r.effects.transitions![1]!.transitionId,
      }),
    ]);
    // A control record moves no window and no watermark.
    expect(r.state.watermark).toBe(T0 - 10_000);
  });

  it('an ack before the breach is refused with the state named, and publishes nothing', () => {
    const r = fold([actionRecord({ actionId: 'early' }), reading(T0 + 1_000, 40)]);
    expect(r.effects.transitions!.map((t) => t.transition)).toEqual(['ALARM']);
    expect(r.effects.actions).toEqual([
      expect.objectContaining({
        outcome: 'refused',
        reason: 'too-hot@s1 is NORMAL: nothing to acknowledge',
      }),
    ]);
  });

  it('an alarm whose rule does not apply is unknown: refused, no alarm created', () => {
    const r = fold([actionRecord({ actionId: 'x', alarmId: 'too-cold@s1', action: 'disable' })]);
    expect(r.effects.transitions).toBeUndefined();
    expect(r.state.alarms).toBeUndefined();
    expect(r.effects.actions![0]).toMatchObject({
      outcome: 'refused',
      reason: 'too-cold@s1 is unknown: no alarm-mode rule too-cold applies to sensor s1',
    });
  });

  it('the same actionId twice (a retried request, a new record): applied once, then already-applied', () => {
    const first = fold([reading(T0 - 10_000, 40), actionRecord({ actionId: 'dup' })]);
    const again = fold([actionRecord({ actionId: 'dup' })], first.state);
    expect(again.effects.transitions).toBeUndefined();
    expect(again.effects.actions![0]).toMatchObject({ outcome: 'already-applied', actionId: 'dup' });
    expect(again.state.alarms).toEqual(first.state.alarms);
  });

  it('the same record redelivered is a duplicate by its position, like a reading', () => {
    const ack = actionRecord({ actionId: 'pos' });
    const first = fold([reading(T0 - 10_000, 40), ack]);
    const again = fold([ack], first.state);
    expect(again.applied).toBe(0);
    expect(again.duplicates).toBe(1);
  });

  it('snooze ends at its snoozedUntil when a later record arrives (SNOOZE_ENDED before that record)', () => {
    const snoozed = fold([
      reading(T0 - 10_000, 40),
      actionRecord({ actionId: 'z', action: 'snooze', forMs: 60_000 }),
    ]);
    expect(snoozed.effects.transitions!.map((t) => t.transition)).toEqual(['ALARM', 'SNOOZED']);
    const later = fold([reading(T0 + 120_000, 40)], snoozed.state);
    expect(later.effects.transitions!.map((t) => `${t.transition}@${t.at}`)).toEqual([
      `SNOOZE_ENDED@${T0 + 60_000}`,
      `ALARM@${T0 + 120_000}`,
    ]);
  });

  it('disable then enable: DISABLED, ENABLED; readings while disabled change nothing', () => {
    const r = fold([
      actionRecord({ actionId: 'd', action: 'disable' }),
      reading(T0 + 1_000, 40),
      actionRecord({ actionId: 'e', action: 'enable', requestedAt: T0 + 2_000 }, T0 + 2_000),
    ]);
    expect(r.effects.transitions!.map((t) => t.transition)).toEqual(['DISABLED', 'ENABLED']);
  });
});
