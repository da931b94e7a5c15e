/**
 * The chaos plan: which fault applies where, decided by a seeded PRNG so that a seed fixes
 * the schedule of decisions, and how many faults of each kind were actually injected.
 *
 * Every fault kind draws from a stream of its own (derived from the seed and the kind's
 * name), so adding or removing draws of one kind never shifts the decisions of another.
 * What a seed fixes is each stream's sequence of decisions; which request or invocation
 * meets which decision also depends on the order in which concurrent lanes of the event
 * source mapping ask, which is timing. The outputs never depend on either: that is the
 * point of chaos mode.
 *
 * Rates are bounded (each below 0.5) and every fault is transient; with the mapping's
 * retries unbounded in chaos mode (see `chaosMappingSettings`) and at most
 * `maxChaoticAttempts` faulty invocations per batch, every record is eventually processed.
 * With bounded retries (`retryAttempts` below `maxChaoticAttempts`) some batches are
 * discarded to the on-failure queue instead, for `npm run recover` to bring back.
 */
import type { EventSourceConfig } from '../../functions/domain/config.js';

export const FAULT_KINDS = [
  /** DynamoDB answered ProvisionedThroughputExceededException / ThrottlingException. */
  'dynamodbThrottle',
  /** DynamoDB answered InternalServerError (HTTP 500). */
  'dynamodb5xx',
  /** SNS refused a publish (nothing was published). */
  'snsPublishFailure',
  /** SNS accepted a publish but the response was lost: the handler sees an error. */
  'snsResponseLost',
  /** The handler's process died when attempting its k-th DynamoDB write of an invocation. */
  'handlerCrash',
  /** A batch that succeeded was delivered again (its checkpoint was "lost"). */
  'batchRedelivery',
  /** An older batch, long checkpointed, was delivered again. */
  'duplicateDelivery',
  /** The invocation outlived its deadline: the mapping saw a timeout, the work went on. */
  'lambdaTimeout',
  /**
   * Carried state only (a tumbling window): an invocation in the middle of a window was
   * handed `{}` instead of the window's state, as after a cold start that lost it.
   */
  'windowStateLost',
  /** The stream was resharded (one count per UpdateShardCount / Split / Merge). */
  'reshard',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type FaultCounts = Record<FaultKind, number>;

/** Probabilities per decision; `reshard` is not random (it happens at fixed points of a run). */
export type ChaosRates = Record<Exclude<FaultKind, 'reshard'>, number>;

/**
 * Per DynamoDB / SNS request, and per invocation for the rest. Low enough that a run
 * still makes steady progress, high enough that a 100k-record run meets every kind often.
 */
export const DEFAULT_CHAOS_RATES: ChaosRates = {
  dynamodbThrottle: 0.01,
  dynamodb5xx: 0.005,
  snsPublishFailure: 0.04,
  snsResponseLost: 0.02,
  handlerCrash: 0.05,
  batchRedelivery: 0.05,
  duplicateDelivery: 0.05,
  lambdaTimeout: 0.03,
  windowStateLost: 0.05,
};

/** Kinds that only a carried state (eventSource.tumblingWindowSeconds > 0) can meet. */
export const CARRIED_ONLY_FAULT_KINDS: readonly FaultKind[] = ['windowStateLost'];

export class ChaosPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChaosPlanError';
  }
}

