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
 * Set-up runs in named steps (plan.ts, lifecycle.ts) under one deadline (deadline.ts):
 * a failure or a silent endpoint ends it with a message naming the step and endpoint.
 */
import type { WindowpaneConfig } from '../../functions/domain/config.js';
import { takeOverClaims } from '../../functions/idle-sweeper/claim-takeover.js';
import {
  type AwsClients,
  type ClientOptions,
  type ClientTimeouts,
  createClients,
  destroyClients,
} from '../../functions/lib/clients.js';
import { STATE_TABLE } from '../../functions/lib/resources.js';
import { flushOpenWindows } from '../../functions/pipeline/flush.js';
import type { BatchReport } from '../../functions/pipeline/report.js';
import type { WindowHandler } from '../../functions/window-handler/build.js';
import type { ChaosOptions, ChaosRun } from '../chaos/index.js';
import {
  type EmulatorEndpoints,
  findTable,
  type ProvisionedResources,
  provisionResources,
} from '../cloud/index.js';
import { clientEnv, loadBundledHandler } from '../deploy/bundle.js';
import type { StackTarget } from '../deploy/stack-target.js';
import type { BatchInfo, LocalEventSourceMapping, MappingStats } from '../esm/index.js';
import type { LocalSchemaRegistry } from '../registry/local-schema-registry.js';
import { DEFAULT_SETUP_TIMEOUT_MS, SetupDeadline } from './deadline.js';
import { deleteResources, type LocalCloudHandle, openStream, SETUP_STEPS, startCloud } from './lifecycle.js';
import { collectOutputs, type PipelineOutputs, scanAll } from './outputs.js';
import { type ChosenPlan, choosePlan } from './plan.js';
import { describeEndpoints } from './target.js';
import { startIdleSweeper, type Wiring, wireHandler } from './wiring.js';

export { DEFAULT_SETUP_TIMEOUT_MS, SetupError, SetupTimeoutError } from './deadline.js';
export { compareAlerts, compareWindowLines, type PipelineOutputs, scanAll } from './outputs.js';
export * from './plan.js';
export { describeEndpoints, endpointTarget } from './target.js';
export type { BatchInfo, MappingStats };

