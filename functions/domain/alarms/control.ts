/**
 * Control records (docs/SEMANTICS.md A-C1..A-C4): an alarm action (ack, snooze, disable,
 * enable, reset) travels on the readings stream, in the sensor's own order, so it is
 * fenced, retried and applied exactly once by the same conditional write as a reading.
 * This module is the record's shape: its partition key, the hash key that puts it on the
 * shard of the sensor's readings, and the validation of its body.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseAlarmId } from './entry.js';
import type { ActionInput, ActionType } from './lifecycle.js';

/** Partition keys of control records start with this; no sensor id is read from it. */
export const CONTROL_KEY_PREFIX = '__windowpane/ctl/';
/** The body's `windowpane` marker of an alarm action, and its version. */
export const ALARM_ACTION_MARKER = 'alarm-action';
export const ALARM_ACTION_VERSION = 1;
/** A control record is a few hundred bytes; anything far larger is not one. */
export const MAX_CONTROL_BYTES = 8_192;
/** requestedAt may be at most this far after the record's arrival (clock skew of the CLI's host). */
export const MAX_ACTION_SKEW_MS = 300_000;
/** The longest snooze: 30 days, as a snooze longer than that is a disable. */
export const MAX_SNOOZE_MS = 30 * 86_400_000;

export const ACTION_TYPES = [
  'ack',
  'snooze',
  'disable',
  'enable',
  'reset',
] as const satisfies readonly ActionType[];

/** A validated control record: the action for one alarm of one sensor. */
export interface AlarmAction extends ActionInput {
  alarmId: string;
  sensorId: string;
  rule: string;
}

const bodySchema = z
  .strictObject({
    windowpane: z.literal(ALARM_ACTION_MARKER),
    v: z.literal(ALARM_ACTION_VERSION),
    actionId: z.string().min(1).max(64),
    alarmId: z.string().min(3).max(400),
    sensorId: z.string().min(1).max(256),
    action: z.enum(ACTION_TYPES),
    by: z.string().min(1).max(128),
    note: z.string().max(1024).optional(),
    forMs: z.number().int().positive().max(MAX_SNOOZE_MS).optional(),
    requestedAt: z.number().int().positive(),
  })
  .superRefine((body, ctx) => {
    const id = parseAlarmId(body.alarmId);
    if (!id) ctx.addIssue({ code: 'custom', path: ['alarmId'], message: 'is not <rule>@<sensorId>' });
    else if (id.sensorId !== body.sensorId)
      ctx.addIssue({
        code: 'custom',
        path: ['alarmId'],
        message: `names sensor ${id.sensorId}, not ${body.sensorId}`,
      });
    if (body.action === 'snooze' && body.forMs === undefined)
      ctx.addIssue({ code: 'custom', path: ['forMs'], message: 'is required for snooze' });
    if (body.action !== 'snooze' && body.forMs !== undefined)
      ctx.addIssue({ code: 'custom', path: ['forMs'], message: 'is only for snooze' });
  });

export type AlarmActionBody = z.input<typeof bodySchema>;

export type ControlResult =
  | { ok: true; action: AlarmAction }
  | { ok: false; reason: 'control-invalid' | 'control-key-mismatch'; detail: string };

export function isControlKey(partitionKey: string | undefined): boolean {
  return partitionKey?.startsWith(CONTROL_KEY_PREFIX) === true;
}

export function controlKeyOf(sensorId: string): string {
  return `${CONTROL_KEY_PREFIX}${sensorId}`;
}

/**
 * The ExplicitHashKey of a sensor's control records: Kinesis maps a partition key to the
 * hash key MD5(key) as an unsigned 128-bit integer, so MD5(sensorId) in decimal puts the
 * control record on the shard the sensor's readings (partition key = sensorId) go to.
 */
export function explicitHashKeyOf(sensorId: string): string {
  return BigInt(`0x${createHash('md5').update(sensorId, 'utf8').digest('hex')}`).toString(10);
}

/**
 * Validates a control record's bytes: the body (zod, the first bad field named), and that
 * its partition key names the body's sensor (else it may sit on another shard, out of the
 * sensor's order). `arrivalMs` bounds requestedAt (A-C2).
 */
export function decodeControl(data: Uint8Array, partitionKey: string, arrivalMs?: number): ControlResult {
  if (data.length > MAX_CONTROL_BYTES)
    return {
      ok: false,
      reason: 'control-invalid',
      detail: `${data.length} bytes, more than ${MAX_CONTROL_BYTES}`,
    };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return { ok: false, reason: 'control-invalid', detail: 'the body is not JSON' };
  }
  const parsed = bodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.length > 0 ? issue.path.join('.') : 'body';
    return { ok: false, reason: 'control-invalid', detail: `${path}: ${issue.message}` };
  }
  const body = parsed.data;
  if (partitionKey !== controlKeyOf(body.sensorId)) {
    return {
      ok: false,
      reason: 'control-key-mismatch',
      detail: `partition key ${partitionKey.slice(0, 300)} is not ${controlKeyOf(body.sensorId)}`,
    };
  }
  if (arrivalMs !== undefined && body.requestedAt > arrivalMs + MAX_ACTION_SKEW_MS) {
    return {
      ok: false,
      reason: 'control-invalid',
      detail: `requestedAt: ${body.requestedAt} is more than ${MAX_ACTION_SKEW_MS} ms after the record's arrival ${arrivalMs}`,
    };
  }
  const rule = parseAlarmId(body.alarmId)!.rule;
  const action: AlarmAction = {
    type: body.action,
    actionId: body.actionId,
    at: body.requestedAt,
    by: body.by,
    alarmId: body.alarmId,
    sensorId: body.sensorId,
    rule,
  };
  if (body.note !== undefined) action.note = body.note;
  if (body.forMs !== undefined) action.forMs = body.forMs;
  return { ok: true, action };
}

/** The record a client puts (the CLI): body bytes, partition key and hash key. */
export function encodeControl(body: Omit<AlarmActionBody, 'windowpane' | 'v'>): {
  data: Uint8Array;
  partitionKey: string;
  explicitHashKey: string;
} {
  const full = { windowpane: ALARM_ACTION_MARKER, v: ALARM_ACTION_VERSION, ...body };
  return {
    data: Buffer.from(JSON.stringify(full), 'utf8'),
    partitionKey: controlKeyOf(body.sensorId),
    explicitHashKey: explicitHashKeyOf(body.sensorId),
  };
}
