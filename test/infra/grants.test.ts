/**
 * Least privilege that cannot silently rot, checked in both directions:
 *
 * 1. template = plan: each function's role allows exactly its access plan (infra/access.ts)
 *    on exactly the planned resources, plus writing its own logs; nothing a CDK
 *    convenience grant would add.
 *    Each role an AWS service assumes (IoT rules, Firehose, SNS to Firehose) allows
 *    exactly its plan (infra/service-access.ts) and trusts exactly that service; no role
 *    of the template is outside a plan.
 * 2. plan = code: following the code from each Lambda entry point (call-graph.ts), every
 *    AWS request it can send goes through a `sentBy` planned for that action (no missing
 *    grant), and every planned `sentBy` is reachable and sends its actions (no unused
 *    grant). The service entries (event source mapping, on-failure destination, SNS's use
 *    of the topic key) are what no code of ours sends; each names its documentation.
 */
import type { CfnElement } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CARRIED_METRICS,
  IDLE_SWEEPER_METRICS,
  RULES_METRICS,
  WINDOW_HANDLER_METRICS,
} from '../../functions/lib/metric-names.js';
import {
  ALARMS_TABLE,
  ALERT_LEDGER_TABLE,
  RESULTS_TABLE,
  RULES_TABLE,
  STATE_TABLE,
} from '../../functions/lib/resources.js';
import {
  ACCESS,
  type CodeAccess,
  type FunctionAccess,
  type FunctionName,
  LOG_WRITE_ACTIONS,
  type Target,
} from '../../infra/access.js';
import type { WindowpaneFunction } from '../../infra/functions.js';
import { LOGICAL_IDS } from '../../infra/logical-ids.js';
import { SERVICE_ROLES } from '../../infra/service-access.js';
import { CallGraph } from './call-graph.js';
import { type Built, build, grantsOfRole, idsOf } from './helpers.js';

const LOGICAL_ID_OF: Record<Target, string> = {
  readingsStream: LOGICAL_IDS.stream,
  stateTable: STATE_TABLE.id,
  resultsTable: RESULTS_TABLE.id,
  alertLedgerTable: ALERT_LEDGER_TABLE.id,
  alertTopic: LOGICAL_IDS.alertTopic,
  messagingKey: LOGICAL_IDS.messagingKey,
  invalidQueue: LOGICAL_IDS.invalidQueue,
  lateQueue: LOGICAL_IDS.lateQueue,
  handlerFailureQueue: LOGICAL_IDS.handlerFailureQueue,
  resultsStream: LOGICAL_IDS.resultsStream,
  // GetSchemaVersion by version id is granted on `*` (infra/schema-registry.ts).
  schemaRegistry: '*',
  rulesTable: RULES_TABLE.id,
  alarmsTable: ALARMS_TABLE.id,
};

/** Whether the template has the resource a target names. */
function hasTarget(built: Built, target: Target): boolean {
  if (target === 'schemaRegistry') return idsOf(built.json, 'AWS::Glue::Registry').length > 0;
  return built.json.Resources[LOGICAL_ID_OF[target]] !== undefined;
}

/** What the plan says the role may do, by logical id, given the resources the template has. */
function planned(access: FunctionAccess, logGroupId: string, has: (t: Target) => boolean) {
  const grants: Record<string, Set<string>> = { [logGroupId]: new Set(LOG_WRITE_ACTIONS) };
  const add = (target: Target, actions: readonly string[]) => {
    const id = LOGICAL_ID_OF[target];
    grants[id] ??= new Set();
    for (const a of actions) grants[id].add(a);
  };
  const applies = (c: CodeAccess) => c.onlyWith === undefined || has(c.onlyWith);
  const code = access.code.filter(applies);
  for (const c of code) add(c.target, c.actions);
  for (const s of access.service) {
    const needed =
      !s.because || code.some((c) => c.target === s.because!.target && c.actions.includes(s.because!.action));
    if (needed) add(s.target, s.actions);
  }
  return Object.fromEntries(Object.entries(grants).map(([id, a]) => [id, [...a].sort()]));
}

function functionsOf(built: Built): Partial<Record<FunctionName, WindowpaneFunction>> {
  const { pipeline } = built.stack;
  return {
    windowHandler: pipeline.windowHandler,
    ...(pipeline.idleSweeper ? { idleSweeper: pipeline.idleSweeper } : {}),
    ...(built.stack.shardScaling ? { shardScaler: built.stack.shardScaling.scaler } : {}),
  };
}

const logicalId = (built: Built, c: { node: { defaultChild?: unknown } }) =>
  built.stack.resolve(built.stack.getLogicalId(c.node.defaultChild as CfnElement)) as string;

