/**
 * `npm run recover -- <command>`: inspect and redrive the on-failure and invalid-record
 * queues, and backfill a stream range (the logic is in local/recovery/). Results go to
 * stdout (lines, or one JSON object with --json), notices to stderr; exit 0 ok, 1 failure,
 * 2 bad usage or missing target names.
 */
import { ConfigError } from '../../functions/domain/config.js';
import { createClients, LOCAL_TIMEOUTS } from '../../functions/lib/clients.js';
import { parseHandlerEnv } from '../../functions/lib/env.js';
import { ENV } from '../../functions/lib/resources.js';
import { buildHandler } from '../../functions/window-handler/build.js';
import { loadProjectConfig } from '../config.js';
import {
  type BackfillReport,
  backfill,
  type DlqEntry,
  type DlqRedriveReport,
  type HandlerTotals,
  type InvalidRedriveReport,
  type InvalidSummary,
  listDlq,
  listInvalid,
  redriveDlq,
  redriveInvalid,
} from '../recovery/index.js';
import {
  commandTarget,
  exitUnlessSignalled,
  handleShutdownSignals,
  quietHandlerOutput,
  reportFailure,
  signalShutdownStarted,
} from './common.js';
import { UsageError } from './flags.js';
import {
  DLQ_URL_ENV,
  parseRecoverArgs,
  RECOVER_HELP,
  resolveTargets,
  STREAM_NAME_ENV,
} from './recover-args.js';

const HINT = 'run `npm run recover -- --help` for usage';
const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function totalsLine(t: HandlerTotals): string {
  return (
    `handler: ${t.records} record(s) in ${t.invocations} invocation(s): ${t.readings} reading(s) newly applied, ` +
    `${t.duplicates} duplicate(s) suppressed, ${t.invalid} invalid, ${t.late} late, ` +
    `${t.windowsFinalised} window(s) finalised, ${t.alerts} alert(s) published`
  );
}

function dlqLine(e: DlqEntry): string {
  const f = e.failure;
  if (!f) return `${e.messageId}  unrecognised: ${e.unrecognised}`;
  return (
    `${f.shardId} ${f.startSequenceNumber}..${f.endSequenceNumber}  ${f.batchSize} record(s)  ` +
    `${f.condition}  stream ${f.streamName}  arrived ${f.firstArrival}..${f.lastArrival}  failed ${f.timestamp}`
  );
}

function printDlqRedrive(r: DlqRedriveReport): void {
  for (const range of r.ranges) {
    const f = range.entry.failure;
    const what = f ? `${f.shardId} ${f.startSequenceNumber}..${f.endSequenceNumber}` : range.entry.messageId;
    const expected = f ? ` of ${f.batchSize}` : '';
    out(
      `${range.outcome}  ${what}  ${range.found}${expected} record(s) in the stream` +
        `${range.inRetention ? '' : ' (range start no longer in the stream)'}` +
        `${range.totals ? `  applied ${range.totals.readings}, duplicates ${range.totals.duplicates}` : ''}` +
        `${range.error ? `  ${range.error}` : ''}`,
    );
  }
  out(
    `${r.ranges.length} range(s); ${r.apply ? `${r.deleted} message(s) deleted` : 'dry run: nothing changed (add --apply)'}`,
  );
  if (r.apply) out(totalsLine(r.totals));
  if (r.apply && r.totals.duplicates > 0) {
    err(
      `note: ${r.totals.duplicates} record(s) were at or below their sensor's last applied sequence number: ` +
        "already applied, or the sensor's later records were processed after the discard (see RECOVERY.md)",
    );
  }
}

function printInvalid(s: InvalidSummary): void {
  out(
    `${s.total} message(s)${s.truncated ? `, ${s.truncated} truncated` : ''}${s.unrecognised ? `, ${s.unrecognised} unrecognised` : ''}`,
  );
  for (const [reason, n] of Object.entries(s.byReason).sort((a, b) => b[1] - a[1])) out(`  ${reason}: ${n}`);
  for (const e of s.examples) {
    out(
      `example ${e.id}  ${e.reason}: ${e.detail}  key ${e.partitionKey}  ${e.byteLength} B${e.truncated ? ' (truncated)' : ''}  "${e.head}"`,
    );
  }
}

