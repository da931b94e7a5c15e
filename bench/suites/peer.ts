/**
 * Suite "peer": the realistic Powertools handler (bench/peer.ts) beside windowpane and the
 * tutorial baseline, on the same bytes.
 *
 * - CPU: records per CPU-second of the peer with in-memory persistence and sinks (no
 *   network, no SDK, as the pure suite times the other designs), interleaved with the
 *   naive baseline and the physical floor on the same 10,000-record batch of 1,000 sensors.
 * - Emulator: for each cost scenario's batch shape (bench/scenarios.ts), the peer runs
 *   against dynalite and fauxqs on the first records of the case, counted by the request
 *   meter; its requests must equal three per valid record plus two per unparseable one
 *   (and one publish per alert), and the whole case is then counted with that formula
 *   from the baseline's parse of every record, as the writes suite does for the naive
 *   writer. On the first scenario, windowpane's processBatch, the tutorial writer and the
 *   peer also run on the same prefix against the same emulator for a wall-clock rate.
 */

import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { CreateTopicCommand } from '@aws-sdk/client-sns';
import type { KinesisStreamEvent } from 'aws-lambda';
import { DEFAULT_CONFIG, parseConfig, type WindowpaneConfig } from '../../functions/domain/config.js';
import { type AwsClients, createClients, localClientOptions } from '../../functions/lib/clients.js';
import { parseHandlerEnv } from '../../functions/lib/env.js';
import { buildBatchDeps } from '../../functions/pipeline/deps.js';
import { processBatch } from '../../functions/window-handler/process-batch.js';
import type { EmulatorEndpoints } from '../../local/cloud/emulators.js';
import { provisionLocalCloud, uniquePrefix } from '../../local/cloud/index.js';
import { createActiveTable } from '../../local/cloud/provision.js';
import { NaiveWriter, naiveProcessBatch, newNaiveState } from '../baseline.js';
import { type BenchContext, BenchSuiteError, defaultDeploymentEnv, type Headline } from '../context.js';
import { fleetRecords, toEvents } from '../data.js';
import { floorProcessBatch } from '../floor.js';
import { RequestMeter } from '../meter.js';
import { benchContext, buildPeerHandler } from '../peer.js';
import { awsSinks, MemoryPersistenceLayer, memorySinks } from '../peer-sinks.js';
import { collectGarbage, nowMs, round, type Summary, summarize } from '../stats.js';
import { type WriteCaseSpec, writeCases } from './writes.js';

/** Requests the peer sends per record: idempotency put + aggregate update + completion update. */
export const PEER_WRITES_PER_VALID = 3;
export const PEER_WRITES_PER_INVALID = 2;
/** Records the peer runs on per case against the emulator (three requests each; the rest is counted). */
const PEER_MEASURED_RECORDS = { quick: 300, full: 1_000 } as const;

export interface PeerCpuResult {
  sensors: number;
  batchSize: number;
  runs: number;
  recordsPerSecond: { peer: Summary; naive: Summary; floor: Summary };
  msPerBatch: { peer: number; naive: number; floor: number };
  peerVsNaive: number;
}

export interface PeerCaseResult {
  id: string;
  scenario: string;
  sensors: number;
  rateHz: number;
  batchSize: number;
  records: number;
  batches: number;
  valid: number;
  invalid: number;
  alerts: number;
  writeRequests: number;
  writeRequestsPerReading: number;
  writeUnitsPerReading: number;
  readUnitsPerReading: number;
  publishesPerReading: number;
  measured: {
    records: number;
    writeRequests: number;
    readRequests: number;
    publishes: number;
    byCommand: Record<string, number>;
    formulaMatched: boolean;
    /** Wall-clock records/s of the peer against the in-process emulators (not a Lambda number). */
    emulatorRecordsPerSecond: number;
  };
}

export interface PeerThroughput {
  scenario: string;
  records: number;
  batchSize: number;
  /** Wall-clock records/s against the same in-process emulators, same records. */
  recordsPerSecond: { windowpane: number; naive: number; peer: number };
}

export interface PeerSuiteResult {
  cpu: PeerCpuResult;
  cases: PeerCaseResult[];
  throughput: PeerThroughput;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1_000;
};

type CpuVariant = 'peer' | 'naive' | 'floor';