describe.each([
  ['cdk.json defaults', {}],
  [
    'results stream and a provisioned stream with shard scaling',
    {
      windowpane: { stream: { mode: 'PROVISIONED', shardCount: 2, retentionHours: 24 } },
      windowpaneDeploy: { resultsStream: true },
    },
  ],
  ['the schema registry', { windowpaneDeploy: { avro: { enabled: true } } }],
] as const)('template = access plan (%s)', (_name, overrides) => {
  let built: Built;
  beforeAll(() => {
    built = build(overrides);
  });
  afterAll(() => built?.cleanup());

  it('every function role allows exactly its plan, on exactly the planned resources', () => {
    const has = (t: Target) => hasTarget(built, t);
    const functions = Object.entries(functionsOf(built)) as [FunctionName, WindowpaneFunction][];
    expect(functions.length).toBeGreaterThanOrEqual(2);
    for (const [name, fn] of functions) {
      const expected = planned(ACCESS[name], logicalId(built, fn.logGroup), has);
      expect({ name, grants: grantsOfRole(built.json, logicalId(built, fn.role)) }).toEqual({
        name,
        grants: expected,
      });
    }
  });
});

/** A role's allowed actions by resource, the resource as its template JSON. */
function allowedByResource(json: Built['json'], roleLogicalId: string): Record<string, string[]> {
  const grants: Record<string, Set<string>> = {};
  for (const r of Object.values(json.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const roles = (r.Properties.Roles as { Ref?: string }[]).map((x) => x.Ref);
    if (!roles.includes(roleLogicalId)) continue;
    for (const statement of r.Properties.PolicyDocument.Statement) {
      expect(statement.Effect).toBe('Allow');
      for (const resource of [statement.Resource].flat()) {
        const key = JSON.stringify(resource);
        grants[key] ??= new Set();
        for (const a of [statement.Action].flat() as string[]) grants[key].add(a);
      }
    }
  }
  return Object.fromEntries(Object.entries(grants).map(([k, v]) => [k, [...v].sort()]));
}

describe.each([
  ['cdk.json defaults (IoT ingest on)', {}],
  [
    'IoT off, the lake and the schema registry on',
    { windowpaneDeploy: { iot: { enabled: false }, lake: { enabled: true }, avro: { enabled: true } } },
  ],
] as const)('service roles = service access plan (%s)', (_name, overrides) => {
  let built: Built;
  beforeAll(() => {
    built = build(overrides);
  });
  afterAll(() => built?.cleanup());

  it('each service role allows exactly its plan, on exactly the planned resources', () => {
    for (const binding of built.stack.serviceRoles()) {
      const expected: Record<string, Set<string>> = {};
      for (const grant of SERVICE_ROLES[binding.name].grants) {
        for (const arn of binding.targets[grant.target]!.arns) {
          const key = JSON.stringify(built.stack.resolve(arn));
          expected[key] ??= new Set();
          for (const a of grant.actions) expected[key].add(a);
        }
      }
      const sorted = Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, [...v].sort()]));
      expect({
        name: binding.name,
        grants: allowedByResource(built.json, logicalId(built, binding.role)),
      }).toEqual({
        name: binding.name,
        grants: sorted,
      });
    }
  });

  it("each service role trusts its plan's service only", () => {
    for (const binding of built.stack.serviceRoles()) {
      const trust = built.json.Resources[logicalId(built, binding.role)]!.Properties.AssumeRolePolicyDocument;
      expect(trust.Statement.map((s: { Principal: unknown }) => s.Principal)).toEqual([
        { Service: SERVICE_ROLES[binding.name].assumedBy },
      ]);
    }
  });

  it('no role of the template is outside a plan (function roles and service roles)', () => {
    const planned = new Set([
      ...Object.values(functionsOf(built)).map((fn) => logicalId(built, fn.role)),
      ...built.stack.serviceRoles().map((b) => logicalId(built, b.role)),
    ]);
    expect(idsOf(built.json, 'AWS::IAM::Role').filter((id) => !planned.has(id))).toEqual([]);
  });

  it('every service grant cites the AWS documentation', () => {
    for (const plan of Object.values(SERVICE_ROLES)) {
      expect(plan.why.length).toBeGreaterThan(20);
      for (const grant of plan.grants) expect(grant.source).toMatch(/^https:\/\/docs\.aws\.amazon\.com\//);
    }
  });
});

