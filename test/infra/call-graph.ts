/**
 * A conservative call graph of the project's TypeScript, for asking "which AWS requests
 * can this Lambda entry point send, and through which of our functions".
 *
 * Units are top-level functions and variables, class members (a class's constructor
 * includes its field initialisers) and each module's top-level code. A unit refers to
 * every project unit whose symbol it mentions (calls, `new`, functions passed as values);
 * the bodies of nested and anonymous functions count as their enclosing unit's. A call
 * through an interface of ours refers to every class member of that name. So the graph
 * may hold edges that never run, never lacks one that does: what it says is unreachable
 * is unreachable.
 *
 * A send site is `new <Op>Command(...)` or `paginate<Op>(...)` from an @aws-sdk package;
 * its IAM action follows from the package and the operation. `addMetric(...)` calls are
 * collected too, with the metric name they publish.
 */
import path from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../../infra/paths.js';

export interface Site {
  /** The unit the site is in (`Class.method`, `function`, `module:<file>`). */
  owner: string;
  file: string;
  line: number;
}

export interface SendSite extends Site {
  command: string;
  /** `service:Action`, or undefined when the package is not one this file knows. */
  action?: string;
  sdkPackage: string;
}

export interface MetricSite extends Site {
  /** The metric name when it is a constant (a string literal type), else undefined. */
  name?: string;
  literal: boolean;
}

interface Unit {
  key: string;
  /** What `sentBy` names: `Class.member`, `function`, `module:<file>`. */
  name: string;
  nodes: ts.Node[];
}

/** IAM service prefix of each SDK client package the functions use. */
const SERVICE_OF_PACKAGE: Record<string, string> = {
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/client-glue': 'glue',
  '@aws-sdk/lib-dynamodb': 'dynamodb',
  '@aws-sdk/client-kinesis': 'kinesis',
  '@aws-sdk/client-sns': 'sns',
  '@aws-sdk/client-sqs': 'sqs',
};

/** Operations authorised under another action's name, and lib-dynamodb's document commands. */
const ACTION_OF_OPERATION: Record<string, Record<string, string>> = {
  sqs: {
    SendMessageBatch: 'SendMessage',
    DeleteMessageBatch: 'DeleteMessage',
    ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
  },
  sns: { PublishBatch: 'Publish' },
  '@aws-sdk/lib-dynamodb': {
    Get: 'GetItem',
    Put: 'PutItem',
    Update: 'UpdateItem',
    Delete: 'DeleteItem',
    BatchGet: 'BatchGetItem',
    BatchWrite: 'BatchWriteItem',
    TransactGet: 'TransactGetItems',
    TransactWrite: 'TransactWriteItems',
    ExecuteStatement: 'PartiQLSelect',
  },
};

function sdkPackageOf(file: string): string | undefined {
  const m = /node_modules\/(@aws-sdk\/[^/]+)\//.exec(file);
  return m?.[1];
}

function actionOf(pkg: string, operation: string): string | undefined {
  const service = SERVICE_OF_PACKAGE[pkg];
  if (!service) return undefined;
  const renamed = ACTION_OF_OPERATION[pkg]?.[operation] ?? ACTION_OF_OPERATION[service]?.[operation];
  return `${service}:${renamed ?? operation}`;
}

const isProjectFile = (f: ts.SourceFile) => !f.isDeclarationFile && !f.fileName.includes('/node_modules/');
const relative = (f: ts.SourceFile) => path.relative(REPO_ROOT, f.fileName);
const isFunctionLike = (n: ts.Node | undefined) =>
  n !== undefined && (ts.isArrowFunction(n) || ts.isFunctionExpression(n));

export class CallGraph {
  private readonly units = new Map<string, Unit>();
  private readonly edges = new Map<string, Set<string>>();
  readonly sends = new Map<string, SendSite[]>();
  readonly metrics = new Map<string, MetricSite[]>();
  private readonly checker: ts.TypeChecker;
  private readonly membersByName = new Map<string, string[]>();