async function runCpuOnce(variant: CpuVariant, event: KinesisStreamEvent, config: WindowpaneConfig) {
  if (variant === 'floor') return floorProcessBatch(event, config.metrics[0]!, new Map());
  if (variant === 'naive') return naiveProcessBatch(event, newNaiveState(), config).valid;
  // A fresh store per repetition: a second pass over the same records would take
  // Powertools' cheaper "already completed" path.
  const handler = buildPeerHandler({
    config,
    persistence: new MemoryPersistenceLayer(),
    sinks: memorySinks(),
  });
  const c0 = cpuMs();
  const response = await handler(event, benchContext());
  const spent = cpuMs() - c0;
  if (response.batchItemFailures.length > 0) throw new BenchSuiteError('the peer failed records in memory');
  return { spent, valid: handler.counters.valid };
}

async function cpuSample(
  variant: CpuVariant,
  event: KinesisStreamEvent,
  config: WindowpaneConfig,
  minMs: number,
) {
  let cpu = 0;
  let reps = 0;
  while (cpu < minMs) {
    if (variant === 'peer') {
      const r = await runCpuOnce('peer', event, config);
      cpu += (r as { spent: number }).spent;
    } else {
      const c0 = cpuMs();
      await runCpuOnce(variant, event, config);
      cpu += cpuMs() - c0;
    }
    reps++;
  }
  return (reps * event.Records.length * 1_000) / cpu;
}

async function measureCpu(ctx: BenchContext, config: WindowpaneConfig): Promise<PeerCpuResult> {
  const sensors = 1_000;
  const batchSize = ctx.quick ? 1_000 : 10_000;
  const runs = ctx.quick ? 3 : 7;
  const minMs = ctx.quick ? 25 : 250;
  // The batch after 90 s of the fleet, as the pure suite measures.
  const history = Math.ceil((sensors * (ctx.quick ? 20 : 90)) / batchSize) * batchSize;
  const event = toEvents(fleetRecords({ sensors, rateHz: 1 }, history + batchSize), batchSize).pop()!;
  const variants: CpuVariant[] = ['peer', 'naive', 'floor'];
  for (const v of variants) await cpuSample(v, event, config, minMs * 2); // warm-up
  const samples: Record<CpuVariant, number[]> = { peer: [], naive: [], floor: [] };
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(run + k) % variants.length]!;
      collectGarbage();
      samples[v].push(await cpuSample(v, event, config, minMs));
    }
  }
  const rates = {
    peer: roundSummary(summarize(samples.peer)),
    naive: roundSummary(summarize(samples.naive)),
    floor: roundSummary(summarize(samples.floor)),
  };
  const ms = (v: CpuVariant) => round((batchSize * 1_000) / rates[v].median, 3);
  return {
    sensors,
    batchSize,
    runs,
    recordsPerSecond: rates,
    msPerBatch: { peer: ms('peer'), naive: ms('naive'), floor: ms('floor') },
    peerVsNaive: round(rates.peer.median / rates.naive.median, 3),
  };
}

const destroy = (c: AwsClients) => {
  c.kinesis.destroy();
  c.dynamodb.destroy();
  c.sns.destroy();
  c.sqs.destroy();
};

async function peerTables(clients: AwsClients, prefix: string) {
  const idempotency = `${prefix}-peer-idempotency`;
  const aggregates = `${prefix}-peer-aggregates`;
  await createActiveTable(clients.dynamodb, {
    TableName: idempotency,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
  });
  await createActiveTable(clients.dynamodb, {
    TableName: aggregates,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'sensorId', AttributeType: 'S' },
      { AttributeName: 'windowKey', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'sensorId', KeyType: 'HASH' },
      { AttributeName: 'windowKey', KeyType: 'RANGE' },
    ],
  });
  const topic = await clients.sns.send(new CreateTopicCommand({ Name: `${prefix}-peer-alerts` }));
  return { idempotency, aggregates, topicArn: topic.TopicArn! };
}

/** Runs the peer on `events` against the emulators; returns the meter's totals and the wall time. */
async function runPeerOnEmulator(
  endpoints: EmulatorEndpoints,
  events: KinesisStreamEvent[],
  config: WindowpaneConfig,
) {
  const meter = new RequestMeter();
  const clients = createClients({ ...localClientOptions(endpoints), decorate: meter.decorate });
  try {
    const t = await peerTables(clients, uniquePrefix('bench-peer'));
    const handler = buildPeerHandler({
      config,
      persistence: new DynamoDBPersistenceLayer({
        tableName: t.idempotency,
        awsSdkV3Client: clients.dynamodb,
      }),
      sinks: awsSinks({
        doc: clients.doc,
        aggregatesTable: t.aggregates,
        sns: clients.sns,
        topicArn: t.topicArn,
      }),
    });
    const t0 = nowMs();
    for (const event of events) {
      const response = await handler(event, benchContext());
      if (response.batchItemFailures.length > 0) {
        throw new BenchSuiteError(`the peer reported ${response.batchItemFailures.length} failed record(s)`);
      }
    }
    const wallMs = nowMs() - t0;
    return { totals: meter.totals, wallMs, counters: handler.counters };
  } finally {
    destroy(clients);
  }
}

