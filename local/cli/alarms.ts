/**
 * `npm run alarms -- list | ack ID --note TEXT | snooze ID --for 1h | disable ID |
 * enable ID | reset ID | history SENSOR` (docs/SEMANTICS.md A-C1..A-C4). Results go to
 * stdout (lines, or JSON with --json), refusals and failures to stderr; exit 0 done,
 * 1 refused or failed, 2 bad usage.
 */
import { createClients, destroyClients, LOCAL_TIMEOUTS } from '../../functions/lib/clients.js';
import { createAlarmActions } from '../alarms/actions.js';
import { alarmLine, transitionLine } from '../alarms/format.js';
import { alarmHistory, listAlarms } from '../alarms/projection.js';
import { type AlarmsTarget, localCloudTarget, prefixTarget, stackTarget } from '../alarms/target.js';
import { ALARMS_HELP, type AlarmsOptions, parseAlarmsArgs } from './alarms-args.js';
import { commandTarget, exitUnlessSignalled, reportFailure, signalShutdownStarted } from './common.js';
import { UsageError } from './flags.js';

const HINT = 'run `npm run alarms -- --help` for usage';
const out = (line: string) => process.stdout.write(`${line}\n`);

async function resolveTarget(opts: AlarmsOptions): Promise<AlarmsTarget> {
  const t = opts.target;
  if (t.kind === 'endpoint') {
    const onEndpoint = commandTarget(t.endpoint);
    if (!onEndpoint)
      throw new UsageError(
        'flag --prefix needs --endpoint URL (or AWS_ENDPOINT_URL): where the resources are',
      );
    return prefixTarget(onEndpoint, t.prefix);
  }
  if (t.kind === 'local') {
    // AWS_ENDPOINT_URL(_<SERVICE>) set: that endpoint with the default names, as --endpoint.
    const fromEnv = commandTarget(undefined);
    return fromEnv ? prefixTarget(fromEnv, 'windowpane') : localCloudTarget();
  }
  // --stack: on an endpoint when one is given (flag or AWS_ENDPOINT_URL), else on AWS.
  const onEndpoint = commandTarget(t.endpoint);
  const region = t.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const options = { ...(onEndpoint ?? {}), ...(region ? { region } : {}) };
  return stackTarget(options, t.stack);
}

async function main(): Promise<number> {
  const opts = parseAlarmsArgs(process.argv.slice(2));
  if (opts.help || !opts.command) {
    out(ALARMS_HELP);
    return 0;
  }
  const target = await resolveTarget(opts);
  const clients = createClients({
    ...target.clientOptions,
    timeouts: { ...LOCAL_TIMEOUTS, ...(opts.requestTimeoutMs ? { requestMs: opts.requestTimeoutMs } : {}) },
  });
  try {
    const command = opts.command;
    if (command === 'list') {
      const alarms = await listAlarms(clients.doc, target.alarmsTable);
      if (opts.json) out(JSON.stringify(alarms, null, 2));
      else {
        for (const a of alarms) out(alarmLine(a));
        out(`${alarms.length} alarm(s) in ${target.label}`);
      }
      return 0;
    }
    if (command === 'history') {
      const history = await alarmHistory(clients.doc, target.alarmsTable, opts.argument!);
      if (opts.json) out(JSON.stringify(history, null, 2));
      else {
        for (const t of history) out(transitionLine(t));
        out(`${history.length} transition(s) of sensor ${opts.argument}`);
      }
      return 0;
    }
    const actions = createAlarmActions({
      doc: clients.doc,
      kinesis: clients.kinesis,
      streamName: target.streamName,
      alarmsTable: target.alarmsTable,
      waitMs: opts.waitMs,
    });
    const result = await actions.request({
      alarmId: opts.argument!,
      action: command,
      by: opts.by,
      ...(opts.note !== undefined ? { note: opts.note } : {}),
      ...(opts.forMs !== undefined ? { forMs: opts.forMs } : {}),
    });
    if (opts.json) out(JSON.stringify(result, null, 2));
    else if (result.transition) out(transitionLine(result.transition));
    else if (result.outcome === 'sent')
      out(`${command} ${opts.argument}: put on the stream as action ${result.actionId} (not waited for)`);
    else out(`${command} ${opts.argument}: ${result.outcome} (action ${result.actionId})`);
    return 0;
  } finally {
    destroyClients(clients);
  }
}

main().then(exitUnlessSignalled, (error: unknown) => {
  if (!signalShutdownStarted()) process.exit(reportFailure('alarms', error, HINT));
});
