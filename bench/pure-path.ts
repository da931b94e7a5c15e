/**
 * The handler's work on a batch minus its I/O: exactly what `processBatch`
 * (functions/window-handler/process-batch.ts) does before and between its DynamoDB, SNS
 * and SQS calls. Decode and validate every record, group the readings by sensor in
 * arrival order, and fold each sensor's records into its state (window assignment,
 * lateness, exact aggregates, rules, final windows). `withStateJson` adds the state
 * (de)serialisation that `WindowStateStore` does around the fold (JSON.parse of each loaded
 * item body, JSON.stringify of each committed one): with it, this is the handler's CPU
 * work apart from the AWS SDK itself.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import type { WindowpaneConfig } from '../functions/domain/config.js';
import { foldSensorRecords } from '../functions/domain/fold.js';
import { newSensorState, type SensorRecord, type SensorState } from '../functions/domain/state.js';
import { decodeStateBody, encodeStateBody } from '../functions/domain/state-codec.js';
import { decodeBatch } from '../functions/pipeline/decode-batch.js';
import type { BatchReport } from '../functions/pipeline/report.js';

/**
 * Readings folded per commit, as processBatch's default (DEFAULT_RECORDS_PER_COMMIT in
 * functions/pipeline/deps.ts, not imported: that module loads the AWS SDK, whose heap
 * would tax this measurement's garbage collection).
 */
const RECORDS_PER_COMMIT = 2_000;

/** The handler's own counters for the work it does before any I/O. */
export interface PurePathResult
  extends Pick<
    BatchReport,
    'records' | 'readings' | 'duplicates' | 'invalid' | 'late' | 'alerts' | 'windowsFinalised' | 'sensors'
  > {
  /** New state per sensor (what would be committed). */
  states: Map<string, SensorState>;
  /** Serialised state bodies, when `withStateJson` was used. */
  bodies?: Map<string, string>;
}

/** The handler's own first step (decode, validate, group by sensor), not a copy of it. */
function decodeAndGroup(event: KinesisStreamEvent, config: WindowpaneConfig) {
  const { groups, invalid } = decodeBatch(event, config.metrics);
  return { groups: new Map([...groups].map(([id, g]) => [id, g.records])), invalid };
}

function emptyResult(event: KinesisStreamEvent): PurePathResult {
  return {
    records: event.Records.length,
    readings: 0,
    duplicates: 0,
    invalid: 0,
    late: 0,
    alerts: 0,
    windowsFinalised: 0,
    sensors: 0,
    states: new Map(),
  };
}

function foldGroup(
  state: SensorState,
  records: SensorRecord[],
  config: WindowpaneConfig,
  out: PurePathResult,
) {
  let current = state;
  for (let i = 0; i < records.length; i += RECORDS_PER_COMMIT) {
    const chunk = records.length <= RECORDS_PER_COMMIT ? records : records.slice(i, i + RECORDS_PER_COMMIT);
    const result = foldSensorRecords(current, chunk, config);
    out.readings += result.applied;
    out.duplicates += result.duplicates;
    out.late += result.effects.late.length;
    out.alerts += result.effects.alerts.length;
    out.windowsFinalised += result.effects.results.length;
    // The store gives the committed state the next version.
    current = { ...result.state, version: current.version + 1 };
  }
  return current;
}

/** Decode, group and fold one batch, starting from `prior` states (new sensors start empty). */
export function runPurePath(
  event: KinesisStreamEvent,
  prior: ReadonlyMap<string, SensorState>,
  config: WindowpaneConfig,
): PurePathResult {
  const { groups, invalid } = decodeAndGroup(event, config);
  const out = emptyResult(event);
  out.invalid = invalid.length;
  out.sensors = groups.size;
  for (const [sensorId, records] of groups) {
    out.states.set(
      sensorId,
      foldGroup(prior.get(sensorId) ?? newSensorState(sensorId), records, config, out),
    );
  }
  return out;
}

/** A state item's body as `WindowStateStore.commit` writes it. */
export function stateBody(state: SensorState): string {
  return encodeStateBody(state);
}

/** A state as `WindowStateStore` reads it back from its item. */
export function stateFromBody(sensorId: string, version: number, body: string): SensorState {
  return decodeStateBody(sensorId, version, body);
}

/**
 * `runPurePath` plus the store's serialisation: prior states arrive as stored bodies and
 * every new state is serialised as a commit would.
 */
export function runPurePathWithStateJson(
  event: KinesisStreamEvent,
  priorBodies: ReadonlyMap<string, { version: number; body: string }>,
  config: WindowpaneConfig,
): PurePathResult {
  const { groups, invalid } = decodeAndGroup(event, config);
  const out = emptyResult(event);
  out.invalid = invalid.length;
  out.sensors = groups.size;
  out.bodies = new Map();
  for (const [sensorId, records] of groups) {
    const stored = priorBodies.get(sensorId);
    const state = stored ? stateFromBody(sensorId, stored.version, stored.body) : newSensorState(sensorId);
    const next = foldGroup(state, records, config, out);
    out.states.set(sensorId, next);
    out.bodies.set(sensorId, stateBody(next));
  }
  return out;
}

/** States after folding `events` in order from nothing: the history a measured batch starts from. */
export function foldHistory(
  events: readonly KinesisStreamEvent[],
  config: WindowpaneConfig,
): Map<string, SensorState> {
  const states = new Map<string, SensorState>();
  for (const event of events) {
    const result = runPurePath(event, states, config);
    for (const [id, s] of result.states) states.set(id, s);
  }
  return states;
}
