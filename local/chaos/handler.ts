/**
 * Chaos around the real window handler: what the local event source mapping invokes in
 * chaos mode. Nothing here touches the domain code; faults enter where they enter in AWS:
 *
 * - Containers. Each invocation runs in a "container" (a handler built with its own
 *   clients and its own in-process memory), one invocation at a time, as Lambda runs
 *   them. A container that crashed or timed out is thrown away and the next invocation
 *   gets a fresh one (a cold start), as Lambda replaces an execution environment.
 * - Client middleware (the clients' `decorate` hook) of the handler's clients only:
 *   DynamoDB throttling and 5xx errors, either absorbed by the SDK's own retries (thrown
 *   inside its retry loop on the first attempt) or surfaced to the handler (thrown
 *   outside, as when the SDK gave up); SNS publishes refused before sending, or accepted
 *   with the response lost; and the crash after k DynamoDB writes (the k+1-th write is
 *   never sent, every later call of that container fails).
 * - Invocations: a deadline shorter than the invocation (Lambda timeout: the mapping sees
 *   "Task timed out" and retries while the original invocation keeps running, a zombie
 *   racing the retry), a batch that succeeded delivered again at once (checkpoint lost),
 *   and an older, checkpointed batch of the same shard delivered again later.
 *
 * Injected deliveries (redelivery, duplicates) run in the lane of the batch that triggered
 * them, after it: they share its keys, so they never run beside another invocation of the
 * same sensors, exactly like a mapping's redelivery. Zombies are the one place two
 * invocations of one sensor overlap; the conditional writes make that harmless for state
 * and results. An SNS publish cannot be made conditional, so an alert can be published
 * twice (same alertId) when an invocation did not complete: `alertsAtRisk` lists the
 * alertIds SNS accepted in such invocations, with why, so a repeat can be accounted for.
 */
import {
  InternalServerError,
  ProvisionedThroughputExceededException,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import { InternalErrorException } from '@aws-sdk/client-sns';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { SchemaSource } from '../../functions/ingest/schema-source.js';
import type { ClientOptions } from '../../functions/lib/clients.js';
import type { HandlerEnv } from '../../functions/lib/env.js';
import type { BatchReport } from '../../functions/pipeline/report.js';
import { buildHandler, type WindowHandler } from '../../functions/window-handler/build.js';
import type { ChaosPlan } from './plan.js';

export class ChaosCrashError extends Error {
  constructor(message = 'chaos: the handler process died') {
    super(message);
    this.name = 'ChaosCrashError';
  }
}

export class ChaosTimeoutError extends Error {
  constructor(ms: number) {
    super(`Task timed out after ${(ms / 1000).toFixed(2)} seconds (chaos)`);
    this.name = 'ChaosTimeoutError';
  }
}

export class ChaosResponseLostError extends Error {
  constructor() {
    super('chaos: the publish was accepted but its response was lost');
    // What the SDK reports when a socket times out after the request went out.
    this.name = 'TimeoutError';
  }
}

const DYNAMODB_WRITES = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
]);

/**
 * Why an alert could be published twice. `sdkRetry`: SNS accepted the publish on the SDK's
 * second or later attempt; an earlier attempt failed without a usable answer (a timeout, a
 * reset, a 5xx) and may have been accepted too, as a lost response is.
 */
export type AtRiskCause = 'snsResponseLost' | 'crash' | 'timeout' | 'failed' | 'sdkRetry';

/** One publish SNS accepted, as the harness saw it (the evidence behind a repeat). */
export interface PublishSeen {
  container: number;
  invocation: number;
  /** The SDK's attempts for this publish (more than one: see `sdkRetry`). */
  attempts: number;
  calm: boolean;
  /** What the handler was told: the answer, a lost response, or a crash. */
  outcome: 'answered' | 'responseLost' | 'afterCrash';
}

export interface ChaosHandlerStats {
  /** Invocations by the mapping. */
  mappingInvocations: number;
  /** Invocations of the real handler (mapping's, redeliveries, duplicates). */
  handlerInvocations: number;
  /** Containers built (cold starts). */
  containers: number;
  /** Records the handler recognised as already processed (sum of BatchReport.duplicates). */
  duplicatesSuppressed: number;
  /** Conditional-write conflicts the handler met and resolved. */
  conflicts: number;
  /** Injected deliveries (redelivery, duplicate) that themselves failed (ignored, as their records were done). */
  injectedDeliveriesFailed: number;
  /** Zombies (timed-out invocations) still running. */
  zombiesRunning: number;
  /** Invocations run without faults because their batch had failed `maxChaoticAttempts` times. */
  calmInvocations: number;
}

