/**
 * The layers of docs/ARCHITECTURE.md, checked on the import graph of the sources (type
 * imports included: a layer that needs another's types depends on it): the pure domain
 * imports nothing with I/O, the functions never reach the local tools, adapters and
 * decoders never import the use cases above them, and no runtime import cycle exists.
 * What the CDK app loads is test/infra/imports.test.ts.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/paths.js';
import { moduleImports, packageName, resolveLocal } from '../infra/import-graph.js';

const SOURCE_DIRS = ['functions', 'infra', 'local', 'bench'];

interface FileImports {
  /** Repository-relative `.ts` paths of the project modules it imports. */
  local: string[];
  /** Those of `local` that run when it loads (not type-only). */
  runtime: string[];
  /** Package names (`zod`, `@middy/core`, `node:fs`). */
  packages: string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(REPO_ROOT, join(e.parentPath, e.name)));
}

function importsOf(file: string): FileImports {
  const found: FileImports = { local: [], runtime: [], packages: [] };
  for (const { specifier, typeOnly } of moduleImports(join(REPO_ROOT, file))) {
    if (!specifier.startsWith('.')) {
      found.packages.push(specifier.startsWith('node:') ? specifier : packageName(specifier));
      continue;
    }
    const target = resolveLocal(file, specifier);
    found.local.push(target);
    if (!typeOnly) found.runtime.push(target);
  }
  return found;
}

const graph = new Map(SOURCE_DIRS.flatMap(sourceFiles).map((f) => [f, importsOf(f)] as const));

function under(file: string, ...dirs: string[]): boolean {
  return dirs.some((d) => file.startsWith(`${d}/`));
}

/** `from -> to` for every project import of the files under `dirs` that `wrong` refuses. */
function violations(dirs: string[], wrong: (target: string) => boolean): string[] {
  return [...graph]
    .filter(([f]) => under(f, ...dirs))
    .flatMap(([f, i]) => i.local.filter(wrong).map((g) => `${f} -> ${g}`));
}

describe('layers (docs/ARCHITECTURE.md)', () => {
  it('reads a graph of the whole source tree', () => {
    expect(graph.size).toBeGreaterThan(150);
    expect(graph.get('functions/window-handler/handler.ts')?.runtime).toContain(
      'functions/window-handler/build.ts',
    );
  });

  it('the domain is pure: it imports only itself, zod and node:crypto', () => {
    const packages = [...graph]
      .filter(([f]) => under(f, 'functions/domain'))
      .flatMap(([f, i]) =>
        i.packages.filter((p) => p !== 'zod' && p !== 'node:crypto').map((p) => `${f} -> ${p}`),
      );
    expect(violations(['functions/domain'], (g) => !under(g, 'functions/domain'))).toEqual([]);
    expect(packages).toEqual([]);
  });

  it('the functions never import the local tools, the CDK app, the benchmarks or the tests', () => {
    expect(violations(['functions'], (g) => !under(g, 'functions'))).toEqual([]);
  });

  it('decoders and adapters never import the use cases or a function', () => {
    const above = [
      'functions/pipeline',
      'functions/window-handler',
      'functions/idle-sweeper',
      'functions/shard-scaler',
    ];
    expect(
      violations(['functions/domain', 'functions/ingest', 'functions/lib'], (g) => under(g, ...above)),
    ).toEqual([]);
  });

  // Type-only imports vanish at compile time; a cycle of them loads nothing twice.
  it('has no import cycle among the imports that run', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      path.push(f);
      for (const g of graph.get(f)?.runtime ?? []) {
        if (!graph.has(g)) continue;
        if (state.get(g) === 'open') cycles.push([...path.slice(path.indexOf(g)), g].join(' -> '));
        else if (!state.has(g)) visit(g);
      }
      path.pop();
      state.set(f, 'done');
    };
    for (const f of graph.keys()) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