async function runPeerCase(
  endpoints: EmulatorEndpoints,
  spec: WriteCaseSpec,
  config: WindowpaneConfig,
  measuredRecords: number,
) {
  const records = fleetRecords({ sensors: spec.sensors, rateHz: spec.rateHz }, spec.records);
  const measured = Math.min(records.length, measuredRecords);
  const prefixEvents = toEvents(records.slice(0, measured), spec.batchSize);
  const run = await runPeerOnEmulator(endpoints, prefixEvents, config);
  const d = run.totals.dynamodb;
  const c = run.counters;
  const expected = PEER_WRITES_PER_VALID * c.valid + PEER_WRITES_PER_INVALID * c.invalid;
  const formulaMatched = d.writeRequests === expected && run.totals.sns.publishes === c.alerts;

  // The whole case, counted with the formula from the same parse.
  const events = toEvents(records, spec.batchSize);
  const state = newNaiveState();
  let valid = 0;
  let alerts = 0;
  for (const event of events) {
    const r = naiveProcessBatch(event, state, config);
    valid += r.valid;
    alerts += r.alerts.length;
  }
  const invalid = records.length - valid;
  const writes = PEER_WRITES_PER_VALID * valid + PEER_WRITES_PER_INVALID * invalid;
  const n = records.length;
  const result: PeerCaseResult = {
    id: `peer:${spec.scenario}`,
    scenario: spec.scenario!,
    sensors: spec.sensors,
    rateHz: spec.rateHz,
    batchSize: spec.batchSize,
    records: n,
    batches: events.length,
    valid,
    invalid,
    alerts,
    writeRequests: writes,
    writeRequestsPerReading: round(writes / n, 5),
    // Every peer item is far below 1 KB: one write unit per request; no reads on the happy path.
    writeUnitsPerReading: round((d.writeUnits / Math.max(1, d.writeRequests)) * (writes / n), 5),
    readUnitsPerReading: round(d.readUnits / measured, 5),
    publishesPerReading: round(alerts / n, 5),
    measured: {
      records: measured,
      writeRequests: d.writeRequests,
      readRequests: d.readRequests,
      publishes: run.totals.sns.publishes,
      byCommand: d.byCommand,
      formulaMatched,
      emulatorRecordsPerSecond: round((measured * 1_000) / run.wallMs),
    },
  };
  return { result, prefixEvents };
}

/** windowpane, the tutorial writer and the peer on the same records against the same emulators. */
async function throughput(
  endpoints: EmulatorEndpoints,
  spec: WriteCaseSpec,
  events: KinesisStreamEvent[],
  peerRecordsPerSecond: number,
  config: WindowpaneConfig,
): Promise<PeerThroughput> {
  const records = events.reduce((n, e) => n + e.Records.length, 0);
  const cloud = await provisionLocalCloud(endpoints, { config, prefix: uniquePrefix('bench-peer-wp') });
  const clients = createClients(localClientOptions(endpoints));
  try {
    const deps = buildBatchDeps(parseHandlerEnv(defaultDeploymentEnv(cloud.env)), clients);
    const t0 = nowMs();
    for (const event of events) {
      const { report } = await processBatch(deps, event);
      if (report.failedSensors > 0)
        throw new BenchSuiteError('processBatch failed sensors in the peer suite');
    }
    const t1 = nowMs();
    const naiveTables = {
      windows: `${cloud.resources.stream.name}-nw`,
      alerts: `${cloud.resources.stream.name}-na`,
    };
    for (const [name, keys] of [
      [naiveTables.windows, ['sensorId', 'windowKey']],
      [naiveTables.alerts, ['alertId']],
    ] as const) {
      await createActiveTable(clients.dynamodb, {
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: keys.map((k) => ({ AttributeName: k, AttributeType: 'S' as const })),
        KeySchema: keys.map((k, i) => ({
          AttributeName: k,
          KeyType: i === 0 ? ('HASH' as const) : ('RANGE' as const),
        })),
      });
    }
    const writer = new NaiveWriter(clients.doc, naiveTables, config);
    const state = newNaiveState();
    const t2 = nowMs();
    for (const event of events) await writer.writeBatch(event, state);
    const t3 = nowMs();
    return {
      scenario: spec.scenario!,
      records,
      batchSize: spec.batchSize,
      recordsPerSecond: {
        windowpane: round((records * 1_000) / (t1 - t0)),
        naive: round((records * 1_000) / (t3 - t2)),
        peer: peerRecordsPerSecond,
      },
    };
  } finally {
    destroy(clients);
    cloud.destroyClients();
  }
}

