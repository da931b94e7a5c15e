/**
 * `WindowStateStore`: one DynamoDB item per sensor, written with a single conditional put.
 *
 * The condition compares the item's `version` with the version that was read. The fold
 * decided what was already applied from the per-shard sequence numbers inside that same
 * version, so "the version I read is still current" makes the read-fold-write atomic:
 * a concurrent or zombie writer makes the put fail (re-read and fold again), and a
 * redelivered record is recognised by its sequence number in the state it is folded
 * into. The top-level `lastSequence` attribute (`<shardId>:<position>`) shows the last
 * applied record and is part of the condition, as a second guard that the fence the fold
 * used is the one stored. The condition compares it for equality only, so it is stored
 * as the position is spelled (56 digits for Kinesis today), not padded to 129: an item
 * written by the previous release holds the padded form, which the condition also accepts.
 *
 * A failed condition asks for the item as stored (`ReturnValuesOnConditionCheckFailure:
 * ALL_OLD`, honoured by DynamoDB and moto), so the writer that lost can fold again from
 * the state that won without a second read; where the item does not come back (dynalite
 * ignores the parameter), the caller reads it.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { bodyBytes, MAX_STATE_BYTES, stateBody } from '../domain/bounds.js';
import { WindowpaneError } from '../domain/errors.js';
import { formatPosition, padPosition, parsePosition } from '../domain/record-position.js';
import { type CarryClaim, newSensorState, type SensorState } from '../domain/state.js';
import { decodeStateBody } from '../domain/state-codec.js';
import { batchGetAll, type WriteCounter } from './dynamo-batch.js';

/** The stored item is no longer at the version that was read: someone else wrote first. */
export class StateConflictError extends WindowpaneError {
  readonly sensorId: string;
  readonly expectedVersion: number;
  /** The state as stored when the condition failed, when the database returned it. */
  readonly current: SensorState | undefined;

  constructor(options: { sensorId: string; expectedVersion: number; current?: SensorState }) {
    super(`state of sensor "${options.sensorId}" changed since version ${options.expectedVersion} was read`);
    this.sensorId = options.sensorId;
    this.expectedVersion = options.expectedVersion;
    this.current = options.current;
  }
}

/**
 * The state would pass MAX_STATE_BYTES (functions/domain/bounds.ts). Commits are sized to
 * stay under it, so this names a bound the configuration check could not foresee; the
 * sensor fails alone and its records are retried.
 */
export class StateItemTooLargeError extends WindowpaneError {
  readonly sensorId: string;
  readonly bytes: number;

  constructor(options: { sensorId: string; bytes: number }) {
    super(`state of sensor "${options.sensorId}" would be ${options.bytes} bytes, over the item limit`);
    this.sensorId = options.sensorId;
    this.bytes = options.bytes;
  }
}

const SECONDS_PER_DAY = 86_400;

export interface StateItem {
  sensorId: string;
  version: number;
  lastSequence: string;
  body: string;
  /** Processing time of the commit (epoch ms): what the idle sweeper looks at. */
  updatedAt: number;
  /** Open windows in `body`, so the sweeper's scan can skip sensors with none. */
  openWindows: number;
  /** The state's `sd`: from when the sweeper has an alarm to raise (absence, A-K8). */
  silentDue?: number;
  expiresAt: number;
  /** A carried state's claim (SensorState.claim): who, on which shard, from which record, until when. */
  carriedBy?: string;
  carriedShard?: string;
  carriedFrom?: string;
  carriedUntil?: number;
}

/** How a commit fences and what it says about carried state (SEMANTICS.md "Carried state"). */
export interface CommitOptions {
  /**
   * The claim the item is to carry after this commit; null clears it (a carried state's
   * checkpoint at the end of its window). Absent: the item carries no claim.
   */
  claim?: CarryClaim | null;
  /**
   * Fence on the version alone. A carried state's `applied` runs ahead of what is stored,
   * so the stored `lastSequence` is not known from it; the version, bumped by every write,
   * is the fence.
   */
  versionOnly?: boolean;
  /**
   * Processing time the item records as its last commit (`updatedAt`, which the idle
   * sweeper compares with its cutoff); default now. A carried state's checkpoint writes the
   * time of the sensor's last batch (CS8): the sensor has been silent since then.
   */
  updatedAt?: number;
}

