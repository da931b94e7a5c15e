/**
 * The runtime import graph of the repository's TypeScript: which project files and which
 * packages a module loads when it runs. Type-only imports are left out (they vanish at
 * compile time), so the graph answers "what does running this file pull in".
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../../infra/paths.js';

export interface ImportGraph {
  /** Project files reached, relative to the repository root. */
  files: Set<string>;
  /** Package name (`@scope/name` or `name`, no subpath) to the project files importing it. */
  packages: Map<string, Set<string>>;
}

function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) return node.isTypeOnly;
  const clause = node.importClause;
  if (!clause) return false; // a side-effect import runs the module
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return (
    clause.name === undefined &&
    bindings !== undefined &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((e) => e.isTypeOnly)
  );
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** One import of a file: its specifier, and whether it vanishes at compile time. */
export interface ModuleImport {
  specifier: string;
  typeOnly: boolean;
}

/** Every module specifier of one file (imports, re-exports, literal dynamic imports). */
export function moduleImports(file: string): ModuleImport[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: ModuleImport[] = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: isTypeOnly(node) });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push({ specifier: node.arguments[0].text, typeOnly: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Runtime module specifiers of one file (static imports, re-exports, literal dynamic imports). */
export function runtimeImports(file: string): string[] {
  return moduleImports(file)
    .filter((i) => !i.typeOnly)
    .map((i) => i.specifier);
}

/** A relative specifier of `fromFile` (repository-relative) as a repository-relative `.ts` path. */
export function resolveLocal(fromFile: string, specifier: string): string {
  // NodeNext: sources import `./x.js` for `./x.ts`.
  const target = path
    .resolve(path.dirname(path.join(REPO_ROOT, fromFile)), specifier)
    .replace(/\.js$/, '.ts');
  return path.relative(REPO_ROOT, target);
}

export { packageName };

/** Follows the runtime imports of `entries` (paths relative to the repository root). */
export function importGraph(...entries: string[]): ImportGraph {
  const files = new Set<string>();
  const packages = new Map<string, Set<string>>();
  const pending = [...entries];
  while (pending.length > 0) {
    const relative = pending.pop()!;
    if (files.has(relative)) continue;
    files.add(relative);
    const absolute = path.join(REPO_ROOT, relative);
    for (const specifier of runtimeImports(absolute)) {
      if (specifier.startsWith('.')) {
        pending.push(resolveLocal(relative, specifier));
      } else if (!specifier.startsWith('node:')) {
        const name = packageName(specifier);
        if (!packages.has(name)) packages.set(name, new Set());
        packages.get(name)!.add(relative);
      }
    }
  }
  return { files, packages };
}