function printInvalidRedrive(r: InvalidRedriveReport): void {
  for (const i of r.items) {
    out(
      `${i.outcome}  ${i.id}  ${i.reason}  key ${i.partitionKey}  ${i.byteLength} B` +
        `${i.newSequenceNumber ? `  -> ${i.shardId}:${i.newSequenceNumber}` : ''}${i.error ? `  ${i.error}` : ''}`,
    );
  }
  out(
    `${r.selected} selected${r.reason ? ` (reason ${r.reason})` : ''}, ${r.skipped} skipped, ` +
      (r.apply ? `${r.sent} sent, ${r.failed} failed, ` : 'dry run: nothing sent (add --apply), ') +
      `${r.refused} refused (truncated: only a prefix and a hash are in the queue)`,
  );
  if (r.selected > 0) {
    err(
      'note: a redriven record is a NEW record (new sequence number) and is processed once more: ' +
        'redrive only records the handler rejected, after fixing what rejected them',
    );
  }
}

function printBackfill(r: BackfillReport): void {
  for (const s of r.shards) out(`${s.shardId}: ${s.records} record(s), ${s.invocations} invocation(s)`);
  out(
    `${r.recordsRead} record(s) read from ${r.streamName}${r.apply ? '' : '; dry run: nothing processed (add --apply)'}`,
  );
  if (r.apply) out(totalsLine(r.totals));
}

async function main(): Promise<number> {
  const opts = parseRecoverArgs(process.argv.slice(2));
  if (opts.help) {
    out(RECOVER_HELP);
    return 0;
  }
  const command = opts.command!;
  const names = resolveTargets(command, opts.targets, process.env);
  quietHandlerOutput();
  // A command line tool may wait longer than a Lambda function for one answer.
  const target = {
    ...commandTarget(opts.endpoint),
    timeouts: { ...LOCAL_TIMEOUTS, ...(opts.requestTimeoutMs ? { requestMs: opts.requestTimeoutMs } : {}) },
  };
  const clients = createClients(target);
  handleShutdownSignals(async () => {
    // Held messages reappear by themselves when their visibility timeout ends.
    err('recover interrupted');
  });
  const handler = () => {
    let config = process.env[ENV.config];
    if (config === undefined) {
      const loaded = loadProjectConfig();
      err(`configuration: ${loaded.source}`);
      config = JSON.stringify(loaded.config);
    }
    try {
      return buildHandler(parseHandlerEnv({ ...names, [ENV.config]: config }), target);
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
  };
  const print = <T>(report: T, human: (r: T) => void) =>
    opts.json ? out(JSON.stringify(report, null, 2)) : human(report);

  switch (command) {
    case 'dlq list': {
      const entries = await listDlq(clients, names[DLQ_URL_ENV]!);
      print(entries, (es) => {
        for (const e of es) out(dlqLine(e));
        out(`${es.length} message(s)`);
      });
      return 0;
    }
    case 'dlq redrive': {
      const report = await redriveDlq({
        clients,
        dlqUrl: names[DLQ_URL_ENV]!,
        apply: opts.apply,
        ...(opts.apply ? { handler: handler() } : {}),
      });
      print(report, printDlqRedrive);
      return report.ranges.some((r) => r.outcome === 'failed') ? 1 : 0;
    }
    case 'invalid list': {
      print(
        await listInvalid(clients, names[ENV.invalidQueueUrl]!, { examples: opts.examples }),
        printInvalid,
      );
      return 0;
    }
    case 'invalid redrive': {
      const report = await redriveInvalid({
        clients,
        queueUrl: names[ENV.invalidQueueUrl]!,
        streamName: names[STREAM_NAME_ENV]!,
        apply: opts.apply,
        ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
      });
      print(report, printInvalidRedrive);
      return report.failed > 0 ? 1 : 0;
    }
    case 'backfill': {
      const report = await backfill({
        clients,
        streamName: names[STREAM_NAME_ENV]!,
        from: opts.from!,
        ...(opts.to ? { to: opts.to } : {}),
        apply: opts.apply,
        batchSize: opts.batchSize,
        ...(opts.apply ? { handler: handler() } : {}),
      });
      print(report, printBackfill);
      return 0;
    }
  }
}

main().then(exitUnlessSignalled, (error: unknown) => {
  if (!signalShutdownStarted()) process.exit(reportFailure('recover', error, HINT));
});
