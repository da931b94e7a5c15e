// The side panels: alarms (with acknowledge / snooze when the server has alarm
// actions), alerts, late and invalid records with their reasons, and the pipeline's
// health (throughput, iterator age, batch sizes, injected faults under --chaos).
import { HealthChart } from './charts.js';
import { clock, el, num } from './format.js';

const SHOWN = 100;
const ACKABLE = new Set(['ACTIVE', 'LATCHED']);
const SNOOZABLE = new Set(['ACTIVE', 'LATCHED', 'ACKNOWLEDGED']);
const SNOOZE_CHOICES = [
  ['15 min', 15 * 60_000],
  ['1 h', 3_600_000],
  ['4 h', 4 * 3_600_000],
  ['24 h', 24 * 3_600_000],
];

function newestFirst(list, row) {
  return list.slice(-SHOWN).reverse().map(row);
}

export function renderAlerts(target, count, alerts, total) {
  count.textContent = `(${total})`;
  target.replaceChildren(
    ...newestFirst(alerts, (a) => el('li', { class: a.severity, 'data-alert-id': a.alertId }, a.text)),
  );
}

export function renderSetAside(target, rows) {
  target.replaceChildren(
    ...newestFirst(rows, (r) =>
      el(
        'li',
        { 'data-kind': r.kind },
        el('b', {}, `${r.kind} `),
        `${r.reason} `,
        el('span', { class: 'dim' }, `${r.sensorId}: ${r.detail}`),
      ),
    ),
  );
}

async function post(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    const text = await res.json().catch(() => ({}));
    throw new Error(text.error ?? `HTTP ${res.status}`);
  }
}

function alarmButtons(alarm) {
  const cell = el('td', { class: 'actions' });
  const feedback = el('span', { class: 'dim feedback' });
  const run = async (button, path, body) => {
    button.disabled = true;
    feedback.textContent = 'sending';
    try {
      await post(`/api/alarms/${encodeURIComponent(alarm.id)}/${path}`, body);
      feedback.textContent = 'sent';
    } catch (err) {
      feedback.textContent = err.message;
      button.disabled = false;
    }
  };
  if (ACKABLE.has(alarm.state)) {
    const note = el('input', {
      class: 'alarm-note',
      placeholder: 'note',
      'aria-label': 'note',
      maxlength: 500,
    });
    const ack = el('button', { type: 'button', 'data-action': 'ack' }, 'Acknowledge');
    ack.addEventListener('click', () => run(ack, 'ack', { note: note.value }));
    cell.append(note, ack);
  }
  if (SNOOZABLE.has(alarm.state)) {
    const choice = el(
      'select',
      { 'aria-label': 'snooze for' },
      ...SNOOZE_CHOICES.map(([label, ms]) => el('option', { value: ms }, label)),
    );
    const snooze = el('button', { type: 'button', 'data-action': 'snooze' }, 'Snooze');
    snooze.addEventListener('click', () => run(snooze, 'snooze', { forMs: Number(choice.value) }));
    cell.append(choice, snooze);
  }
  cell.append(feedback);
  return cell;
}

// An alarm's row, made once per alarm state: an update that does not change an alarm
// keeps its row, so a note being typed (and the focus) survives other alarms' updates.
const alarmRows = new WeakMap();

function alarmRow(a, withActions) {
  const cached = alarmRows.get(a);
  if (cached && cached.withActions === withActions) return cached.tr;
  const who = a.by ? ` by ${a.by}${a.note ? `: ${a.note}` : ''}` : '';
  const snoozed = a.snoozedUntil ? ` until ${clock(a.snoozedUntil)}` : '';
  const tr = el(
    'tr',
    {
      'data-alarm-id': a.id,
      'data-alarm-state': a.state,
      'data-alarm-transition': a.transition,
      class: a.severity,
    },
    el('td', {}, a.sensorId),
    // Version 0 is a rule that never had one set: nothing to tell.
    el('td', {}, a.ruleVersion ? `${a.rule} v${a.ruleVersion}` : a.rule),
    el(
      'td',
      { class: 'state', title: `${a.transition ?? a.state}${who}${snoozed}` },
      a.state,
      withActions && a.by ? el('div', { class: 'dim by' }, `${who}${snoozed}`.trim()) : undefined,
    ),
    el('td', {}, clock(a.since)),
    el('td', {}, num(a.value)),
    el('td', {}, num(a.peak)),
    withActions ? alarmButtons(a) : el('td', { class: 'dim' }, `${who}${snoozed}`.trim()),
  );
  alarmRows.set(a, { withActions, tr });
  return tr;
}

export function renderAlarms(target, alarms, withActions) {
  const rows = [...alarms.values()]
    .sort((a, b) => b.since - a.since)
    .slice(0, SHOWN)
    .map((a) => alarmRow(a, withActions));
  // Rows already in place are not moved (moving one would drop its input's focus): the
  // rows of replaced states go first, then the new ones are put where they belong.
  const wanted = new Set(rows);
  for (const tr of [...target.children]) if (!wanted.has(tr)) tr.remove();
  rows.forEach((tr, i) => {
    if (target.children[i] !== tr) target.insertBefore(tr, target.children[i] ?? null);
  });
}

export class HealthPanel {
  constructor({ figures, charts, chaos }) {
    this.figures = figures;
    this.chaos = chaos;
    this.throughput = new HealthChart(charts, 'throughput (records/s)', '#57ab5a');
    this.iterator = new HealthChart(charts, 'iterator age (ms)', '#d4a72c');
    this.batches = new HealthChart(charts, 'largest batch (records)', '#4fa3e0');
  }

  render(samples) {
    const last = samples[samples.length - 1];
    if (!last) return;
    const sizes = samples.slice(-30).flatMap((s) => s.batchSizes);
    const sorted = [...sizes].sort((a, b) => a - b);
    const median = sorted.length > 0 ? sorted[Math.floor(sorted.length / 2)] : 0;
    const entries = [
      ['throughput', `${num(last.throughput)} records/s`],
      ['iterator age', `${Math.round(last.iteratorAgeMs)} ms`],
      [
        'batch size',
        sizes.length > 0
          ? `median ${median}, max ${sorted[sorted.length - 1]} (${sizes.length} batches)`
          : 'no batch lately',
      ],
      ...Object.entries(last.counters).map(([k, v]) => [k, String(v)]),
    ];
    this.figures.replaceChildren(
      ...entries.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-figure': k }, v)]),
    );
    this.throughput.set(samples.map((s) => [s.at, s.throughput]));
    this.iterator.set(samples.map((s) => [s.at, s.iteratorAgeMs]));
    this.batches.set(samples.map((s) => [s.at, s.batchSizes.length > 0 ? Math.max(...s.batchSizes) : 0]));
    if (last.chaos) {
      this.chaos.replaceChildren(
        el('dt', {}, 'chaos faults'),
        el('dd', { 'data-figure': 'chaos faults' }, String(last.chaos.total)),
        ...Object.entries(last.chaos.faults).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]),
      );
    }
  }
}