export interface WindowStateStoreOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Days after its last commit that an item expires (DynamoDB TTL on `expiresAt`). */
  ttlDays: number;
  /** Counts the conditional puts; shared with the effect delivery for the batch report. */
  counter?: WriteCounter;
  /** Processing time (epoch ms) of a commit. */
  now?: () => number;
  /** The largest body committed; default MAX_STATE_BYTES (lower only to test the refusal). */
  maxBodyBytes?: number;
}

export class WindowStateStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly ttlDays: number;
  private readonly counter: WriteCounter;
  private readonly now: () => number;
  private readonly maxBodyBytes: number;

  constructor(options: WindowStateStoreOptions) {
    this.doc = options.doc;
    this.tableName = options.tableName;
    this.ttlDays = options.ttlDays;
    this.counter = options.counter ?? { writes: 0 };
    this.now = options.now ?? Date.now;
    this.maxBodyBytes = options.maxBodyBytes ?? MAX_STATE_BYTES;
  }

  async load(sensorId: string): Promise<SensorState> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { sensorId }, ConsistentRead: true }),
    );
    return out.Item ? fromItem(out.Item as StateItem) : newSensorState(sensorId);
  }

  /** Strongly consistent reads of many sensors (BatchGetItem); unknown sensors start empty. */
  async loadMany(sensorIds: readonly string[]): Promise<Map<string, SensorState>> {
    const states = new Map<string, SensorState>();
    const items = await batchGetAll(this.doc, {
      table: this.tableName,
      keys: sensorIds.map((sensorId) => ({ sensorId })),
      command: (keys) =>
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
    });
    for (const item of items) {
      const state = fromItem(item as unknown as StateItem);
      states.set(state.sensorId, state);
    }
    for (const id of sensorIds) if (!states.has(id)) states.set(id, newSensorState(id));
    return states;
  }

  /**
   * Writes `next` if the stored item is still at `previous.version` (or absent when
   * `previous.version` is 0). Returns the state at its new version.
   */
  async commit(previous: SensorState, next: SensorState, options: CommitOptions = {}): Promise<SensorState> {
    const version = previous.version + 1;
    const { claim: _claim, ...unclaimed } = next;
    const committed: SensorState = options.claim
      ? { ...unclaimed, version, claim: options.claim }
      : { ...unclaimed, version };
    const body = stateBody(committed);
    const bytes = bodyBytes(body);
    if (bytes > this.maxBodyBytes) throw new StateItemTooLargeError({ sensorId: next.sensorId, bytes });
    const now = options.updatedAt ?? this.now();
    // A state that applied no record yet (a claim on a new sensor, CS2) has no last
    // sequence to compare: its version alone fences it. (An IN of two empty strings never
    // holds on dynalite, and every later commit of such an item failed as a conflict.)
    const lastSequence = latestSequence(previous);
    const versionOnly = options.versionOnly || lastSequence === '';
    const item = stateItem(next, { version, body, now, ttlDays: this.ttlDays, claim: options.claim });
    this.counter.writes++;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ...(previous.version === 0
            ? { ConditionExpression: 'attribute_not_exists(sensorId)' }
            : versionOnly
              ? {
                  ConditionExpression: '#version = :version',
                  ExpressionAttributeNames: { '#version': 'version' },
                  ExpressionAttributeValues: { ':version': previous.version },
                }
              : {
                  ConditionExpression:
                    '#version = :version AND #lastSequence IN (:lastSequence, :paddedSequence)',
                  ExpressionAttributeNames: { '#version': 'version', '#lastSequence': 'lastSequence' },
                  ExpressionAttributeValues: {
                    ':version': previous.version,
                    ':lastSequence': lastSequence,
                    ':paddedSequence': latestSequence(previous, true),
                  },
                }),
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      // The document client does not unmarshall errors: the item comes back in wire form.
      const current = err.Item ? fromItem(unmarshall(err.Item) as StateItem) : undefined;
      throw new StateConflictError({
        sensorId: next.sensorId,
        expectedVersion: previous.version,
        ...(current ? { current } : {}),
      });
    }
    return { ...committed, updatedAt: now };
  }

  /**
   * Sensors with open windows whose last commit is older than `cutoffMs` (processing
   * time), and, given `nowMs`, sensors whose `silentDue` is before it (an absence alarm to
   * raise, A-K8), and given `claimsBefore`, sensors claimed by a carried state until
   * before it (a claim to take over, CS6). A scan: the sweeper runs every few minutes and
   * reads keys only.
   */
  async listIdleSensors(cutoffMs: number, nowMs?: number, claimsBefore?: number): Promise<string[]> {
    const idle = '(#updatedAt < :cutoff AND #openWindows > :zero)';
    if (nowMs !== undefined && claimsBefore !== undefined) {
      return this.scanSensorIds({
        FilterExpression: `${idle} OR #silentDue < :now OR #carriedUntil < :claims`,
        ExpressionAttributeNames: {
          '#updatedAt': 'updatedAt',
          '#openWindows': 'openWindows',
          '#silentDue': 'silentDue',
          '#carriedUntil': 'carriedUntil',
        },
        ExpressionAttributeValues: {
          ':cutoff': cutoffMs,
          ':zero': 0,
          ':now': nowMs,
          ':claims': claimsBefore,
        },
      });
    }
    return this.scanSensorIds(
      nowMs === undefined
        ? {
            FilterExpression: idle,
            ExpressionAttributeNames: { '#updatedAt': 'updatedAt', '#openWindows': 'openWindows' },
            ExpressionAttributeValues: { ':cutoff': cutoffMs, ':zero': 0 },
          }
        : {
            FilterExpression: `${idle} OR #silentDue < :now`,
            ExpressionAttributeNames: {
              '#updatedAt': 'updatedAt',
              '#openWindows': 'openWindows',
              '#silentDue': 'silentDue',
            },
            ExpressionAttributeValues: { ':cutoff': cutoffMs, ':zero': 0, ':now': nowMs },
          },
    );
  }

  /** Every sensor with state (end of a replay). */
  async listSensorIds(): Promise<string[]> {
    return this.scanSensorIds({});
  }

  private async scanSensorIds(filter: {
    FilterExpression?: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  }): Promise<string[]> {
    const ids: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new ScanCommand({
          TableName: this.tableName,
          ...filter,
          ProjectionExpression: '#sensorId',
          ExpressionAttributeNames: { ...filter.ExpressionAttributeNames, '#sensorId': 'sensorId' },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) ids.push(String(item.sensorId));
      start = page.LastEvaluatedKey;
    } while (start);
    return ids;
  }
}