interface Container {
  id: number;
  /** The harness's number of the invocation it runs now. */
  invocation: number;
  handler: WindowHandler;
  clients: { destroy(): void }[];
  dead: boolean;
  calm: boolean;
  writes: number;
  crashAtWrite?: number;
  /** AlertIds SNS accepted during the current invocation. */
  published: string[];
  lostResponses: string[];
}

export interface ChaosHandlerOptions {
  plan: ChaosPlan;
  env: HandlerEnv;
  clientOptions: ClientOptions;
  /** Where each container's handler reads Avro writer schemas (buildHandler's option). */
  schemaSource?: SchemaSource;
  /** Past events kept for duplicate delivery (default 32). */
  keepEvents?: number;
  log?: (line: string) => void;
}

type Middleware = (
  next: (args: { input: Record<string, unknown> }) => Promise<unknown>,
  context: { commandName?: string; [PENDING]?: Error },
) => (args: { input: Record<string, unknown> }) => Promise<unknown>;
interface MiddlewareStack {
  add(mw: Middleware, opts: { step: string; name: string; priority?: string }): void;
}

const PENDING = Symbol('chaosPendingFault');

export class ChaosHandler {
  readonly stats: ChaosHandlerStats = {
    mappingInvocations: 0,
    handlerInvocations: 0,
    containers: 0,
    duplicatesSuppressed: 0,
    conflicts: 0,
    injectedDeliveriesFailed: 0,
    zombiesRunning: 0,
    calmInvocations: 0,
  };
  /** alertId -> why it may have been published more than once. */
  readonly alertsAtRisk = new Map<string, Set<AtRiskCause>>();
  /** alertId -> every publish of it SNS accepted. */
  readonly publishes = new Map<string, PublishSeen[]>();
  private readonly idle: Container[] = [];
  private readonly zombies = new Set<Promise<unknown>>();
  private readonly attempts = new Map<string, number>();
  /** Successful events by shard, oldest first. */
  private readonly history = new Map<string, KinesisStreamEvent[]>();
  private readonly plan: ChaosPlan;

  constructor(private readonly opts: ChaosHandlerOptions) {
    this.plan = opts.plan;
  }

  /** The function the mapping invokes. */
  readonly invoke = async (
    event: KinesisStreamEvent,
    context: Context,
  ): Promise<KinesisStreamBatchResponse> => {
    this.stats.mappingInvocations++;
    const key = batchKey(event);
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    // Bounded chaos per batch: it always converges, whatever the seed.
    const calm = attempt > this.plan.maxChaoticAttempts;
    if (calm) this.stats.calmInvocations++;
    const response = await this.invokeOnce(event, context, { calm, mayTimeOut: true });
    if (response.batchItemFailures.length > 0) return response;
    this.attempts.delete(key);
    if (!calm && this.plan.decide('batchRedelivery')) {
      this.plan.injected('batchRedelivery');
      await this.injectedDelivery(event, context);
    }
    if (!calm && this.plan.decide('duplicateDelivery')) {
      const old = this.pastEventSharingKeys(event);
      if (old) {
        this.plan.injected('duplicateDelivery');
        await this.injectedDelivery(old, context);
      }
    }
    this.remember(event);
    return response;
  };

  /** Resolves once no zombie invocation is running (before reading the outputs). */
  async settle(): Promise<void> {
    while (this.zombies.size > 0) await Promise.allSettled([...this.zombies]);
  }

  /** Destroys the idle containers' clients (zombies destroy theirs when they end). */
  async close(): Promise<void> {
    await this.settle();
    for (const c of this.idle.splice(0)) for (const client of c.clients) client.destroy();
  }

  private async injectedDelivery(event: KinesisStreamEvent, context: Context): Promise<void> {
    try {
      const res = await this.invokeOnce(event, context, { calm: false, mayTimeOut: false });
      if (res.batchItemFailures.length > 0) this.stats.injectedDeliveriesFailed++;
    } catch {
      // Its records were processed before; a failure of the copy changes nothing.
      this.stats.injectedDeliveriesFailed++;
    }
  }

