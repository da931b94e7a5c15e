/**
 * Shared by the infra tests: build the app from cdk.json's context (plus overrides) into a
 * temporary cloud assembly, and read IAM grants out of a template.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, cdkJsonContext, type WindowpaneApp } from '../../infra/build-app.js';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON is untyped; the assertions check its shape.
type Json = any;

export interface Built extends WindowpaneApp {
  template: Template;
  json: Record<string, unknown> & {
    Resources: Record<string, { Type: string; Properties?: Json; [k: string]: Json }>;
  };
  outdir: string;
  cleanup(): void;
}

type Overrides = {
  windowpane?: Record<string, unknown>;
  windowpaneDeploy?: Record<string, unknown>;
  /** Bundle the functions with esbuild (slow); off by default. */
  bundle?: boolean;
};

/** cdk.json's context with `windowpane` / `windowpaneDeploy` shallowly overridden. */
export function contextWith(overrides: Overrides = {}): Record<string, unknown> {
  const base = cdkJsonContext();
  return {
    ...base,
    windowpane: { ...(base.windowpane as object), ...overrides.windowpane },
    windowpaneDeploy: { ...(base.windowpaneDeploy as object), ...overrides.windowpaneDeploy },
    ...(overrides.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
  };
}

export function build(overrides: Overrides = {}): Built {
  const outdir = mkdtempSync(path.join(tmpdir(), 'windowpane-cdk-'));
  const built = buildApp({ context: contextWith(overrides), outdir });
  const template = Template.fromStack(built.stack);
  return {
    ...built,
    template,
    json: template.toJSON() as Built['json'],
    outdir,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** Logical ids of resources of `type`. */
export function idsOf(json: Built['json'], type: string): string[] {
  return Object.entries(json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id]) => id);
}

function resourceKey(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const r = resource as Record<string, unknown>;
  if (typeof r.Ref === 'string') return r.Ref;
  const getAtt = r['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return String(getAtt[0]);
  return JSON.stringify(resource);
}

/**
 * Allowed actions of every policy attached to `roleLogicalId`, by resource logical id:
 * `{ WindowState: ['dynamodb:GetItem', ...] }`, sorted, wildcards kept as written.
 */
export function grantsOfRole(json: Built['json'], roleLogicalId: string): Record<string, string[]> {
  const grants: Record<string, Set<string>> = {};
  for (const r of Object.values(json.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const roles = (r.Properties.Roles as unknown[]).map(resourceKey);
    if (!roles.includes(roleLogicalId)) continue;
    for (const statement of r.Properties.PolicyDocument.Statement as Json[]) {
      if (statement.Effect !== 'Allow') continue;
      const actions: string[] = [statement.Action].flat();
      for (const resource of [statement.Resource].flat()) {
        const key = resourceKey(resource);
        grants[key] ??= new Set();
        for (const a of actions) grants[key].add(a);
      }
    }
  }
  return Object.fromEntries(Object.entries(grants).map(([k, v]) => [k, [...v].sort()]));
}

/** The logical id of the role a function runs as. */
export function roleOfFunction(json: Built['json'], functionLogicalId: string): string {
  return resourceKey(json.Resources[functionLogicalId]!.Properties.Role);
}

/**
 * A CloudFormation string expression as text: `Fn::Join` parts joined, a `Ref` as
 * `${Name}`, a `Fn::GetAtt` as `${Id.Attr}`; for reading ARNs in assertions.
 */
export function joined(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return `\${${v.Ref}}`;
  const getAtt = v['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return `\${${getAtt.join('.')}}`;
  const join = v['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map(joined).join(join[0]);
  throw new Error(`not a string expression: ${JSON.stringify(value)}`);
}
