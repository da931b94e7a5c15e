/**
 * Size of the state items the handler writes, in the previous release's encoding (the
 * state as a JSON object, `lastSequence` padded to 129 digits) and in today's
 * (functions/domain/state-codec.ts), on the benchmark's fleets in the default
 * configuration (issue 14: an item within one write unit, 1 KB). Pure: the handler's fold
 * and commit sizing without the emulators, each commit's item measured by DynamoDB's
 * item-size rules (bench/meter.ts).
 *
 *   npx tsx bench/state-bytes.ts [--span SECONDS]
 *
 * Cases: 100 and 1,000 sensors at 1 Hz and 0.1 Hz, in the batches the default event
 * source settings deliver (bench/scenarios.ts), over `--span` seconds of event time
 * (default 300); items are also split by the open windows they hold (1 or 2).
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import { DEFAULT_CONFIG } from '../functions/domain/config.js';
import { padPosition, parsePosition } from '../functions/domain/record-position.js';
import { foldWithinBudget } from '../functions/domain/sized-fold.js';
import { isOutboxEmpty, newSensorState, type SensorState } from '../functions/domain/state.js';
import { encodeStateBody } from '../functions/domain/state-codec.js';
import { stateItem } from '../functions/lib/state-store.js';
import { decodeBatch } from '../functions/pipeline/decode-batch.js';
import { fleetRecords, meanDataBytes, meanPartitionKeyBytes, toEvents } from './data.js';
import { itemBytes } from './meter.js';
import { batchShape, PER_BATCH_ESM } from './scenarios.js';

/** processBatch's DEFAULT_RECORDS_PER_COMMIT (functions/pipeline/deps.ts). */
const RECORDS_PER_COMMIT = 2_000;
const TTL_DAYS = 7;
/** A commit time like the bench's (2026), for the processing-time attributes' digits. */
const NOW = Date.UTC(2026, 0, 1, 0, 10);

/** The previous release's body: the state as one JSON object. */
function legacyBody(state: SensorState): string {
  const { sensorId: _s, version: _v, updatedAt: _u, claim: _c, ...rest } = state;
  return JSON.stringify(rest);
}

/** The previous release's `lastSequence`: `<shard>:<position padded to 129 digits>`. */
function legacyLastSequence(state: SensorState): string {
  const shards = Object.keys(state.applied);
  const last = shards[shards.length - 1];
  return last === undefined ? '' : `${last}:${padPosition(parsePosition(state.applied[last]!))}`;
}

interface Sizes {
  count: number;
  total: number;
  max: number;
}

const add = (s: Sizes, bytes: number) => {
  s.count++;
  s.total += bytes;
  if (bytes > s.max) s.max = bytes;
};
const empty = (): Sizes => ({ count: 0, total: 0, max: 0 });
const show = (s: Sizes) => (s.count === 0 ? '-' : `${Math.round(s.total / s.count)} / ${s.max}`);

interface CaseResult {
  label: string;
  batchSize: number;
  before: Record<'all' | 'w1' | 'w2', Sizes>;
  after: Record<'all' | 'w1' | 'w2', Sizes>;
}

function runCase(sensors: number, rateHz: number, spanSeconds: number): CaseResult {
  const sample = fleetRecords({ sensors: 100, rateHz: 1 }, 1_000);
  const shape = batchShape(
    { id: 'x', sensors, rateHz, esm: PER_BATCH_ESM },
    meanDataBytes(sample) + meanPartitionKeyBytes(sample),
  );
  // One shard's sensors: the batches of one shard of the provisioned stream.
  const onShard = shape.sensorsPerShard;
  const records = fleetRecords({ sensors: onShard, rateHz }, Math.ceil(onShard * rateHz * spanSeconds));
  const result: CaseResult = {
    label: `${sensors.toLocaleString('en-US')} sensors @ ${rateHz} Hz`,
    batchSize: shape.batchSize,
    before: { all: empty(), w1: empty(), w2: empty() },
    after: { all: empty(), w1: empty(), w2: empty() },
  };
  const states = new Map<string, SensorState>();
  for (const event of toEvents(records, shape.batchSize)) {
    const { groups } = decodeBatch(event, DEFAULT_CONFIG.metrics);
    for (const [sensorId, group] of groups) {
      let state = states.get(sensorId) ?? newSensorState(sensorId);
      for (let i = 0; i < group.records.length; ) {
        const sized = foldWithinBudget(state, group.records.slice(i, i + RECORDS_PER_COMMIT), DEFAULT_CONFIG);
        i += sized.consumed;
        const r = sized.result;
        if (r.applied === 0 && isOutboxEmpty(r.effects)) continue;
        const next: SensorState = { ...r.state, version: state.version + 1 };
        const open = Object.keys(next.windows).length;
        const measure = (into: CaseResult['before'], body: string, lastSequence?: string) => {
          const item = stateItem(next, { version: next.version, body, now: NOW, ttlDays: TTL_DAYS });
          const bytes = itemBytes(marshall(lastSequence === undefined ? item : { ...item, lastSequence }));
          add(into.all, bytes);
          if (open === 1) add(into.w1, bytes);
          if (open === 2) add(into.w2, bytes);
        };
        measure(result.before, legacyBody(next), legacyLastSequence(next));
        measure(result.after, encodeStateBody(next));
        state = next;
      }
      states.set(sensorId, state);
    }
  }
  return result;
}

function main(): void {
  const i = process.argv.indexOf('--span');
  const span = i > 0 ? Number(process.argv[i + 1]) : 300;
  if (!Number.isFinite(span) || span <= 0) throw new Error(`--span must be a positive number of seconds`);
  console.log(`State item bytes, mean / max (DynamoDB item size), ${span} s of event time, default config\n`);
  console.log(
    '| case | batch | items | before | after | before, 1 open window | after | before, 2 open windows | after |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [sensors, rate] of [
    [100, 1],
    [1_000, 1],
    [100, 0.1],
    [1_000, 0.1],
  ] as const) {
    const r = runCase(sensors, rate, span);
    console.log(
      `| ${r.label} | ${r.batchSize} | ${r.after.all.count} | ${show(r.before.all)} | ${show(r.after.all)} | ` +
        `${show(r.before.w1)} | ${show(r.after.w1)} | ${show(r.before.w2)} | ${show(r.after.w2)} |`,
    );
  }
}

main();
