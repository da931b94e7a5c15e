/**
 * The baseline windowpane is compared with: the straightforward per-record design of the
 * Kinesis + Lambda + DynamoDB tutorials. For every record: `JSON.parse`, read the fields,
 * assign the tumbling window, update that window's count/sum/min/max/mean, check the
 * threshold and delta rules; and, in the DynamoDB version, one `UpdateItem` per reading
 * plus one `PutItem` per alert.
 *
 * It does the same arithmetic on the same bytes, and deliberately less of everything else,
 * as the tutorials do: no UTF-8 or field validation beyond "is it a number", no event-time
 * lateness, no duplicate detection, no exactly-once sums, no alert cooldown. That makes it
 * a generous baseline for speed, and a fair one for write counts: min and max are left out
 * of its `UpdateItem` (DynamoDB has no min/max update expression; a tutorial that keeps
 * them reads first, doubling the requests).
 */
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { Rule, WindowpaneConfig } from '../functions/domain/config.js';
import { kindOf } from '../functions/domain/rules/registry.js';
import { runPool } from '../functions/lib/pool.js';

export interface NaiveReading {
  sensorId: string;
  timestamp: number;
  value: number;
}

export interface NaiveWindow {
  sensorId: string;
  windowStart: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
}

export interface NaiveAlert {
  sensorId: string;
  rule: string;
  value: number;
  timestamp: number;
}

/** In-memory state of the per-record design: one entry per (sensor, window), last value per sensor. */
export interface NaiveState {
  windows: Map<string, NaiveWindow>;
  last: Map<string, number>;
}

export interface NaiveBatchResult {
  valid: number;
  invalid: number;
  alerts: NaiveAlert[];
}

export function newNaiveState(): NaiveState {
  return { windows: new Map(), last: new Map() };
}

export function cloneNaiveState(state: NaiveState): NaiveState {
  const windows = new Map<string, NaiveWindow>();
  for (const [key, w] of state.windows) windows.set(key, { ...w });
  return { windows, last: new Map(state.last) };
}

/** Parses one record the tutorial way; undefined when it is not usable. */
export function naiveParse(base64: string, metric: string): NaiveReading | undefined {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const sensorId = body.sensorId ?? body.sensor_id;
  const raw = body.timestamp;
  const timestamp = typeof raw === 'number' ? raw : Date.parse(String(raw));
  const value = body[metric];
  if (typeof sensorId !== 'string' || typeof value !== 'number' || Number.isNaN(timestamp)) return undefined;
  return { sensorId, timestamp, value };
}

/** The tumbling window size the baseline uses: the configuration's (first) tumbling window. */
export function tumblingSizeMs(config: WindowpaneConfig): number {
  const spec = config.windows.find((w) => w.type === 'tumbling');
  if (!spec) throw new RangeError('the naive baseline needs a tumbling window in the configuration');
  return spec.sizeMs;
}

/** Window start of a reading (tumbling, aligned to the epoch, as windowpane's). */
export function naiveWindowStart(timestamp: number, sizeMs: number): number {
  return Math.floor(timestamp / sizeMs) * sizeMs;
}

/** Evaluates every rule on one reading, per record, with no cooldown (as the tutorials do). */
export function naiveRules(
  rules: readonly Rule[],
  reading: NaiveReading,
  previous: number | undefined,
  alerts: NaiveAlert[],
): void {
  for (const rule of rules) {
    if (kindOf(rule.type).fires(rule, reading.value, previous)) {
      alerts.push({
        sensorId: reading.sensorId,
        rule: rule.name,
        value: reading.value,
        timestamp: reading.timestamp,
      });
    }
  }
}

/** The whole per-record handler body, minus I/O: parse, window, update, rules. */
export function naiveProcessBatch(
  event: KinesisStreamEvent,
  state: NaiveState,
  config: WindowpaneConfig,
): NaiveBatchResult {
  const metric = config.metrics[0]!;
  const sizeMs = tumblingSizeMs(config);
  const rules = config.rules.filter((r) => r.metric === metric);
  const alerts: NaiveAlert[] = [];
  let valid = 0;
  let invalid = 0;
  for (const record of event.Records) {
    const reading = naiveParse(record.kinesis.data, metric);
    if (!reading) {
      invalid++;
      continue;
    }
    valid++;
    const windowStart = naiveWindowStart(reading.timestamp, sizeMs);
    const key = `${reading.sensorId}#${windowStart}`;
    let w = state.windows.get(key);
    if (!w) {
      w = {
        sensorId: reading.sensorId,
        windowStart,
        count: 0,
        sum: 0,
        min: Infinity,
        max: -Infinity,
        mean: 0,
      };
      state.windows.set(key, w);
    }
    w.count += 1;
    w.sum += reading.value;
    if (reading.value < w.min) w.min = reading.value;
    if (reading.value > w.max) w.max = reading.value;
    w.mean = w.sum / w.count;
    naiveRules(rules, reading, state.last.get(reading.sensorId), alerts);
    state.last.set(reading.sensorId, reading.value);
  }
  return { valid, invalid, alerts };
}

export interface NaiveTables {
  /** Key: sensorId (hash), windowKey (range). */
  windows: string;
  /** Key: alertId (hash). */
  alerts: string;
}

/**
 * The per-reading DynamoDB writer: one `UpdateItem` per valid reading (ADD count and sum,
 * SET the last value), one `PutItem` per alert. Requests go out `concurrency` at a time,
 * more generous than the tutorials' `for ... await`.
 */
export class NaiveWriter {
  private alertSeq = 0;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: NaiveTables,
    private readonly config: WindowpaneConfig,
    private readonly concurrency = 8,
  ) {}

  async writeBatch(event: KinesisStreamEvent, state: NaiveState): Promise<NaiveBatchResult> {
    const metric = this.config.metrics[0]!;
    const sizeMs = tumblingSizeMs(this.config);
    const rules = this.config.rules.filter((r) => r.metric === metric);
    const alerts: NaiveAlert[] = [];
    const readings: NaiveReading[] = [];
    let invalid = 0;
    for (const record of event.Records) {
      const reading = naiveParse(record.kinesis.data, metric);
      if (!reading) {
        invalid++;
        continue;
      }
      readings.push(reading);
      naiveRules(rules, reading, state.last.get(reading.sensorId), alerts);
      state.last.set(reading.sensorId, reading.value);
    }
    await runPool(readings, this.concurrency, async (r) => {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.windows,
          Key: { sensorId: r.sensorId, windowKey: String(naiveWindowStart(r.timestamp, sizeMs)) },
          UpdateExpression: 'ADD #count :one, #sum :value SET #last = :value, #lastTs = :ts',
          ExpressionAttributeNames: {
            '#count': 'count',
            '#sum': 'sum',
            '#last': 'last',
            '#lastTs': 'lastTs',
          },
          ExpressionAttributeValues: { ':one': 1, ':value': r.value, ':ts': r.timestamp },
        }),
      );
    });
    await runPool(alerts, this.concurrency, async (a) => {
      await this.doc.send(
        new PutCommand({
          TableName: this.tables.alerts,
          Item: { alertId: `${a.sensorId}#${a.rule}#${a.timestamp}#${this.alertSeq++}`, ...a },
        }),
      );
    });
    return { valid: readings.length, invalid, alerts };
  }
}