  private async invokeOnce(
    event: KinesisStreamEvent,
    context: Context,
    how: { calm: boolean; mayTimeOut: boolean },
  ): Promise<KinesisStreamBatchResponse> {
    const { plan } = this;
    const c = this.idle.pop() ?? this.build();
    c.calm = how.calm;
    c.writes = 0;
    c.published = [];
    c.lostResponses = [];
    delete c.crashAtWrite;
    if (!how.calm && plan.decide('handlerCrash'))
      c.crashAtWrite = plan.pick('handlerCrash', 0, plan.crashAtWriteMax);
    this.stats.handlerInvocations++;
    c.invocation = this.stats.handlerInvocations;
    const reportBefore = c.handler.lastReport();
    // A fresh copy, as Lambda deserializes each invocation's event, with a tumbling
    // window's fields (window, state, isFinalInvokeForWindow, ...) when the mapping has one.
    const copy: KinesisStreamEvent = {
      ...event,
      Records: event.Records.map((r) => ({ ...r, kinesis: { ...r.kinesis } })),
      ...('state' in event ? { state: structuredClone(event.state) } : {}),
    };
    const run = c.handler(copy, context).then(
      (response) => ({ ok: true as const, response }),
      (error: unknown) => ({ ok: false as const, error }),
    );

    if (how.mayTimeOut && !how.calm && plan.decide('lambdaTimeout')) {
      const ms = plan.pick('lambdaTimeout', 2, 120);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), ms);
      });
      const first = await Promise.race([run, deadline]);
      clearTimeout(timer);
      if (first === 'timeout') {
        plan.injected('lambdaTimeout');
        this.stats.zombiesRunning++;
        const zombie = run.then((outcome) => {
          this.stats.zombiesRunning--;
          this.markAtRisk(c.published, 'timeout');
          this.markAtRisk(c.lostResponses, 'snsResponseLost');
          if (outcome.ok) this.count(c, reportBefore);
          this.retire(c);
        });
        this.zombies.add(zombie);
        void zombie.finally(() => this.zombies.delete(zombie));
        throw new ChaosTimeoutError(ms);
      }
    }

    const outcome = await run;
    this.markAtRisk(c.lostResponses, 'snsResponseLost');
    if (c.dead) {
      this.markAtRisk(c.published, 'crash');
      this.retire(c);
      throw new ChaosCrashError();
    }
    if (!outcome.ok) {
      this.markAtRisk(c.published, 'failed');
      this.idle.push(c);
      throw outcome.error;
    }
    this.count(c, reportBefore);
    if (outcome.response.batchItemFailures.length > 0) this.markAtRisk(c.published, 'failed');
    this.idle.push(c);
    return outcome.response;
  }

  private count(c: Container, before: BatchReport | undefined): void {
    const report = c.handler.lastReport();
    if (!report || report === before) return;
    this.stats.duplicatesSuppressed += report.duplicates;
    this.stats.conflicts += report.conflicts;
  }

  private markAtRisk(alertIds: readonly string[], cause: AtRiskCause): void {
    for (const id of alertIds) {
      const causes = this.alertsAtRisk.get(id) ?? new Set<AtRiskCause>();
      causes.add(cause);
      this.alertsAtRisk.set(id, causes);
    }
  }

  private retire(c: Container): void {
    for (const client of c.clients) client.destroy();
  }

  private remember(event: KinesisStreamEvent): void {
    const shard = shardOf(event);
    if (!shard) return;
    const past = this.history.get(shard) ?? [];
    past.push(event);
    if (past.length > (this.opts.keepEvents ?? 32)) past.shift();
    this.history.set(shard, past);
  }

  /** An older event of the same shard whose keys overlap this one's: it belongs to this lane. */
  private pastEventSharingKeys(event: KinesisStreamEvent): KinesisStreamEvent | undefined {
    const shard = shardOf(event);
    const past = shard ? this.history.get(shard) : undefined;
    if (!past || past.length === 0) return undefined;
    const keys = new Set(event.Records.map((r) => r.kinesis.partitionKey));
    const candidates = past.filter((e) => e.Records.some((r) => keys.has(r.kinesis.partitionKey)));
    if (candidates.length === 0) return undefined;
    return candidates[this.plan.pick('duplicateDelivery', 0, candidates.length - 1)];
  }

  private build(): Container {
    this.stats.containers++;
    const container = {
      id: this.stats.containers,
      invocation: 0,
      clients: [] as { destroy(): void }[],
      dead: false,
      calm: false,
      writes: 0,
      published: [] as string[],
      lostResponses: [] as string[],
    } as Omit<Container, 'handler'> & { handler?: WindowHandler };
    const c = container as Container;
    const decorate: NonNullable<ClientOptions['decorate']> = (client, service) => {
      c.clients.push(client as unknown as { destroy(): void });
      const stack = client.middlewareStack as MiddlewareStack;
      stack.add(this.outerMiddleware(c, service), { step: 'initialize', name: 'chaosOuter' });
      // Inside the SDK's retry loop: a fault here is retried by the SDK, as a real one is.
      stack.add(this.innerMiddleware(), { step: 'deserialize', name: 'chaosInner' });
      return client;
    };
    c.handler = buildHandler(
      this.opts.env,
      { ...this.opts.clientOptions, decorate },
      this.opts.schemaSource ? { schemaSource: this.opts.schemaSource } : {},
    );
    return c;
  }

  private outerMiddleware(c: Container, service: string): Middleware {
    const { plan } = this;
    return (next, context) => async (args) => {
      if (c.dead) throw new ChaosCrashError();
      const command = context.commandName ?? '';
      if (service === 'dynamodb') {
        if (DYNAMODB_WRITES.has(command)) {
          if (c.crashAtWrite !== undefined && c.writes >= c.crashAtWrite) {
            c.dead = true;
            plan.injected('handlerCrash');
            throw new ChaosCrashError();
          }
          c.writes++;
        }
        if (!c.calm) {
          const fault = plan.decide('dynamodbThrottle')
            ? dynamodbThrottle(plan.pick('dynamodbThrottle', 0, 1) === 0)
            : plan.decide('dynamodb5xx')
              ? dynamodb5xx()
              : undefined;
          if (fault) {
            plan.injected(fault.name === 'InternalServerError' ? 'dynamodb5xx' : 'dynamodbThrottle');
            // One in three surfaces to the handler (the SDK gave up); the rest the SDK retries.
            if (plan.pick('dynamodb5xx', 0, 2) === 0) throw fault;
            context[PENDING] = fault;
          }
        }
        return next(args);
      }
      if (service === 'sns' && command === 'PublishCommand' && !c.calm) {
        if (plan.decide('snsPublishFailure')) {
          plan.injected('snsPublishFailure');
          throw new InternalErrorException({
            message: 'chaos: publish refused',
            $metadata: { httpStatusCode: 500 },
          });
        }
        const result = await next(args);
        const alertId = alertIdOf(args.input.Message);
        if (c.dead) {
          // SNS accepted it while another request of this container set off the crash: the
          // crash fell between this publish and its ledger write, so its retry may repeat it.
          if (alertId) {
            c.published.push(alertId);
            this.seen(c, alertId, result, 'afterCrash');
          }
          throw new ChaosCrashError();
        }
        if (plan.decide('snsResponseLost')) {
          plan.injected('snsResponseLost');
          if (alertId) {
            c.lostResponses.push(alertId);
            this.seen(c, alertId, result, 'responseLost');
          }
          throw new ChaosResponseLostError();
        }
        if (alertId) {
          c.published.push(alertId);
          this.seen(c, alertId, result, 'answered');
        }
        return result;
      }
      const result = await next(args);
      if (service === 'sns' && command === 'PublishCommand') {
        const alertId = alertIdOf(args.input.Message);
        if (alertId) {
          c.published.push(alertId);
          this.seen(c, alertId, result, 'answered');
        }
      }
      return result;
    };
  }

  private seen(c: Container, alertId: string, result: unknown, outcome: PublishSeen['outcome']): void {
    const attempts =
      (result as { output?: { $metadata?: { attempts?: number } } }).output?.$metadata?.attempts ?? 1;
    const log = this.publishes.get(alertId) ?? [];
    log.push({ container: c.id, invocation: c.invocation, attempts, calm: c.calm, outcome });
    this.publishes.set(alertId, log);
    if (attempts > 1) this.markAtRisk([alertId], 'sdkRetry');
  }

  private innerMiddleware(): Middleware {
    return (next, context) => async (args) => {
      const fault = context[PENDING];
      if (fault) {
        delete context[PENDING];
        throw fault;
      }
      return next(args);
    };
  }
}

