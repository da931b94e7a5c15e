/**
 * The carried-state parts of the Markdown report (bench/markdown.ts renders them): the
 * writes suite's carried cases and the cost model's carried rows, as a text and a table's
 * header and rows each.
 */
import type { CarriedCaseResult } from './carried.js';
import { spikeNote } from './carried-cases.js';
import { formatDollars, formatInt } from './report.js';
import type { CarriedCostRow } from './suites/cost-carried.js';

type Row = readonly (string | number)[];
export interface TablePart {
  heading: string;
  text: string;
  header: Row;
  rows: Row[];
}

const fraction = (x: number) => (x > 0 ? `1/${Math.round((1 / x) * 10) / 10}` : '0');
const status = (met: boolean) => (met ? 'met' : '**missed**');

export function carriedWritesPart(cases: readonly CarriedCaseResult[]): TablePart {
  return {
    heading: '### Carried state',
    text:
      'The carried design (eventSource.tumblingWindowSeconds; bench/carried.ts): the real processCarriedBatch ' +
      "against dynalite with Lambda's tumbling-window events, one per 1 s batching window of one shard, the state " +
      'passed through JSON to the next invocation, a final invocation per Lambda window (whole windows run). Each ' +
      'case runs one Lambda window first, unmeasured, in the same process: the measured window is the steady ' +
      'state, whose sensors were checkpointed by the window before (claimed without a read, CS2). The ' +
      "shard holds the fleet's share of sensors. Units are write + read request units (metered item sizes); naive " +
      "is the same records counted with the verified formula. Each 60 s window's one result put is charged to the " +
      'readings it holds: the windows open at the end add the share they used up, and the windows open at the start ' +
      "(the warm-up's last) take off the share the warm-up's readings used up, since their puts are among the measured " +
      'writes. Kinesis requests are catch-up reads (none without faults).',
    header: [
      'fleet',
      'rate',
      'tumbling window',
      'invocations (records each)',
      'claims (unread) / checkpoints / rule commits',
      'WRU / reading',
      'RRU / reading',
      'units / reading: state / alert ledger / results',
      'units vs naive',
      'writes vs naive',
      'target',
      'status',
      'state item bytes mean',
      'carried state mean / max bytes (budget)',
      'Kinesis requests',
    ],
    rows: cases.map((c) => [
      `${formatInt(c.fleet)} sensors (${formatInt(c.sensors)} on the shard)${spikeNote(c)}`,
      `${c.rateHz} Hz`,
      `${c.tumblingWindowSeconds} s x ${c.lambdaWindows}`,
      `${formatInt(c.invocations)} (${c.meanRecordsPerInvocation}) + ${c.finalInvocations} final`,
      `${formatInt(c.claims)} (${formatInt(c.claimsUnread ?? 0)}) / ${formatInt(c.checkpoints)} / ${formatInt(c.stateItems?.ruleCommits ?? 0)}`,
      c.ours.writeUnitsPerReading,
      c.ours.readUnitsPerReading,
      c.unitsPerReadingByTable
        ? `${c.unitsPerReadingByTable.state} / ${c.unitsPerReadingByTable.ledger} / ${c.unitsPerReadingByTable.results}` +
          (c.unitsPerReadingByTable.other > 0 ? ` (+ ${c.unitsPerReadingByTable.other} other)` : '')
        : '',
      fraction(c.ratio),
      fraction(c.writesRatio),
      `<= ${fraction(c.targetRatio)}`,
      status(c.targetMet),
      formatInt(c.stateItems?.meanBytes ?? 0),
      `${formatInt(c.carriedBytes.mean)} / ${formatInt(c.carriedBytes.max)} (${formatInt(c.carriedBytes.budget)})`,
      c.kinesisRequests,
    ]),
  };
}

export function carriedCostPart(rows: readonly CarriedCostRow[]): TablePart {
  return {
    heading: '### Carried state',
    text:
      'The carried rows (bench/suites/cost-carried.ts): Lambda at the default batching window of 0 (batches of its 1 s poll), invocations with records ' +
      'plus one final invocation per shard and Lambda window, each priced (requests + GB-seconds; CPU = pure path ' +
      'with state JSON + the measured cost of passing the carried state); DynamoDB, SNS and SQS from the carried ' +
      "cases' metered requests; naive on the same records at the default event source settings. Goal: total <= 1/2 of naive.",
    header: [
      'fleet',
      'tumbling window',
      'invocations / M (final)',
      'Lambda billed / invocation',
      'Lambda',
      'DynamoDB',
      'total on-demand',
      'naive on-demand',
      'vs naive (on-demand / provisioned)',
      'per-batch on-demand',
      'goal <= 1/2',
    ],
    rows: rows.map((x) => [
      `${formatInt(x.sensors)} @ ${x.rateHz} Hz${spikeNote(x)}`,
      `${x.tumblingWindowSeconds} s`,
      `${formatInt(x.invocationsPerMillion)} (${x.finalInvocationsPerMillion})`,
      `${x.lambda.billedMs} ms`,
      formatDollars(x.dollarsPerMillion.lambda),
      formatDollars(x.dollarsPerMillion.dynamodb),
      `**${formatDollars(x.dollarsPerMillion.totalOnDemand)}**`,
      formatDollars(x.naive.totalOnDemand),
      `${x.vsNaive.onDemand} / ${x.vsNaive.provisioned}`,
      (x.perBatch ?? []).map((p) => `${formatDollars(p.totalOnDemand)} (${p.esm.split(' ')[0]})`).join(', '),
      status(x.goalMet),
    ]),
  };
}