/** sfc32: small, fast, and the same on every platform (Math.random cannot be seeded). */
export function sfc32(a: number, b: number, c: number, d: number): () => number {
  return () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** 32-bit FNV-1a, to derive one stream per kind from the seed. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A PRNG for `label` under `seed`; the first draws are discarded to mix the state. */
export function seededStream(seed: number, label: string): () => number {
  const h = fnv1a(`${seed >>> 0}:${label}`);
  const next = sfc32(0x9e3779b9, h, fnv1a(label), seed >>> 0);
  for (let i = 0; i < 12; i++) next();
  return next;
}

export interface ChaosPlanOptions {
  rates?: Partial<ChaosRates>;
  /** Faulty invocations of one batch (by its first record) before it runs undisturbed (default 3). */
  maxChaoticAttempts?: number;
  /**
   * Bounded retries (`--retry-attempts N`): the mapping retries a failed batch at most N
   * times, then sends it to the on-failure queue, as a deployed stack does. Unset: without
   * limit (`chaosMappingSettings`). 0 to 10,000, the config's range.
   */
  retryAttempts?: number;
  /**
   * A crash strikes at an invocation's k-th DynamoDB write, k drawn from 0 to this (default
   * 24). An invocation that writes less than k times does not crash, so a handler that
   * writes rarely (carried state) meets crashes only with a lower bound.
   */
  crashAtWriteMax?: number;
}

export class ChaosPlan {
  readonly rates: ChaosRates;
  readonly maxChaoticAttempts: number;
  readonly retryAttempts: number | undefined;
  readonly crashAtWriteMax: number;
  private readonly streams = new Map<string, () => number>();
  private readonly counts: FaultCounts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as FaultCounts;

  constructor(
    readonly seed: number,
    opts: ChaosPlanOptions = {},
  ) {
    if (!Number.isInteger(seed)) throw new ChaosPlanError(`the chaos seed must be an integer, got ${seed}`);
    this.rates = { ...DEFAULT_CHAOS_RATES, ...opts.rates };
    for (const [kind, rate] of Object.entries(this.rates)) {
      // A rate of 0.5 or more could keep a batch failing for long stretches; chaos mode
      // must always converge.
      if (!(rate >= 0 && rate < 0.5)) {
        throw new ChaosPlanError(`chaos rate ${kind} must be in [0, 0.5), got ${rate}`);
      }
    }
    this.maxChaoticAttempts = opts.maxChaoticAttempts ?? 3;
    const retries = opts.retryAttempts;
    if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0 && retries <= 10_000)) {
      throw new ChaosPlanError(`chaos retryAttempts must be a whole number from 0 to 10000, got ${retries}`);
    }
    this.retryAttempts = retries;
    const crashMax = opts.crashAtWriteMax ?? 24;
    if (!(Number.isInteger(crashMax) && crashMax >= 0)) {
      throw new ChaosPlanError(`chaos crashAtWriteMax must be a whole number, got ${crashMax}`);
    }
    this.crashAtWriteMax = crashMax;
  }

  private stream(label: string): () => number {
    let s = this.streams.get(label);
    if (!s) {
      s = seededStream(this.seed, label);
      this.streams.set(label, s);
    }
    return s;
  }

  /** The next decision of `kind`'s stream: true with probability `rates[kind]`. Not counted. */
  decide(kind: keyof ChaosRates): boolean {
    return this.stream(kind)() < this.rates[kind];
  }

  /** A whole number in [min, max] from `kind`'s stream (where a fault strikes, which variant). */
  pick(kind: FaultKind, min: number, max: number): number {
    return min + Math.floor(this.stream(`${kind}:pick`)() * (max - min + 1));
  }

  /** Records a fault that was actually injected. */
  injected(kind: FaultKind): void {
    this.counts[kind]++;
  }

  faults(): FaultCounts {
    return { ...this.counts };
  }

  totalFaults(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
}

/**
 * The mapping settings chaos mode runs with: by default retries unbounded and no record
 * age limit, as Lambda allows (-1). Chaos faults are transient, so a bounded retry count
 * can only turn them into records sent to the on-failure queue, and then the outputs
 * differ from a clean run's until `npm run recover` brings them back: that is what the
 * bounded variant (`retryAttempts`) is for. The record age limit stays off either way, so
 * only the retry count decides what is discarded.
 */
export function chaosMappingSettings(settings: EventSourceConfig, retryAttempts?: number): EventSourceConfig {
  return { ...settings, retryAttempts: retryAttempts ?? -1, maxRecordAgeSeconds: -1 };
}

/** One line per kind, for summaries: `dynamodbThrottle 12, dynamodb5xx 4, ...`. */
export function formatFaults(counts: FaultCounts): string {
  return FAULT_KINDS.map((k) => `${k} ${counts[k]}`).join(', ');
}
