/**
 * What a local pipeline creates, and with which event source settings: the synthesized
 * CDK template in cdk.out/ when there is a usable one (so the local resources are the
 * deployed ones), else the configuration; `source` says which, in one line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type EventSourceConfig, type WindowpaneConfig } from '../../functions/domain/config.js';
import {
  ALARMS_TABLE,
  ALERT_LEDGER_TABLE,
  RESULTS_TABLE,
  RULES_TABLE,
  STATE_TABLE,
  type TableDefinition,
} from '../../functions/lib/resources.js';
import { resourcePlanFromTemplate, type ResourcePlan as TemplatePlan } from '../../infra/resource-plan.js';
import { planFromConfig, type ResourcePlan } from '../cloud/index.js';
import { REPO_ROOT } from '../config.js';

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

const TABLE_DEFS: Record<'state' | 'results' | 'alertLedger' | 'rules' | 'alarms', TableDefinition> = {
  state: STATE_TABLE,
  results: RESULTS_TABLE,
  alertLedger: ALERT_LEDGER_TABLE,
  rules: RULES_TABLE,
  alarms: ALARMS_TABLE,
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
    const id = role === 'rules' ? tp.roles.rulesTable : tp.roles.tables[role];
    const planned = tp.tables.find((t) => t.logicalId === id);
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
    // A template from before the rules table or the alarms projection lacks them: its handler
    // then runs the configured rules, and the pipeline publishes only.
    tables: [
      table('state'),
      table('results'),
      table('alertLedger'),
      ...(tp.roles.rulesTable ? [table('rules')] : []),
      ...(tp.roles.tables.alarms ? [table('alarms')] : []),
    ],
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