export interface LocalPipelineOptions {
  config: WindowpaneConfig;
  /** An AWS-compatible endpoint (see `endpointTarget`): no emulators are started. */
  target?: ClientOptions;
  /** Per-request limits of every client (default LOCAL_TIMEOUTS). */
  timeouts?: Partial<ClientTimeouts>;
  /** Budget for the set-up steps after the emulators run (default DEFAULT_SETUP_TIMEOUT_MS). */
  setupTimeoutMs?: number;
  /** Appended to a set-up timeout's message (the CLI names its flag). */
  setupTimeoutHint?: string;
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
  /**
   * A deployed stack on `target` (`--stack`): its resources, deployed settings and bundled
   * handler are used; nothing is provisioned and none of its resources is deleted.
   */
  stack?: StackTarget;
  /** Lines the user should see: where resources came from, notices. */
  log?: (line: string) => void;
  /** Details: emulator start-up, the mapping's own log. */
  debug?: (line: string) => void;
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
  /** The schema registry stand-in the handler reads Avro with (`--format avro` producers register here). */
  schemaRegistry: LocalSchemaRegistry;
  /** Chaos mode's plan, handler wrapper and figures (when `chaos` was given). */
  chaos?: ChaosRun;
  /**
   * Closes every open window of every sensor in the state table (end of a replay). With
   * carried state a sensor's table item lags its carried state until the tumbling window
   * ends: call `mapping.inputComplete()` and `mapping.drain()` first, as a replay does, so
   * every window's final invocation has checkpointed its sensors. A claim left after that
   * is taken over, its sensor caught up from the shard, before its windows close
   * (SEMANTICS.md CS6).
   */
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

export async function startLocalPipeline(opts: LocalPipelineOptions): Promise<LocalPipeline> {
  const log = opts.log ?? (() => {});
  const debug = opts.debug ?? (() => {});
  const { stack } = opts;
  if (stack) opts = { ...opts, config: stack.config };
  const chosen = stack
    ? stack.chosen
    : choosePlan(opts.config, opts.prefix ?? 'windowpane', opts.resourceSource ?? 'auto', opts.cdkOut);
  log(chosen.source);

  const cloud = await startCloud(opts.target, opts.timeouts, debug);
  const clients = createClients(cloud.clientOptions);
  const release = async () => {
    destroyClients(clients);
    await cloud.stop();
  };
  let resources: ProvisionedResources;
  let wiring: Wiring;
  try {
    const deadline = new SetupDeadline({
      timeoutMs: opts.setupTimeoutMs ?? DEFAULT_SETUP_TIMEOUT_MS,
      where: describeEndpoints(cloud.clientOptions),
      // Closing the clients ends the step's requests, which would otherwise wait on.
      onTimeout: () => destroyClients(clients),
      ...(opts.setupTimeoutHint ? { hint: opts.setupTimeoutHint } : {}),
    });
    resources = stack
      ? stack.resources
      : await deadline.step(SETUP_STEPS.provision, () =>
          provisionResources(clients, (chosen as ChosenPlan).plan, { log }),
        );
    await deadline.step(SETUP_STEPS.openStream, () =>
      openStream(clients, resources.stream.name, chosen.settings.startingPosition),
    );
    const invoke = stack
      ? await loadBundledHandler(stack.handlerBundle, resources, stack.config, clientEnv(cloud.clientOptions))
      : undefined;
    wiring = wireHandler(
      { ...opts, ...(invoke ? { invoke } : {}) },
      chosen,
      clients,
      cloud.clientOptions,
      resources,
    );
    wiring.mapping.start();
  } catch (err) {
    await release();
    throw err;
  }
  const sweeper = opts.idleSweep
    ? startIdleSweeper(
        wiring.env,
        cloud.clientOptions,
        opts.idleSweepIntervalMs ?? chosen.sweepIntervalMs,
        log,
        debug,
        wiring.schemaRegistry,
      )
    : undefined;
  return runningPipeline({
    opts,
    chosen,
    cloud,
    clients,
    resources,
    wiring,
    release,
    ...(sweeper ? { sweeper } : {}),
  });
}

/** The handle of a started pipeline: its parts, and flush, collect and one stop. */
function runningPipeline(parts: {
  opts: LocalPipelineOptions;
  chosen: Pick<ChosenPlan, 'source'>;
  cloud: LocalCloudHandle;
  clients: AwsClients;
  resources: ProvisionedResources;
  wiring: Wiring;
  release: () => Promise<void>;
  sweeper?: { stop(): Promise<void> };
}): LocalPipeline {
  const { opts, cloud, clients, resources, wiring, release, sweeper } = parts;
  const { handler, mapping, chaos } = wiring;
  // A deployed stack's resources are never the pipeline's to delete.
  const deleteOnStop = !opts.stack && (opts.deleteResourcesOnStop ?? opts.target !== undefined);
  let stopping: Promise<void> | undefined;
  return {
    mode: opts.target ? 'endpoint' : 'embedded',
    config: opts.config,
    clients,
    clientOptions: cloud.clientOptions,
    resources,
    ...(cloud.endpoints ? { endpoints: cloud.endpoints } : {}),
    ...(cloud.kinesisPid !== undefined ? { kinesisPid: cloud.kinesisPid } : {}),
    planSource: parts.chosen.source,
    handler,
    mapping,
    schemaRegistry: wiring.schemaRegistry,
    ...(chaos ? { chaos } : {}),

    async flush() {
      // A timed-out invocation may still be writing: the flush must see its commits.
      await chaos?.handler.settle();
      const state = findTable(resources, STATE_TABLE);
      const items = await scanAll(clients, state.name, state.def.partitionKey);
      const sensorIds = items.map((i) => String(i[state.def.partitionKey]));
      // The stream is drained and every window ended: a claim left is one no final
      // invocation released (a parent's last window, a state dropped in a window's last
      // batches, a final checkpoint that lost to a zombie's covering write, CS4), and its
      // sensor is caught up from the shard before its windows close (SEMANTICS.md CS6).
      return flushOpenWindows(handler.deps, sensorIds, {
        takeOver: (states, report) => takeOverClaims(handler.deps, states, resources.stream.name, report),
      });
    },

    collect(collectOpts = {}) {
      return collectOutputs(clients, resources, collectOpts.waitMs ?? 500);
    },

    stop() {
      stopping ??= (async () => {
        // No new sweep from here on (stop clears the timer at once); one in progress is awaited.
        const swept = sweeper?.stop();
        await mapping.stop();
        await chaos?.handler.close();
        await swept;
        try {
          if (deleteOnStop) await deleteResources(clients, resources, opts.log ?? (() => {}));
          await opts.stack?.release();
        } finally {
          await release();
        }
      })();
      return stopping;
    },
  };
}