export async function runPeerSuite(ctx: BenchContext): Promise<PeerSuiteResult> {
  const config = parseConfig({ ...DEFAULT_CONFIG, stream: { ...DEFAULT_CONFIG.stream, shardCount: 1 } });
  ctx.log('peer: CPU of the Powertools handler (in-memory persistence), naive and floor, same batch');
  const cpu = await measureCpu(ctx, config);
  ctx.log(
    `peer: records per CPU-second: peer ${cpu.recordsPerSecond.peer.median}, naive ${cpu.recordsPerSecond.naive.median}, ` +
      `floor ${cpu.recordsPerSecond.floor.median}`,
  );
  const endpoints = await ctx.endpoints();
  const cases: PeerCaseResult[] = [];
  let first: { spec: WriteCaseSpec; events: KinesisStreamEvent[]; rate: number } | undefined;
  for (const spec of writeCases(ctx.quick).filter((c) => c.group === 'cost')) {
    const t0 = nowMs();
    const measured = ctx.quick ? PEER_MEASURED_RECORDS.quick : PEER_MEASURED_RECORDS.full;
    const { result, prefixEvents } = await runPeerCase(endpoints, spec, config, measured);
    if (!result.measured.formulaMatched) {
      throw new BenchSuiteError(
        `peer ${spec.scenario}: sent ${result.measured.writeRequests} writes and ${result.measured.publishes} publishes, ` +
          `not ${PEER_WRITES_PER_VALID} per valid record + ${PEER_WRITES_PER_INVALID} per invalid one and one per alert`,
      );
    }
    cases.push(result);
    first ??= { spec, events: prefixEvents, rate: result.measured.emulatorRecordsPerSecond };
    ctx.log(
      `peer: ${spec.scenario}: ${result.writeRequestsPerReading} writes/reading, ` +
        `${result.measured.emulatorRecordsPerSecond} rec/s against the emulator [${Math.round((nowMs() - t0) / 1_000)} s]`,
    );
  }
  if (!first) throw new BenchSuiteError('no cost scenarios to run the peer on');
  const tput = await throughput(endpoints, first.spec, first.events, first.rate, config);
  return { cpu, cases, throughput: tput };
}

function roundSummary(s: Summary): Summary {
  return {
    median: round(s.median),
    min: round(s.min),
    max: round(s.max),
    samples: s.samples.map((x) => round(x)),
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export function peerHeadlines(r: PeerSuiteResult): Headline[] {
  const t = r.throughput.recordsPerSecond;
  const out: Headline[] = [
    {
      suite: 'peer',
      metric: `Powertools peer CPU, ${fmt(r.cpu.sensors)} sensors, ${fmt(r.cpu.batchSize)}-record batch`,
      value: r.cpu.recordsPerSecond.peer.median,
      unit: 'records/s',
      display: `${fmt(r.cpu.recordsPerSecond.peer.median)} rec/CPU-s (${r.cpu.peerVsNaive.toFixed(2)}x naive)`,
    },
    {
      suite: 'peer',
      metric: `against the emulator, ${r.throughput.records} records (${r.throughput.scenario})`,
      value: t.peer,
      unit: 'records/s',
      display: `windowpane ${fmt(t.windowpane)} / naive ${fmt(t.naive)} / peer ${fmt(t.peer)} rec/s`,
    },
  ];
  for (const c of r.cases) {
    out.push({
      suite: 'peer',
      metric: `Powertools peer writes per reading, ${c.scenario}`,
      value: c.writeRequestsPerReading,
      unit: 'writes',
      display: `${c.writeRequestsPerReading} (${c.measured.records} records measured)`,
    });
  }
  return out;
}