  constructor(entries: readonly string[]) {
    const config = ts.getParsedCommandLineOfConfigFile(
      path.join(REPO_ROOT, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    );
    if (!config) throw new Error('tsconfig.json could not be read');
    const program = ts.createProgram({
      rootNames: entries.map((e) => path.join(REPO_ROOT, e)),
      options: { ...config.options, noEmit: true },
    });
    this.checker = program.getTypeChecker();
    const files = program.getSourceFiles().filter(isProjectFile);
    for (const file of files) this.collectUnits(file);
    for (const unit of this.units.values()) this.link(unit);
  }

  /** The unit key of each module's top-level code. */
  static moduleKey(file: string): string {
    return `module:${file}`;
  }

  /** Units named `name` (`Class.member` or `function`). */
  unitsNamed(name: string): string[] {
    return [...this.units.values()].filter((u) => u.name === name).map((u) => u.key);
  }

  nameOf(key: string): string {
    return this.units.get(key)?.name ?? key;
  }

  /** Breadth-first from `from`, never entering `avoid`; each reached unit with its predecessor. */
  reach(from: string, avoid: ReadonlySet<string> = new Set()): Map<string, string | undefined> {
    const seen = new Map<string, string | undefined>([[from, undefined]]);
    const queue = [from];
    while (queue.length > 0) {
      const key = queue.shift()!;
      for (const next of this.edges.get(key) ?? []) {
        if (seen.has(next) || avoid.has(next)) continue;
        seen.set(next, key);
        queue.push(next);
      }
    }
    return seen;
  }

  /** The chain of unit names from the start of `reached` to `key`. */
  pathTo(reached: Map<string, string | undefined>, key: string): string[] {
    const chain: string[] = [];
    for (let at: string | undefined = key; at !== undefined; at = reached.get(at))
      chain.unshift(this.nameOf(at));
    return chain;
  }

  private addUnit(key: string, name: string, node: ts.Node): void {
    const unit = this.units.get(key) ?? { key, name, nodes: [] };
    unit.nodes.push(node);
    this.units.set(key, unit);
  }

  private collectUnits(file: ts.SourceFile): void {
    const rel = relative(file);
    const moduleKey = CallGraph.moduleKey(rel);
    this.addUnit(moduleKey, moduleKey, file);
    for (const statement of file.statements) {
      if (ts.isFunctionDeclaration(statement) && statement.name) {
        this.addUnit(`${rel}#${statement.name.text}`, statement.name.text, statement);
      } else if (ts.isClassDeclaration(statement) && statement.name) {
        const cls = statement.name.text;
        const ctor = `${rel}#${cls}.constructor`;
        this.addUnit(ctor, `${cls}.constructor`, statement.name);
        // Constructing a subclass runs the base class's constructor.
        for (const clause of statement.heritageClauses ?? []) {
          if (clause.token === ts.SyntaxKind.ExtendsKeyword)
            for (const t of clause.types) this.addUnit(ctor, `${cls}.constructor`, t);
        }
        for (const member of statement.members) {
          const name = member.name && ts.isIdentifier(member.name) ? member.name.text : undefined;
          if (
            ts.isConstructorDeclaration(member) ||
            (ts.isPropertyDeclaration(member) && !isFunctionLike(member.initializer))
          ) {
            this.addUnit(ctor, `${cls}.constructor`, member);
          } else if (name) {
            const key = `${rel}#${cls}.${name}`;
            this.addUnit(key, `${cls}.${name}`, member);
            this.membersByName.set(name, [...(this.membersByName.get(name) ?? []), key]);
          }
        }
      } else if (ts.isVariableStatement(statement)) {
        for (const decl of statement.declarationList.declarations) {
          if (!ts.isIdentifier(decl.name)) continue;
          const key = `${rel}#${decl.name.text}`;
          this.addUnit(key, decl.name.text, decl);
          // A variable's initialiser runs when the module loads, unless it is a function.
          if (!isFunctionLike(decl.initializer)) this.edge(moduleKey, key);
        }
      }
    }
  }

  /** The unit a declaration belongs to: the nearest enclosing top-level or class-member unit. */
  private unitOf(node: ts.Node): string | undefined {
    const file = node.getSourceFile();
    if (!isProjectFile(file)) return undefined;
    const rel = relative(file);
    for (let at: ts.Node | undefined = node; at; at = at.parent) {
      const parent = at.parent;
      if (ts.isClassDeclaration(at) && at.name) return `${rel}#${at.name.text}.constructor`;
      if (parent && ts.isClassDeclaration(parent) && parent.name) {
        const name =
          'name' in at && at.name && ts.isIdentifier(at.name as ts.Node)
            ? (at.name as ts.Identifier).text
            : undefined;
        const isMethodUnit =
          !ts.isConstructorDeclaration(at) &&
          !(ts.isPropertyDeclaration(at) && !isFunctionLike(at.initializer)) &&
          name !== undefined;
        return isMethodUnit ? `${rel}#${parent.name.text}.${name}` : `${rel}#${parent.name.text}.constructor`;
      }
      if (parent && ts.isSourceFile(parent)) {
        if (ts.isFunctionDeclaration(at) && at.name) return `${rel}#${at.name.text}`;
        if (ts.isVariableStatement(at)) {
          const decl = at.declarationList.declarations.find((d) => d.pos <= node.pos && node.end <= d.end);
          if (decl && ts.isIdentifier(decl.name)) return `${rel}#${decl.name.text}`;
        }
        return CallGraph.moduleKey(rel);
      }
    }
    return CallGraph.moduleKey(rel);
  }

  private edge(from: string, to: string): void {
    if (from === to) return;
    const set = this.edges.get(from) ?? new Set<string>();
    set.add(to);
    this.edges.set(from, set);
  }

  private site(owner: string, node: ts.Node): Site {
    const file = node.getSourceFile();
    return {
      owner: this.nameOf(owner),
      file: relative(file),
      line: file.getLineAndCharacterOfPosition(node.getStart()).line + 1,
    };
  }

  private declarationsOf(node: ts.Node): ts.Declaration[] {
    let symbol = this.checker.getSymbolAtLocation(node);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
    return symbol?.declarations ?? [];
  }

  private link(unit: Unit): void {
    const visit = (node: ts.Node): void => {
      if (ts.isTypeNode(node) || ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) return;
      if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) return;
      // At module level only the code that runs on load belongs to the module unit.
      if (unit.key.startsWith('module:') && node.parent && ts.isSourceFile(node.parent)) {
        if (ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) || ts.isVariableStatement(node))
          return;
      }
      if (ts.isNewExpression(node))
        this.sdkCall(unit, node, node.expression, (op) => op.replace(/Command$/, ''));
      if (ts.isCallExpression(node)) {
        const callee = node.expression;
        const name = ts.isIdentifier(callee)
          ? callee.text
          : ts.isPropertyAccessExpression(callee)
            ? callee.name.text
            : '';
        if (name.startsWith('paginate'))
          this.sdkCall(unit, node, callee, (op) => op.replace(/^paginate/, ''));
        if (name === 'addMetric') this.metricCall(unit, node);
      }
      if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) this.reference(unit, node);
      ts.forEachChild(node, visit);
    };
    for (const node of unit.nodes) {
      if (ts.isSourceFile(node)) node.statements.forEach(visit);
      else ts.forEachChild(node, visit);
    }
  }

  private reference(unit: Unit, node: ts.Node): void {
    for (const decl of this.declarationsOf(node)) {
      const file = decl.getSourceFile();
      if (!isProjectFile(file)) continue;
      if (ts.isMethodSignature(decl) || ts.isPropertySignature(decl)) {
        // A member of one of our interfaces: any class member of that name may implement it.
        const name = ts.isIdentifier(decl.name) ? decl.name.text : undefined;
        for (const key of (name && this.membersByName.get(name)) || []) this.edge(unit.key, key);
        continue;
      }
      const target = this.unitOf(decl);
      if (target) this.edge(unit.key, target);
      // Referring to a module's export loads the module: its top-level code runs.
      this.edge(unit.key, CallGraph.moduleKey(relative(file)));
    }
  }

  private sdkCall(
    unit: Unit,
    node: ts.Node,
    callee: ts.Expression,
    operation: (name: string) => string,
  ): void {
    const ref = ts.isPropertyAccessExpression(callee) ? callee.name : callee;
    for (const decl of this.declarationsOf(ref)) {
      const pkg = sdkPackageOf(decl.getSourceFile().fileName);
      if (!pkg || !ts.isIdentifier(ref)) continue;
      const command = ref.text;
      if (!/Command$|^paginate/.test(command)) continue;
      const op = operation(command);
      const site: SendSite = { ...this.site(unit.key, node), command, sdkPackage: pkg };
      const action = actionOf(pkg, op);
      if (action) site.action = action;
      this.sends.set(unit.key, [...(this.sends.get(unit.key) ?? []), site]);
      return;
    }
  }

  private metricCall(unit: Unit, node: ts.CallExpression): void {
    const [first] = node.arguments;
    if (!first) return;
    const type = this.checker.getTypeAtLocation(first);
    const site: MetricSite = { ...this.site(unit.key, node), literal: ts.isStringLiteralLike(first) };
    if (type.isStringLiteral()) site.name = type.value;
    this.metrics.set(unit.key, [...(this.metrics.get(unit.key) ?? []), site]);
  }
}
