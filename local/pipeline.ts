/**
 * The whole pipeline on one machine, as `npm start` and `npm run replay` run it: the
 * resources (on the embedded emulators, or on any AWS-compatible endpoint such as
 * LocalStack), the real window handler, and the local event source mapping feeding it
 * from the stream with the configured Lambda settings.
 *
 *   const p = await startLocalPipeline({ config });
 *   ...put records to p.resources.stream.name...
 *   await p.mapping.drain();
 *   await p.flush();                      // close every open window (end of a replay)
 *   const outputs = await p.collect();    // final windows, alerts, late, invalid
 *   await p.stop();
 *
 * What to create comes from a synthesized CDK template when `cdk.out/` holds one (so the
 * local resources are the deployed ones), else from the configuration; one line says which.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DeleteStreamCommand } from '@aws-sdk/client-kinesis';
import { DeleteTopicCommand } from '@aws-sdk/client-sns';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ConfigError, type EventSourceConfig, type WindowpaneConfig } from '../functions/domain/config.js';
import type { Alert } from '../functions/domain/rules.js';
import type { FinalWindow, LateReading } from '../functions/domain/state.js';
import { buildSweeper } from '../functions/idle-sweeper/build.js';
import {
  type AwsClients,
  type ClientOptions,
  createClients,
  localClientOptions,
} from '../functions/lib/clients.js';
import type { InvalidRecordMessage } from '../functions/lib/effects.js';
import { parseHandlerEnv } from '../functions/lib/env.js';
import {
  ALERT_LEDGER_TABLE,
  RESULTS_TABLE,
  STATE_TABLE,
  type TableDefinition,
} from '../functions/lib/resources.js';
import { flushOpenWindows } from '../functions/pipeline/flush.js';
import type { BatchReport } from '../functions/pipeline/report.js';
import { buildHandler, type WindowHandler } from '../functions/window-handler/build.js';
import { resourcePlanFromTemplate, type ResourcePlan as TemplatePlan } from '../infra/resource-plan.js';
import {
  ChaosHandler,
  type ChaosOptions,
  type ChaosRun,
  chaosMappingSettings,
  createChaosRun,
} from './chaos/index.js';
import {
  AlertsTapFormatError,
  type DrainedMessage,
  drainQueue,
  type EmulatorEndpoints,
  findTable,
  handlerEnv,
  type ProvisionedResources,
  planFromConfig,
  provisionResources,
  type ResourcePlan,
  readAlertsTap,
  startEmulators,
} from './cloud/index.js';
import { REPO_ROOT } from './config.js';
import { type BatchInfo, LocalEventSourceMapping, type MappingStats } from './esm/index.js';
import { type WindowLine, windowLines } from './window-lines.js';

export type { BatchInfo, MappingStats };

const SERVICES = ['kinesis', 'dynamodb', 'sns', 'sqs'] as const;
type Service = (typeof SERVICES)[number];

/**
 * Where to run when not on the embedded emulators: `--endpoint URL` for every service, else
 * the SDK's own variables (`AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`). Returns
 * undefined when none is set. Region from `AWS_REGION` / `AWS_DEFAULT_REGION` (default
 * us-east-1); credentials from the standard variables, else LocalStack's `test`/`test`.
 */