describe('access plan = code', () => {
  let graph: CallGraph;
  beforeAll(() => {
    const pendingModules = Object.values(ACCESS).flatMap((a) =>
      (a.code as readonly CodeAccess[]).flatMap((c) => (c.pending ? [c.pending.module] : [])),
    );
    graph = new CallGraph([...Object.values(ACCESS).map((a) => a.entry), ...pendingModules]);
  }, 120_000);

  const functions = Object.entries(ACCESS) as [FunctionName, FunctionAccess][];

  /** The unit a `sentBy` names, among the units reachable from the entry. */
  function senderUnit(reached: ReadonlySet<string>, sentBy: string): string | undefined {
    const units = graph.unitsNamed(sentBy).filter((u) => reached.has(u));
    if (units.length > 1) throw new Error(`sentBy ${sentBy} is ambiguous: ${units.join(', ')}`);
    return units[0];
  }

  it.each(functions)(
    '%s: every planned sender is reachable and sends its actions (no unused grant)',
    (_name, access) => {
      const reached = graph.reach(CallGraph.moduleKey(access.entry));
      const unused: string[] = [];
      for (const entry of access.code as readonly CodeAccess[]) {
        if (entry.pending) {
          // Granted ahead of the code that will call it: it must exist, send its actions,
          // and not be called yet (then `pending` is stale and must go).
          const all = graph.unitsNamed(entry.sentBy);
          if (all.some((u) => reached.has(u))) {
            unused.push(`${entry.sentBy} is now reachable from ${access.entry}: drop its \`pending\``);
          }
          const sends = all.some((u) =>
            entry.actions.every((action) =>
              [...graph.reach(u).keys()].some((v) => graph.sends.get(v)?.some((x) => x.action === action)),
            ),
          );
          if (!sends)
            unused.push(`${entry.sentBy} (pending, in ${entry.pending.module}) sends no ${entry.actions}`);
          continue;
        }
        const unit = senderUnit(new Set(reached.keys()), entry.sentBy);
        if (!unit) {
          unused.push(`${entry.sentBy} is not reachable from ${access.entry}`);
          continue;
        }
        const fromSender = graph.reach(unit);
        for (const action of entry.actions) {
          const sends = [...fromSender.keys()].some((u) =>
            graph.sends.get(u)?.some((s) => s.action === action),
          );
          if (!sends) unused.push(`${entry.sentBy} sends no ${action}`);
        }
      }
      expect(unused).toEqual([]);
    },
  );

  it.each(functions)(
    '%s: every request the code can send goes through a planned sender (no missing grant)',
    (_name, access) => {
      const root = CallGraph.moduleKey(access.entry);
      const reached = graph.reach(root);
      const sites = [...reached.keys()].flatMap((u) => graph.sends.get(u) ?? []);
      expect(sites.filter((s) => s.action === undefined)).toEqual([]);
      const unplanned: string[] = [];
      for (const action of new Set(sites.map((s) => s.action!))) {
        const senders = new Set(
          access.code
            .filter((c) => c.actions.includes(action))
            .flatMap((c) => graph.unitsNamed(c.sentBy).filter((u) => reached.has(u))),
        );
        // Without the planned senders, no send site of this action may be reachable.
        const around = graph.reach(root, senders);
        for (const [unit] of around) {
          for (const site of graph.sends.get(unit) ?? []) {
            if (site.action !== action) continue;
            unplanned.push(
              `${action} at ${site.file}:${site.line}, reached by ${graph.pathTo(around, unit).join(' -> ')}`,
            );
          }
        }
      }
      expect(unplanned).toEqual([]);
    },
  );

  it('the code finds send sites at all (a broken graph would pass the checks above vacuously)', () => {
    const reached = graph.reach(CallGraph.moduleKey(ACCESS.windowHandler.entry));
    const actions = new Set(
      [...reached.keys()].flatMap((u) => (graph.sends.get(u) ?? []).map((s) => s.action)),
    );
    const planned = (ACCESS.windowHandler.code as readonly CodeAccess[]).filter((c) => !c.pending);
    expect([...actions].sort()).toEqual([...new Set(planned.flatMap((c) => c.actions))].sort());
  });

  it.each([
    // The rules metrics go out only with a rules table, but the code that sends them is reachable.
    ['windowHandler', [...WINDOW_HANDLER_METRICS, ...RULES_METRICS, ...CARRIED_METRICS]],
    ['idleSweeper', IDLE_SWEEPER_METRICS],
    ['shardScaler', []],
  ] as const)('%s publishes exactly its declared metrics, all named by constants', (name, declared) => {
    const reached = graph.reach(CallGraph.moduleKey(ACCESS[name].entry));
    const sites = [...reached.keys()].flatMap((u) => graph.metrics.get(u) ?? []);
    expect(sites.filter((s) => s.literal || s.name === undefined)).toEqual([]);
    expect([...new Set(sites.map((s) => s.name))].sort()).toEqual([...declared].sort());
  });

  it('every service entry says who uses the role and cites the AWS documentation', () => {
    for (const access of Object.values(ACCESS)) {
      for (const s of access.service) {
        expect(s.why.length).toBeGreaterThan(20);
        expect(s.source).toMatch(/^https:\/\/docs\.aws\.amazon\.com\//);
      }
    }
  });
});