function dynamodbThrottle(provisioned: boolean): Error {
  const $metadata = { httpStatusCode: 400 };
  return provisioned
    ? new ProvisionedThroughputExceededException({ message: 'chaos: throughput exceeded', $metadata })
    : new ThrottlingException({ message: 'chaos: throttled', $metadata });
}

function dynamodb5xx(): Error {
  return new InternalServerError({
    message: 'chaos: internal server error',
    $metadata: { httpStatusCode: 500 },
  });
}

/** The id a subscriber dedupes a message by: an alert's alertId, a transition's transitionId. */
function alertIdOf(message: unknown): string | undefined {
  if (typeof message !== 'string') return undefined;
  try {
    const body = JSON.parse(message) as { alertId?: unknown; transitionId?: unknown };
    const id = body.alertId ?? body.transitionId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

function shardOf(event: KinesisStreamEvent): string | undefined {
  const id = event.Records[0]?.eventID;
  if (!id) return undefined;
  const i = id.lastIndexOf(':');
  return i > 0 ? id.slice(0, i) : undefined;
}

/**
 * A batch by its first and last record: retries of the same records share it. A tumbling
 * window's final invocation has no records: it goes by its shard and window.
 */
function batchKey(event: KinesisStreamEvent): string {
  if (event.Records.length === 0) {
    const w = event as { shardId?: string; window?: { start: string } };
    return `final|${w.shardId ?? ''}|${w.window?.start ?? ''}`;
  }
  const first = event.Records[0]?.eventID ?? '';
  const last = event.Records[event.Records.length - 1]?.eventID ?? '';
  return `${first}|${last}|${event.Records.length}`;
}
