/**
 * The short table `npm run bench` prints on stdout: one line per headline number, with
 * its target and whether it was met. The JSON report holds everything else.
 */
import type { Headline } from './context.js';
import { describeMachine, type MachineInfo } from './machine.js';

export function renderTable(
  headlines: readonly Headline[],
  machine: MachineInfo,
  mode: 'quick' | 'full',
  errors: Readonly<Record<string, string>>,
): string {
  const header = ['suite', 'metric', 'value', 'target', 'status'];
  const rows = headlines.map((h) => [
    h.suite,
    h.metric,
    h.display,
    h.target ?? '',
    h.met === undefined ? '' : h.met ? 'met' : 'MISSED',
  ]);
  for (const [suite, message] of Object.entries(errors)) {
    rows.push([suite, 'suite failed', firstLine(message), '', 'ERROR']);
  }
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    `windowpane bench (${mode}) on ${describeMachine(machine)}`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}

function firstLine(text: string): string {
  const first = text.split('\n')[0] ?? '';
  return first.length > 100 ? `${first.slice(0, 97)}...` : first;
}

export function formatInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatDollars(n: number): string {
  if (n === 0) return '$0';
  if (n >= 1) return `$${n.toFixed(2)}`;
  if (n >= 0.01) return `$${n.toFixed(3)}`;
  return `$${n.toPrecision(2)}`;
}