/** The item a commit writes: `next` at `version` with its `body`, committed at `now`. */
export function stateItem(
  next: SensorState,
  options: {
    version: number;
    body: string;
    now: number;
    ttlDays: number;
    claim?: CarryClaim | null | undefined;
  },
): StateItem {
  const { version, body, now, claim } = options;
  return {
    sensorId: next.sensorId,
    version,
    lastSequence: latestSequence(next),
    body,
    updatedAt: now,
    openWindows: Object.keys(next.windows).length,
    ...(next.sd !== undefined ? { silentDue: next.sd } : {}),
    expiresAt: Math.floor(now / 1000) + options.ttlDays * SECONDS_PER_DAY,
    ...(claim
      ? {
          carriedBy: claim.by,
          carriedShard: claim.shardId,
          carriedFrom: claim.from,
          carriedUntil: claim.until,
        }
      : {}),
  };
}

/**
 * The most recently applied record (the last shard in LRU order) as `<shardId>:<position>`;
 * `padded`: with the position fixed-width (record-position.ts padPosition), as the previous
 * release stored it.
 */
function latestSequence(state: SensorState, padded = false): string {
  const shards = Object.keys(state.applied);
  const last = shards[shards.length - 1];
  if (last === undefined) return '';
  const p = parsePosition(state.applied[last]!);
  return `${last}:${padded ? padPosition(p) : formatPosition(p)}`;
}

function fromItem(item: StateItem): SensorState {
  const state = fromBody(item.sensorId, Number(item.version), item.body);
  state.updatedAt = Number(item.updatedAt);
  if (item.carriedBy !== undefined && item.carriedShard !== undefined && item.carriedFrom !== undefined) {
    state.claim = {
      by: item.carriedBy,
      shardId: item.carriedShard,
      from: item.carriedFrom,
      until: Number(item.carriedUntil ?? 0),
    };
  }
  return state;
}

/**
 * A state from its body (stateBody in domain/bounds.ts): the stored item's, or a carried
 * state's; a body of the previous release (a JSON object) reads as before.
 */
export function fromBody(sensorId: string, version: number, body: string): SensorState {
  return decodeStateBody(sensorId, version, body);
}
