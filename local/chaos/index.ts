/**
 * Chaos mode (`--chaos SEED` of `npm run replay` and `npm start`): the same pipeline while
 * faults are injected, deterministically from the seed, in the local cloud and the
 * handler's client middleware, never in the domain code. See README.md here for what it
 * injects and what it proves.
 */
import type { MappingStats } from '../esm/index.js';
import type { AtRiskCause, ChaosHandler } from './handler.js';
import { ChaosPlan, type ChaosPlanOptions, type FaultCounts, formatFaults } from './plan.js';

export * from './handler.js';
export * from './plan.js';
export * from './reshard.js';

export interface ChaosOptions extends ChaosPlanOptions {
  seed: number;
}

export interface ChaosSummary {
  seed: number;
  faults: FaultCounts;
  totalFaults: number;
  mappingInvocations: number;
  handlerInvocations: number;
  containers: number;
  duplicatesSuppressed: number;
  conflicts: number;
  injectedDeliveriesFailed: number;
  calmInvocations: number;
  /** From the event source mapping. */
  retries: number;
  bisects: number;
  mappingErrors: number;
  /** AlertIds SNS accepted in invocations that did not complete (a repeat of them is expected), by cause. */
  alertsAtRisk: Record<AtRiskCause, number>;
}

export interface ChaosRun {
  plan: ChaosPlan;
  handler: ChaosHandler;
  summary(mapping: MappingStats): ChaosSummary;
}

export function createChaosRun(opts: ChaosOptions, handler: (plan: ChaosPlan) => ChaosHandler): ChaosRun {
  const { seed, ...planOpts } = opts;
  const plan = new ChaosPlan(seed, planOpts);
  const h = handler(plan);
  return {
    plan,
    handler: h,
    summary(mapping) {
      const atRisk: Record<AtRiskCause, number> = {
        snsResponseLost: 0,
        crash: 0,
        timeout: 0,
        failed: 0,
        sdkRetry: 0,
      };
      for (const causes of h.alertsAtRisk.values()) for (const c of causes) atRisk[c]++;
      const s = h.stats;
      return {
        seed,
        faults: plan.faults(),
        totalFaults: plan.totalFaults(),
        mappingInvocations: s.mappingInvocations,
        handlerInvocations: s.handlerInvocations,
        containers: s.containers,
        duplicatesSuppressed: s.duplicatesSuppressed,
        conflicts: s.conflicts,
        injectedDeliveriesFailed: s.injectedDeliveriesFailed,
        calmInvocations: s.calmInvocations,
        retries: mapping.retries,
        bisects: mapping.bisects,
        mappingErrors: mapping.errors,
        alertsAtRisk: atRisk,
      };
    },
  };
}

/** The chaos lines of an end-of-run summary. */
export function formatChaosSummary(s: ChaosSummary): string[] {
  return [
    `  chaos (seed ${s.seed}): ${s.totalFaults} faults injected: ${formatFaults(s.faults)}`,
    `  chaos: ${s.mappingInvocations} invocations by the mapping (${s.mappingErrors} failed, ${s.retries} retries, ${s.bisects} bisects), ` +
      `${s.handlerInvocations} handler runs in ${s.containers} containers, ${s.calmInvocations} run undisturbed after repeated faults`,
    `  chaos: ${s.duplicatesSuppressed} duplicate records suppressed, ${s.conflicts} write conflicts resolved, ` +
      `${s.injectedDeliveriesFailed} injected redeliveries failed (harmless)`,
  ];
}

/** The one-line faults counter of the live console. */
export function formatFaultCounter(run: ChaosRun): string {
  const f = run.plan.faults();
  // Only a carried state can lose its window's state: shown when it happened.
  const stateLost = f.windowStateLost > 0 ? `, window state lost ${f.windowStateLost}` : '';
  return (
    `chaos faults ${run.plan.totalFaults()} (ddb ${f.dynamodbThrottle + f.dynamodb5xx}, sns ${f.snsPublishFailure + f.snsResponseLost}, ` +
    `crash ${f.handlerCrash}, timeout ${f.lambdaTimeout}, redeliver ${f.batchRedelivery + f.duplicateDelivery}, reshard ${f.reshard}${stateLost}), ` +
    `duplicates suppressed ${run.handler.stats.duplicatesSuppressed}`
  );
}
