/**
 * `npm run dashboard`: the dashboard on a deployed stack (`--stack NAME --region R`) or
 * any endpoint (`--endpoint URL`), until Ctrl-C. See DASHBOARD_HELP in args.ts.
 */
import {
  type ClientOptions,
  createClients,
  createCloudFormationClient,
  LOCAL_TIMEOUTS,
} from '../../functions/lib/clients.js';
import {
  commandTarget,
  exitUnlessSignalled,
  handleShutdownSignals,
  quietHandlerOutput,
  reportFailure,
  signalShutdownStarted,
} from '../cli/common.js';
import { loadProjectConfig } from '../config.js';
import { dashboardAlarmActions } from './alarm-actions.js';
import { DASHBOARD_HELP, parseDashboardArgs } from './args.js';
import { type Dashboard, startDashboard } from './index.js';
import { openBrowser } from './open-browser.js';
import { DeployedSource } from './sources/deployed.js';
import { resourcesFromPrefix, resourcesFromStack } from './sources/locate.js';

const HINT = 'run `npm run dashboard -- --help` for usage';
const out = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const args = parseDashboardArgs(process.argv.slice(2));
  if (args.help) {
    out(DASHBOARD_HELP);
    return 0;
  }
  quietHandlerOutput();
  // --endpoint for every service; otherwise the SDK's own resolution (AWS_ENDPOINT_URL*).
  const target = args.endpoint ? commandTarget(args.endpoint) : undefined;
  const clientOptions: ClientOptions = {
    ...target,
    ...(args.region ? { region: args.region } : {}),
    ...(args.endpoint ? { endpoints: { ...target?.endpoints, cloudformation: args.endpoint } } : {}),
    timeouts: { ...LOCAL_TIMEOUTS, ...(args.requestTimeoutMs ? { requestMs: args.requestTimeoutMs } : {}) },
  };
  const clients = createClients(clientOptions);
  let dashboard: Dashboard | undefined;
  handleShutdownSignals(async () => {
    await dashboard?.close();
  });

  const resources = args.stack
    ? await resourcesFromStack(createCloudFormationClient(clientOptions), args.stack)
    : await resourcesFromPrefix(clients, args.prefix ?? 'windowpane');
  const where = args.endpoint ?? `region ${args.region}`;
  const label = args.stack ? `stack ${args.stack} (${where})` : `${resources.resultsTable} at ${where}`;
  out(
    `reading ${resources.resultsTable}${resources.resultsStream ? ` and ${resources.resultsStream}` : ''} (${where})`,
  );
  // The open windows' percentiles are estimated as the deployment configures them: this
  // checkout's cdk.json, which `cdk deploy` deployed.
  const { config } = loadProjectConfig();
  const source = new DeployedSource({
    clients,
    resources,
    label,
    horizonMs: args.horizonMs,
    maxInitialWindows: args.maxWindows,
    openPollMs: args.openPollMs,
    percentiles: config,
    log: out,
  });
  // The buttons act as `npm run alarms` does, with these same server-side credentials.
  const actions =
    resources.alarmsTable && resources.stream
      ? dashboardAlarmActions({ clients, streamName: resources.stream, alarmsTable: resources.alarmsTable })
      : undefined;
  if (!actions) out('no alarms projection table: alarms are not shown and cannot be acknowledged');
  dashboard = await startDashboard({
    source,
    ...(actions ? { actions } : {}),
    port: args.port,
    store: { horizonMs: args.horizonMs },
    log: out,
  });
  out(`dashboard: ${dashboard.url}  (Ctrl-C to stop)`);
  if (args.open) openBrowser(dashboard.url, out);
  await dashboard.ready;
  return new Promise<number>(() => {});
}

main().then(exitUnlessSignalled, (error: unknown) => {
  if (!signalShutdownStarted()) process.exit(reportFailure('dashboard', error, HINT));
});