export function endpointTarget(
  endpointFlag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ClientOptions | undefined {
  const endpoints: Partial<Record<Service, string>> = {};
  for (const service of SERVICES) {
    const url = endpointFlag ?? env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] ?? env.AWS_ENDPOINT_URL;
    if (url) endpoints[service] = url;
  }
  const set = Object.keys(endpoints);
  if (set.length === 0) return undefined;
  if (set.length < SERVICES.length) {
    const missing = SERVICES.filter((s) => !endpoints[s]).map((s) => `AWS_ENDPOINT_URL_${s.toUpperCase()}`);
    // Half the pipeline on an emulator and half on real AWS is never what anyone wants.
    throw new ConfigError(
      `an endpoint is set for ${set.join(', ')} but not for ${missing.join(', ')}: ` +
        'set AWS_ENDPOINT_URL (or --endpoint) for all of them',
    );
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  return {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoints,
    credentials:
      accessKeyId && secretAccessKey
        ? {
            accessKeyId,
            secretAccessKey,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          }
        : { accessKeyId: 'test', secretAccessKey: 'test' },
  };
}

// ---------------------------------------------------------------------------------------
// Resource plan: synthesized template first, configuration otherwise
// ---------------------------------------------------------------------------------------

export interface ChosenPlan {
  plan: ResourcePlan;
  settings: EventSourceConfig;
  /** How often the idle sweeper runs (the deployed schedule). */
  sweepIntervalMs: number;
  /** One line for the user: where the resources and mapping settings came from. */
  source: string;
}

/** The stack's default schedule: every `idleTimeoutMs`, rounded up to whole minutes. */
export function defaultSweepIntervalMs(config: WindowpaneConfig): number {
  return Math.max(1, Math.ceil(config.idleTimeoutMs / 60_000)) * 60_000;
}

const TABLE_DEFS: Record<'state' | 'results' | 'alertLedger', TableDefinition> = {
  state: STATE_TABLE,
  results: RESULTS_TABLE,
  alertLedger: ALERT_LEDGER_TABLE,
};

/**
 * The local plan for a template's resources: the same stream, tables (keys and TTL as
 * synthesized), alert topic and queues, named `<prefix>-<name in the template>` so that
 * several pipelines can share one set of emulators. An on-demand stream gets the
 * configured shard count (the emulators have no on-demand mode).
 */
export function planFromTemplatePlan(
  tp: TemplatePlan,
  config: WindowpaneConfig,
  prefix: string,
): ResourcePlan {
  const base = planFromConfig(config, { prefix });
  const named = (name: string) => `${prefix}-${name}`.slice(0, 80);
  const table = (role: keyof typeof TABLE_DEFS) => {
    const planned = tp.tables.find((t) => t.logicalId === tp.roles.tables[role]);
    if (!planned) throw new ConfigError(`template has no ${role} table`);
    const def: TableDefinition = {
      id: TABLE_DEFS[role].id,
      partitionKey: planned.partitionKey.name,
      ...(planned.sortKey ? { sortKey: planned.sortKey.name } : {}),
      ...(planned.ttlAttribute ? { ttlAttribute: planned.ttlAttribute } : {}),
    };
    return { name: named(planned.name), def };
  };
  const queue = (role: keyof TemplatePlan['roles']['queues']) => {
    const planned = tp.queues.find((q) => q.logicalId === tp.roles.queues[role]);
    if (!planned) throw new ConfigError(`template has no ${role} queue`);
    return { name: named(planned.name) };
  };
  const topic = tp.topics.find((t) => t.logicalId === tp.roles.alertTopic);
  if (!topic) throw new ConfigError('template has no alert topic');
  return {
    stream: {
      name: named(tp.stream.name),
      shardCount: tp.stream.shardCount ?? config.stream.shardCount,
    },
    ...(tp.resultsStream
      ? {
          resultsStream: { name: named(tp.resultsStream.name), shardCount: tp.resultsStream.shardCount ?? 1 },
        }
      : {}),
    tables: [table('state'), table('results'), table('alertLedger')],
    topic: { name: named(topic.name) },
    queues: {
      invalid: queue('invalid'),
      late: queue('late'),
      dlq: queue('handlerFailure'),
      alertsTap: base.queues.alertsTap,
    },
  };
}

/**
 * The template in `cdkOut` that `resourcePlanFromTemplate` understands, if any, and why
 * the others were passed over (another stack, or a stale template of another shape).
 */
export function findTemplatePlan(cdkOut: string): {
  found?: { file: string; plan: TemplatePlan };
  skipped: string[];
} {
  let files: string[];
  try {
    files = readdirSync(cdkOut).filter((f) => f.endsWith('.template.json'));
  } catch {
    return { skipped: [] };
  }
  const skipped: string[] = [];
  for (const file of files.sort()) {
    const full = path.join(cdkOut, file);
    try {
      return {
        found: { file: full, plan: resourcePlanFromTemplate(JSON.parse(readFileSync(full, 'utf8'))) },
        skipped,
      };
    } catch (err) {
      skipped.push(`${file}: ${(err as Error).message}`);
    }
  }
  return { skipped };
}

export function choosePlan(
  config: WindowpaneConfig,
  prefix: string,
  source: 'auto' | 'config',
  cdkOut = path.join(REPO_ROOT, 'cdk.out'),
): ChosenPlan {
  const { found, skipped } = source === 'auto' ? findTemplatePlan(cdkOut) : { skipped: [] };
  const label = 'resources and event source settings';
  if (found) {
    return {
      plan: planFromTemplatePlan(found.plan, config, prefix),
      settings: found.plan.eventSourceMapping.settings,
      sweepIntervalMs: found.plan.idleSweeper?.intervalMs ?? defaultSweepIntervalMs(config),
      source: `${label}: ${path.relative(process.cwd(), found.file) || found.file} (synthesized CDK template)`,
    };
  }
  const why =
    source === 'config'
      ? ''
      : skipped.length > 0
        ? ` (no usable template in cdk.out/: ${skipped.join('; ')})`
        : ' (no synthesized template in cdk.out/; `npm run synth` makes one)';
  return {
    plan: planFromConfig(config, { prefix }),
    settings: config.eventSource,
    sweepIntervalMs: defaultSweepIntervalMs(config),
    source: `${label}: configuration${why}`,
  };
}

// ---------------------------------------------------------------------------------------
// The running pipeline
// ---------------------------------------------------------------------------------------

export interface LocalPipelineOptions {
  config: WindowpaneConfig;
  /** An AWS-compatible endpoint (see `endpointTarget`): no emulators are started. */
  target?: ClientOptions;
  /** Resource name prefix (default `windowpane`). */
  prefix?: string;
  /** Delete the stream, tables, topic and queues on `stop()` (default: true on a target). */
  deleteResourcesOnStop?: boolean;
  /** `auto` prefers a synthesized template in cdk.out/ (default); `config` never looks. */
  resourceSource?: 'auto' | 'config';
  /** Where `auto` looks for templates (default: the repository's cdk.out/). */
  cdkOut?: string;
  /**
   * Run the idle sweeper on a timer, as the stack's schedule does (default off: a replay's
   * results must depend on its data only, and its flush closes every window anyway).
   */
  idleSweep?: boolean;
  /** Overrides the sweep interval (tests). */
  idleSweepIntervalMs?: number;
  /** Every batch the mapping invokes (the console's lag and throughput). */
  onBatch?: (info: BatchInfo) => void;
  /**
   * Chaos mode: the mapping invokes the handler through `local/chaos` (faults from the
   * seed) with unbounded retries and no record age limit; see local/chaos/README.md.
   */
  chaos?: ChaosOptions;
  /** Lines the user should see: where resources came from, notices. */
  log?: (line: string) => void;
  /** Details: emulator start-up, the mapping's own log. */
  debug?: (line: string) => void;
}

export interface PipelineOutputs {
  /** One line per (final window, metric), sorted by sensorId, windowStart, metric. */
  windows: WindowLine[];
  /** Alert bodies as delivered through SNS, once per alertId, sorted by timestamp, sensorId, rule. */
  alerts: Alert[];
  /** Late readings, once per id (arrival order not implied). */
  late: LateReading[];
  /** Invalid records, once per id. */
  invalid: InvalidRecordMessage[];
  /** On-failure messages of batches the mapping gave up on (records not processed). */
  failures: DrainedMessage[];
  /** Every alert message the tap received, repeats included (SNS is at-least-once). */
  alertMessages: Alert[];
}

export interface LocalPipeline {
  mode: 'embedded' | 'endpoint';
  config: WindowpaneConfig;
  clients: AwsClients;
  clientOptions: ClientOptions;
  resources: ProvisionedResources;
  /** Emulator endpoints (embedded mode). */
  endpoints?: EmulatorEndpoints;
  /** Pid of the kinesis-local child (embedded mode). */
  kinesisPid?: number;
  planSource: string;
  handler: WindowHandler;
  mapping: LocalEventSourceMapping;
  /** Chaos mode's plan, handler wrapper and figures (when `chaos` was given). */
  chaos?: ChaosRun;
  /** Closes every open window of every sensor in the state table (end of a replay). */
  flush(): Promise<BatchReport>;
  /**
   * Reads what the pipeline produced: the results table, and the alert-tap, late, invalid
   * and on-failure queues (whose messages are removed). `waitMs`: how long to wait for
   * messages still on their way once a queue is empty (default 500 ms).
   */
  collect(opts?: { waitMs?: number }): Promise<PipelineOutputs>;
  /** Stops the mapping, then the emulators (or deletes the resources on a target); idempotent. */
  stop(): Promise<void>;
}

export async function scanAll(
  clients: AwsClients,
  table: string,
  projection?: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.doc.send(
      new ScanCommand({
        TableName: table,
        ExclusiveStartKey: start,
        ...(projection ? { ProjectionExpression: projection } : {}),
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

export function compareWindowLines(a: WindowLine, b: WindowLine): number {
  return (
    cmp(a.sensorId, b.sensorId) ||
    a.windowStart - b.windowStart ||
    cmp(a.metric, b.metric) ||
    cmp(a.windowType, b.windowType) ||
    a.windowSizeMs - b.windowSizeMs
  );
}

export function compareAlerts(a: Alert, b: Alert): number {
  return a.timestamp - b.timestamp || cmp(a.sensorId, b.sensorId) || cmp(a.rule, b.rule);
}

/** Code-unit order, the same on every machine (localeCompare depends on the locale). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function dedupe<T>(items: readonly T[], id: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(id(item))) seen.set(id(item), item);
  return [...seen.values()];
}

export async function startLocalPipeline(opts: LocalPipelineOptions): Promise<LocalPipeline> {
  const { config } = opts;
  const log = opts.log ?? (() => {});
  const debug = opts.debug ?? (() => {});
  const prefix = opts.prefix ?? 'windowpane';
  const chosen = choosePlan(config, prefix, opts.resourceSource ?? 'auto', opts.cdkOut);
  log(chosen.source);

  let endpoints: EmulatorEndpoints | undefined;
  let kinesisPid: number | undefined;
  let stopEmulators: () => Promise<void> = async () => {};
  let clientOptions: ClientOptions;
  if (opts.target) {
    clientOptions = opts.target;
  } else {
    const emulators = await startEmulators({ log: debug });
    endpoints = emulators.endpoints;
    kinesisPid = emulators.kinesisPid;
    stopEmulators = () => emulators.stop();
    clientOptions = localClientOptions(endpoints);
  }

  const clients = createClients(clientOptions);
  const closeClients = () => {
    for (const c of [clients.kinesis, clients.dynamodb, clients.sns, clients.sqs]) c.destroy();
  };
  let resources: ProvisionedResources;
  let handler: WindowHandler;
  let mapping: LocalEventSourceMapping;
  let chaos: ChaosRun | undefined;
  try {
    resources = await provisionResources(clients, chosen.plan, { log });
    // The handler gets the environment a deployed function gets, parsed the same way.
    const env = parseHandlerEnv(handlerEnv(resources, config));
    handler = buildHandler(env, clientOptions);
    if (opts.chaos) {
      chaos = createChaosRun(
        opts.chaos,
        (plan) => new ChaosHandler({ plan, env, clientOptions, log: debug }),
      );
      log(
        `chaos mode: seed ${opts.chaos.seed}; the mapping retries without limit (retryAttempts -1, ` +
          'maxRecordAgeSeconds -1), so no record reaches the on-failure queue',
      );
    }
    mapping = new LocalEventSourceMapping({
      clients,
      streamName: resources.stream.name,
      settings: chaos ? chaosMappingSettings(chosen.settings) : chosen.settings,
      handler: chaos ? chaos.handler.invoke : handler,
      onFailureQueueUrl: resources.queues.dlq.url,
      functionName: `${prefix}-window-handler`,
      ...(opts.onBatch ? { onBatch: opts.onBatch } : {}),
      log: debug,
    });
    mapping.start();
  } catch (err) {
    closeClients();
    await stopEmulators();
    throw err;
  }

  const deleteOnStop = opts.deleteResourcesOnStop ?? opts.target !== undefined;
  let stopping: Promise<void> | undefined;

  // The sweeper is a second function on the same resources, built the first time it runs.
  let sweeper: ReturnType<typeof buildSweeper> | undefined;
  const buildSweeperOnce = () => {
    sweeper ??= buildSweeper(parseHandlerEnv(handlerEnv(resources, config)), clientOptions);
    return sweeper;
  };
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweepTimer = opts.idleSweep
    ? setInterval(() => {
        const fn = buildSweeperOnce();
        sweeping = sweeping
          .then(() => fn.sweep(undefined))
          .then((report) => {
            if (report.windowsFinalised > 0) {
              debug(
                `idle sweep: flushed ${report.windowsFinalised} window(s) of ${report.sensors} idle sensor(s)`,
              );
            }
          })
          .catch((err: unknown) =>
            log(`notice: idle sweep failed: ${(err as Error).message ?? String(err)}`),
          );
      }, opts.idleSweepIntervalMs ?? chosen.sweepIntervalMs)
    : undefined;
  sweepTimer?.unref();

  return {
    mode: opts.target ? 'endpoint' : 'embedded',
    config,
    clients,
    clientOptions,
    resources,
    ...(endpoints ? { endpoints } : {}),
    ...(kinesisPid !== undefined ? { kinesisPid } : {}),
    planSource: chosen.source,
    handler,
    mapping,
    ...(chaos ? { chaos } : {}),

    async flush() {
      // A timed-out invocation may still be writing: the flush must see its commits.
      await chaos?.handler.settle();
      const state = findTable(resources, STATE_TABLE);
      const items = await scanAll(clients, state.name, state.def.partitionKey);
      const sensorIds = items.map((i) => String(i[state.def.partitionKey]));
      return flushOpenWindows(handler.deps, sensorIds);
    },

    async collect(collectOpts = {}) {
      const waitMs = collectOpts.waitMs ?? 500;
      const results = findTable(resources, RESULTS_TABLE);
      const [items, envelopes, late, invalid, failures] = await Promise.all([
        scanAll(clients, results.name),
        readAlertsTap(clients, resources, { waitMs }),
        drainQueue(clients, resources.queues.late.url, { waitMs }),
        drainQueue(clients, resources.queues.invalid.url, { waitMs }),
        drainQueue(clients, resources.queues.dlq.url, { waitMs }),
      ]);
      const alerts = envelopes.map((e) => {
        try {
          return JSON.parse(e.Message) as Alert;
        } catch {
          throw new AlertsTapFormatError(`alert message ${e.MessageId} is not JSON: ${e.Message}`);
        }
      });
      return {
        windows: items
          .flatMap((item) => windowLines(item as unknown as FinalWindow))
          .sort(compareWindowLines),
        // SNS and SQS are at-least-once: a repeat carries the same id.
        alerts: dedupe(alerts, (a) => a.alertId).sort(compareAlerts),
        late: dedupe(
          late.map((m) => m.body as LateReading),
          (l) => l.id,
        ),
        invalid: dedupe(
          invalid.map((m) => m.body as InvalidRecordMessage),
          (m) => m.id,
        ),
        failures,
        alertMessages: alerts,
      };
    },

    stop() {
      stopping ??= (async () => {
        if (sweepTimer) clearInterval(sweepTimer);
        await mapping.stop();
        await chaos?.handler.close();
        await sweeping;
        try {
          if (deleteOnStop) await deleteResources(clients, resources, log);
        } finally {
          closeClients();
          await stopEmulators();
        }
      })();
      return stopping;
    },
  };
}

/** Best-effort cleanup on a shared endpoint: every failure is one notice, never an error. */
async function deleteResources(
  clients: AwsClients,
  resources: ProvisionedResources,
  log: (line: string) => void,
): Promise<void> {
  const streams = [resources.stream.name, ...(resources.resultsStream ? [resources.resultsStream.name] : [])];
  const attempts: [string, () => Promise<unknown>][] = [
    ...streams.map((name): [string, () => Promise<unknown>] => [
      `stream ${name}`,
      () => clients.kinesis.send(new DeleteStreamCommand({ StreamName: name })),
    ]),
    ...resources.tables.map((t): [string, () => Promise<unknown>] => [
      `table ${t.name}`,
      () => clients.dynamodb.send(new DeleteTableCommand({ TableName: t.name })),
    ]),
    [
      `topic ${resources.topic.name}`,
      () => clients.sns.send(new DeleteTopicCommand({ TopicArn: resources.topic.arn })),
    ],
    ...Object.values(resources.queues).map((q): [string, () => Promise<unknown>] => [
      `queue ${q.name}`,
      () => clients.sqs.send(new DeleteQueueCommand({ QueueUrl: q.url })),
    ]),
  ];
  const results = await Promise.allSettled(attempts.map(([, run]) => run()));
  results.forEach((r, i) => {
    if (r.status === 'rejected') {
      log(`notice: could not delete ${attempts[i]![0]}: ${(r.reason as Error).message ?? String(r.reason)}`);
    }
  });
}
