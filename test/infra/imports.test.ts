/**
 * The CDK app is infrastructure code: it reads the functions' shared constants and schemas
 * (resource shapes, environment names, metric names, configuration) but never loads a
 * function's runtime (its handler module, middy, Powertools or the AWS SDK clients).
 */
import { describe, expect, it } from 'vitest';
import { importGraph } from './import-graph.js';

describe('what the CDK app loads', () => {
  const graph = importGraph('infra/app.ts');

  it('no handler module of any function', () => {
    const handlerModules = [...graph.files].filter((f) =>
      /^functions\/[^/]+\/(handler|build|process-batch)\.ts$/.test(f),
    );
    expect(handlerModules).toEqual([]);
  });

  it('no Lambda runtime package (middy, Powertools, AWS SDK)', () => {
    const runtime = [...graph.packages.keys()].filter((p) =>
      /^(@middy\/|@aws-lambda-powertools\/|@aws-sdk\/|@smithy\/)/.test(p),
    );
    expect(Object.fromEntries(runtime.map((p) => [p, [...graph.packages.get(p)!]]))).toEqual({});
  });

  it('does read the shared constants (the graph is not empty by mistake)', () => {
    expect(graph.files).toContain('functions/lib/metric-names.ts');
    expect(graph.files).toContain('functions/lib/resources.ts');
    expect(graph.packages.has('aws-cdk-lib')).toBe(true);
  });
});
