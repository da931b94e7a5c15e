/**
 * `npm run replay -- --input FILE --out DIR`: the replay contract of SEMANTICS.md (the
 * logic is in local/replay.ts). Progress and the summary go to stderr; exit 0 when the run
 * completed, 1 when it could not run or complete, 2 for bad flags.
 */
import { uniquePrefix } from '../cloud/index.js';
import { loadProjectConfig } from '../config.js';
import { resolveReplayStack } from '../deploy/stack-target.js';
import type { LocalPipeline } from '../pipeline/index.js';
import { formatSummary, runReplay } from '../replay.js';
import { parseReplayArgs, REPLAY_HELP } from './args.js';
import {
  commandTarget,
  exitUnlessSignalled,
  handleShutdownSignals,
  quietHandlerOutput,
  reportFailure,
  signalShutdownStarted,
} from './common.js';

const HINT = 'run `npm run replay -- --help` for usage';

async function main(): Promise<number> {
  const opts = parseReplayArgs(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(`${REPLAY_HELP}\n`);
    return 0;
  }
  // Chaos mode makes the handler log every injected failure; they are expected, not news.
  if (opts.chaosSeed !== undefined && !opts.verbose) process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  quietHandlerOutput();
  let pipeline: LocalPipeline | undefined;
  handleShutdownSignals(async () => {
    process.stderr.write('replay interrupted; stopping\n');
    await pipeline?.stop();
  });
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const project = loadProjectConfig();
  const target = commandTarget(opts.endpoint);
  // --stack: the deployed stack's resources and configuration (args.ts requires a target).
  const stack = opts.stack && target ? await resolveReplayStack(target, opts.stack) : undefined;
  const config = stack?.config ?? project.config;
  const source = stack ? `stack ${stack.stackName}` : project.source;
  if (opts.verbose) err(`configuration: ${source}`);
  if (target) {
    err(`endpoint: ${JSON.stringify(target.endpoints)} (region ${target.region}); no emulators are started`);
  }
  if (opts.input === '-' && process.stdin.isTTY) err('reading readings from the terminal; end with Ctrl-D');
  // On a shared endpoint a fixed name would find the previous run's records on the stream.
  const prefix = opts.prefix ?? (target && !stack ? uniquePrefix('replay') : undefined);
  if (prefix) err(`resource prefix: ${prefix}${opts.keepResources ? ' (kept after the run)' : ''}`);

  const summary = await runReplay({
    input: opts.input!,
    outDir: opts.outDir!,
    config,
    ...(target ? { target } : {}),
    ...(stack ? { stack } : {}),
    ...(opts.rules !== undefined ? { rulesFile: opts.rules } : {}),
    ...(prefix ? { prefix } : {}),
    ...(target ? { deleteResourcesOnStop: !opts.keepResources } : {}),
    ...(opts.drainTimeoutMs ? { drainTimeoutMs: opts.drainTimeoutMs } : {}),
    ...(opts.setupTimeoutMs ? { setupTimeoutMs: opts.setupTimeoutMs } : {}),
    setupTimeoutHint: '--setup-timeout sets the limit',
    ...(opts.requestTimeoutMs ? { timeouts: { requestMs: opts.requestTimeoutMs } } : {}),
    ...(opts.chaosSeed !== undefined
      ? {
          chaos: {
            seed: opts.chaosSeed,
            ...(opts.chaosRetryAttempts !== undefined ? { retryAttempts: opts.chaosRetryAttempts } : {}),
          },
        }
      : {}),
    format: opts.format,
    ...(opts.lakeDir ? { lakeDir: opts.lakeDir } : {}),
    ...(opts.quiet ? {} : { progress: err }),
    log: err,
    ...(opts.verbose ? { debug: err } : {}),
    onStarted: (started) => {
      pipeline = started;
      if (opts.verbose && started.kinesisPid !== undefined) err(`kinesis-local pid ${started.kinesisPid}`);
    },
  });
  for (const line of formatSummary(summary)) err(line);
  if (summary.discarded > 0) {
    err(
      `replay: ${summary.discarded} record(s) could not be processed and went to the on-failure queue; ` +
        'the outputs are incomplete',
    );
    return 1;
  }
  return 0;
}

main().then(exitUnlessSignalled, (error: unknown) => {
  if (!signalShutdownStarted()) process.exit(reportFailure('replay', error, HINT));
});
