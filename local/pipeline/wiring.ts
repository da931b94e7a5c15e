/**
 * What runs on a local pipeline's resources: the real window handler (or chaos mode's
 * wrapper of it) behind the local event source mapping, reading Avro through the local
 * schema registry stand-in, and the idle sweeper on a timer.
 */
import type avro from 'avsc';
import type { WindowpaneConfig } from '../../functions/domain/config.js';
import { buildSweeper } from '../../functions/idle-sweeper/build.js';
import { READINGS_SCHEMA_NAME, readingAvroSchema } from '../../functions/ingest/reading-schema.js';
import type { SchemaSource } from '../../functions/ingest/schema-source.js';
import type { AwsClients, ClientOptions } from '../../functions/lib/clients.js';
import { type HandlerEnv, parseHandlerEnv } from '../../functions/lib/env.js';
import { buildHandler, type WindowHandler } from '../../functions/window-handler/build.js';
import {
  ChaosHandler,
  type ChaosOptions,
  type ChaosPlan,
  type ChaosRun,
  chaosMappingSettings,
  createChaosRun,
} from '../chaos/index.js';
import { handlerEnv, type ProvisionedResources } from '../cloud/index.js';
import { type BatchInfo, LocalEventSourceMapping, type MappingHandler } from '../esm/index.js';
import { LocalSchemaRegistry } from '../registry/local-schema-registry.js';
import type { ChosenPlan } from './plan.js';

/** What `wireHandler` needs of the pipeline's options. */
export interface WiringOptions {
  config: WindowpaneConfig;
  prefix?: string;
  chaos?: ChaosOptions;
  onBatch?: (info: BatchInfo) => void;
  /** What the mapping invokes instead of the handler built from source (a deployed bundle). */
  invoke?: MappingHandler;
  log?: (line: string) => void;
  debug?: (line: string) => void;
}

export interface Wiring {
  env: HandlerEnv;
  /** The registry stand-in the handler reads Avro writer schemas from (readings schema registered). */
  schemaRegistry: LocalSchemaRegistry;
  handler: WindowHandler;
  mapping: LocalEventSourceMapping;
  chaos?: ChaosRun;
}

/** The real handler (or chaos mode's wrapper of it) behind a mapping on the stream. */
export function wireHandler(
  opts: WiringOptions,
  chosen: Pick<ChosenPlan, 'settings'>,
  clients: AwsClients,
  clientOptions: ClientOptions,
  resources: ProvisionedResources,
): Wiring {
  const log = opts.log ?? (() => {});
  const debug = opts.debug ?? (() => {});
  // The handler gets the environment a deployed function gets, parsed the same way.
  const env = parseHandlerEnv(handlerEnv(resources, opts.config));
  // Locally the Glue Schema Registry is this stand-in, with the stack's readings schema.
  const schemaRegistry = new LocalSchemaRegistry();
  schemaRegistry.register(READINGS_SCHEMA_NAME, readingAvroSchema(opts.config.metrics) as avro.Schema);
  const handler = buildHandler(env, clientOptions, { schemaSource: schemaRegistry });
  let chaos: ChaosRun | undefined;
  if (opts.chaos) {
    chaos = createChaosRun(
      opts.chaos,
      (plan) => new ChaosHandler({ plan, env, clientOptions, schemaSource: schemaRegistry, log: debug }),
    );
    const retries = opts.chaos.retryAttempts;
    log(
      retries === undefined
        ? `chaos mode: seed ${opts.chaos.seed}; the mapping retries without limit (retryAttempts -1, ` +
            'maxRecordAgeSeconds -1), so no record reaches the on-failure queue'
        : `chaos mode: seed ${opts.chaos.seed}; the mapping retries a failed batch ${retries} time(s), ` +
            'then sends it to the on-failure queue (npm run recover -- dlq redrive brings it back)',
    );
  }
  const mapping = new LocalEventSourceMapping({
    clients,
    streamName: resources.stream.name,
    settings: chaos ? chaosMappingSettings(chosen.settings, opts.chaos?.retryAttempts) : chosen.settings,
    handler: chaos ? chaos.handler.invoke : (opts.invoke ?? handler),
    onFailureQueueUrl: resources.queues.dlq.url,
    functionName: `${opts.prefix ?? 'windowpane'}-window-handler`,
    ...(opts.onBatch ? { onBatch: opts.onBatch } : {}),
    // A tumbling window's state lost mid-window (carried state): the mapping asks per
    // invocation in the middle of a window, so without carried state this never fires.
    ...(chaos ? { faults: { windowStateFault: () => loseWindowState(chaos.plan) } } : {}),
    log: debug,
  });
  return { env, schemaRegistry, handler, mapping, ...(chaos ? { chaos } : {}) };
}

/**
 * The idle sweeper on a timer, as the stack's schedule runs it: a second function on the
 * same resources, built the first time it runs. `stop` waits for a sweep in progress.
 */
export function startIdleSweeper(
  env: HandlerEnv,
  clientOptions: ClientOptions,
  intervalMs: number,
  log: (line: string) => void,
  debug: (line: string) => void,
  schemaSource?: SchemaSource,
): { stop(): Promise<void> } {
  let sweeper: ReturnType<typeof buildSweeper> | undefined;
  let sweeping: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    sweeper ??= buildSweeper(env, clientOptions, Date.now, schemaSource);
    const fn = sweeper;
    sweeping = sweeping
      .then(() => fn.sweep(undefined))
      .then((report) => {
        if (report.windowsFinalised > 0) {
          debug(
            `idle sweep: flushed ${report.windowsFinalised} window(s) of ${report.sensors} idle sensor(s)`,
          );
        }
      })
      .catch((err: unknown) => log(`notice: idle sweep failed: ${(err as Error).message ?? String(err)}`));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await sweeping;
    },
  };
}

/** Chaos mode's `windowStateLost` decision, counted when it strikes. */
function loseWindowState(plan: ChaosPlan): boolean {
  if (!plan.decide('windowStateLost')) return false;
  plan.injected('windowStateLost');
  return true;
}
