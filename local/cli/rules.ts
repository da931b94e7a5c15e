/**
 * `npm run rules -- <command>`: list, read, write, delete, import and export the rules of
 * a rules table (the logic is in local/rules/). Results go to stdout (lines, or JSON with
 * --json; `export` always JSON), notices to stderr; exit 0 ok, 1 refused or failed, 2 bad
 * usage (see RULES_HELP).
 */
import { userInfo } from 'node:os';
import { ConfigError, parseConfigJson, type WindowpaneConfig } from '../../functions/domain/config.js';
import { scopeKey, scopeOf } from '../../functions/domain/rules/common.js';
import { type ClientOptions, createClients, LOCAL_TIMEOUTS } from '../../functions/lib/clients.js';
import { ENV } from '../../functions/lib/resources.js';
import { RulesTable } from '../../functions/lib/rules-table.js';
import { loadProjectConfig } from '../config.js';
import {
  deleteRule,
  exportRules,
  exportText,
  getRule,
  importRules,
  type ListedRule,
  listRules,
  putRule,
  type RulesContext,
} from '../rules/commands.js';
import { rulesTableFromStack } from '../rules/locate.js';
import { readRulesFile } from '../rules/rules-file.js';
import {
  commandTarget,
  exitUnlessSignalled,
  handleShutdownSignals,
  quietHandlerOutput,
  reportFailure,
  signalShutdownStarted,
} from './common.js';
import { UsageError } from './flags.js';
import { parseRulesArgs, RULES_HELP, type RulesOptions } from './rules-args.js';

const HINT = 'run `npm run rules -- --help` for usage';
const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function ruleLine(r: ListedRule): string {
  const what = r.rule
    ? `${r.rule.type} ${r.rule.metric}${r.rule.mode ? ` ${r.rule.mode}` : ''}${r.rule.disabled ? ' disabled' : ''}`
    : `INVALID (skipped by the handler): ${r.invalid}`;
  return `${r.name}  ${r.scope}  v${r.version}  ${r.source}  ${what}`;
}

/** The configuration rules are checked against: WINDOWPANE_CONFIG, else cdk.json. */
function configuration(): WindowpaneConfig {
  const text = process.env[ENV.config];
  try {
    if (text !== undefined) return parseConfigJson(text);
    const loaded = loadProjectConfig();
    err(`configuration: ${loaded.source}`);
    return loaded.config;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

async function tableOf(opts: RulesOptions): Promise<{ table: RulesTable; where: string }> {
  const target = opts.target!;
  const base = target.endpoint !== undefined ? commandTarget(target.endpoint) : undefined;
  const clientOptions: ClientOptions = {
    ...base,
    ...(target.region ? { region: target.region } : {}),
    ...(target.endpoint ? { endpoints: { ...base?.endpoints, cloudformation: target.endpoint } } : {}),
    timeouts: { ...LOCAL_TIMEOUTS, ...(opts.requestTimeoutMs ? { requestMs: opts.requestTimeoutMs } : {}) },
  };
  const clients = createClients(clientOptions);
  const tableName =
    target.kind === 'stack' ? await rulesTableFromStack(clientOptions, target.stack) : target.table;
  const where = target.endpoint ?? (target.region ? `region ${target.region}` : 'the AWS endpoints');
  return { table: new RulesTable({ doc: clients.doc, tableName }), where };
}

async function main(): Promise<number> {
  const opts = parseRulesArgs(process.argv.slice(2));
  if (opts.help) {
    out(RULES_HELP);
    return 0;
  }
  quietHandlerOutput();
  handleShutdownSignals(async () => {
    err('rules interrupted (a write in flight either happened at its version or not at all)');
  });
  const config = configuration();
  const command = opts.command!;
  // A file is checked before anything is read from the table: a bad one changes nothing.
  const fileRules =
    command === 'put' || command === 'import' ? readRulesFile(opts.argument!, config) : undefined;
  const { table, where } = await tableOf(opts);
  const ctx: RulesContext = {
    table,
    seed: config.rules,
    metrics: config.metrics,
    by: `npm run rules (${userInfo().username})`,
  };
  const print = <T>(report: T, human: (r: T) => void) =>
    opts.json ? out(JSON.stringify(report, null, 2)) : human(report);

  switch (command) {
    case 'list': {
      const rules = await listRules(ctx);
      print(rules, (rs) => {
        for (const r of rs) out(ruleLine(r));
        out(`${rs.length} rule(s) in ${table.tableName} (${where}) and the configuration`);
      });
      return 0;
    }
    case 'get': {
      const r = await getRule(ctx, opts.argument!, opts.scope);
      // One rule is JSON either way: it is what a rules file holds.
      out(JSON.stringify(opts.json ? r : (r.rule ?? r), null, 2));
      if (!opts.json) err(`${r.name}@${r.scope}: version ${r.version}, from the ${r.source}`);
      return r.invalid ? 1 : 0;
    }
    case 'put': {
      const written = [];
      for (const rule of fileRules!) written.push(await putRule(ctx, rule));
      print(written, (ws) => {
        for (const w of ws) out(`put ${w.name}@${scopeKey(scopeOf(w))} at version ${w.version}`);
      });
      return 0;
    }
    case 'delete': {
      const outcome = await deleteRule(ctx, opts.argument!, opts.scope);
      print(outcome, (o) => {
        out(`deleted ${opts.argument}@${opts.scope}: tombstone at version ${o.version}`);
        if (o.seedApplies) {
          err(
            'note: the configured rule of this name and scope applies again; put it with "disabled": true to turn it off',
          );
        }
      });
      return 0;
    }
    case 'import': {
      const outcome = await importRules(ctx, fileRules!);
      print(outcome, (o) => {
        for (const w of o.written) out(`put ${w.name}@${scopeKey(scopeOf(w))} at version ${w.version}`);
        out(`${o.written.length} written, ${o.unchanged.length} unchanged`);
      });
      return 0;
    }
    case 'export': {
      const { rules, skipped } = await exportRules(ctx);
      process.stdout.write(exportText(rules));
      for (const s of skipped) err(`note: ${s.name}@${s.scope} v${s.version} left out: ${s.invalid}`);
      return 0;
    }
  }
}

main().then(exitUnlessSignalled, (error: unknown) => {
  if (!signalShutdownStarted()) process.exit(reportFailure('rules', error, HINT));
});
