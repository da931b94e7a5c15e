/**
 * Refactoring the CDK code must not replace resources: every logical id the stack had
 * before it was split into sections (fixtures/logical-ids.json) is still there, with the
 * same type, and the sections themselves stay out of logical ids, including the ids CDK
 * builds from another construct's unique id.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, type CfnElement, CfnResource, Names, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logicalIdOfPath, logicalIdWithoutSections, Section } from '../../infra/logical-ids.js';
import { type Built, build } from './helpers.js';

interface Recorded {
  resources: Record<string, string>;
  outputs: string[];
}
const fixture = JSON.parse(
  readFileSync(path.join(import.meta.dirname, 'fixtures', 'logical-ids.json'), 'utf8'),
) as {
  default: Recorded;
  full: Recorded;
};

const variants = {
  default: {},
  // Every optional resource: provisioned stream with shard scaling, SQS alert subscription,
  // results stream, alarm email.
  full: {
    windowpane: { stream: { mode: 'PROVISIONED', shardCount: 4, retentionHours: 48 } },
    windowpaneDeploy: {
      alertSubscription: { type: 'sqs' },
      resultsStream: true,
      alarmEmail: 'ops@example.com',
    },
  },
} as const;

describe.each(Object.keys(variants) as (keyof typeof variants)[])(
  'logical ids survive (%s stack)',
  (name) => {
    let built: Built;
    beforeAll(() => {
      built = build(variants[name]);
    });
    afterAll(() => built?.cleanup());

    it('every recorded resource keeps its logical id and type', () => {
      const now = Object.fromEntries(Object.entries(built.json.Resources).map(([id, r]) => [id, r.Type]));
      const missing = Object.entries(fixture[name].resources).filter(([id, type]) => now[id] !== type);
      expect(missing).toEqual([]);
    });

    it('every recorded output is still there', () => {
      expect(Object.keys(built.template.findOutputs('*'))).toEqual(
        expect.arrayContaining(fixture[name].outputs),
      );
    });
  },
);

/** A stack allocating ids the way WindowpaneStack does. */
class Sectioned extends Stack {
  protected override allocateLogicalId(element: CfnElement): string {
    return logicalIdWithoutSections(element, this);
  }
}

describe('logical id allocation', () => {
  /** A plain CDK stack (CDK's own allocation) with resources at a few path shapes. */
  function plainStack() {
    const stack = new Stack(new App(), 'Plain');
    const group = new Construct(stack, 'Group');
    const nested = new Construct(group, 'Resource');
    const repeated = new Construct(stack, 'Function');
    const resources = [
      new CfnResource(stack, 'Top', { type: 'Test::Thing' }),
      new CfnResource(new Construct(stack, 'Table'), 'Resource', { type: 'Test::Thing' }),
      new CfnResource(repeated, 'Function', { type: 'Test::Thing' }),
      new CfnResource(group, 'GroupChild', { type: 'Test::Thing' }),
      new CfnResource(nested, 'Default', { type: 'Test::Thing' }),
      new CfnResource(group, 'with:odd/chars-1', { type: 'Test::Thing' }),
    ];
    return { stack, resources };
  }

  it('computes the ids CDK computes (the scheme deployed stacks depend on)', () => {
    const { stack, resources } = plainStack();
    for (const r of resources) {
      const components = r.node.scopes.slice(r.node.scopes.indexOf(stack) + 1).map((s) => s.node.id);
      expect(logicalIdOfPath(components)).toBe(stack.resolve(r.logicalId));
    }
  });

  it('leaves sections out of the path and out of unique ids embedded in construct ids', () => {
    const flatStack = new Stack(new App(), 'S');
    const flatTarget = new Construct(flatStack, 'Target');
    const flat = new CfnResource(flatStack, `Ref${Names.nodeUniqueId(flatTarget.node)}`, {
      type: 'Test::Thing',
    });
    const inTarget = new CfnResource(flatTarget, 'Resource', { type: 'Test::Thing' });

    const sectionedStack = new Sectioned(new App(), 'S');
    const target = new Construct(new Section(new Section(sectionedStack, 'Outer'), 'Inner'), 'Target');
    const sectioned = new CfnResource(
      new Section(sectionedStack, 'Other'),
      `Ref${Names.nodeUniqueId(target.node)}`,
      {
        type: 'Test::Thing',
      },
    );
    const sectionedInTarget = new CfnResource(target, 'Resource', { type: 'Test::Thing' });

    expect(sectionedStack.resolve(sectioned.logicalId)).toBe(flatStack.resolve(flat.logicalId));
    expect(sectionedStack.resolve(sectionedInTarget.logicalId)).toBe(flatStack.resolve(inTarget.logicalId));
  });

  it('two sections with children of the same id fail synth, naming the id', () => {
    const app = new App();
    const stack = new Sectioned(app, 'S');
    new CfnResource(new Section(stack, 'A'), 'Same', { type: 'Test::Thing' });
    new CfnResource(new Section(stack, 'B'), 'Same', { type: 'Test::Thing' });
    expect(() => app.synth()).toThrow(/already contains 'Same'/);
  });
});
