// Charts of one sensor's final windows (uPlot, served from node_modules): one chart per
// window definition and metric, the mean as a line inside its min-max band, the count of
// readings per window on the right axis, and the window percentiles (p50, p99, ...) as
// dashed lines when the pipeline configures them (click a legend entry to hide one).
// Under each chart, a table of the newest windows. The server downsamples to about the
// chart's width; live windows are appended here, and a zoom asks the server for that
// range again.
import uPlot from '/vendor/uPlot.esm.js';
import { clock, defLabel, el, num } from './format.js';

const HEIGHT = 220;
const TABLE_ROWS = 5;
// Percentile lines, from the lowest quantile to the highest (the tail stands out in red).
const PERCENTILE_COLORS = ['#a371f7', '#d4a72c', '#e3793b', '#f85149'];
const FIXED_SERIES = 5;

function percentileColor(i, n) {
  return PERCENTILE_COLORS[Math.max(0, PERCENTILE_COLORS.length - n + i)] ?? PERCENTILE_COLORS.at(-1);
}

function seriesOptions(metric, pNames) {
  return [
    {},
    { label: `${metric} mean`, stroke: '#4fa3e0', width: 1.5 },
    { label: 'min', stroke: 'rgba(79,163,224,0.35)', width: 1 },
    { label: 'max', stroke: 'rgba(79,163,224,0.35)', width: 1 },
    { label: 'count', stroke: '#8b949e', width: 1, scale: 'count', paths: uPlot.paths.stepped({ align: 1 }) },
    ...pNames.map((name, i) => ({
      label: name,
      stroke: percentileColor(i, pNames.length),
      width: 1.25,
      dash: [6, 3],
    })),
  ];
}

function namesOf(columns) {
  return columns.p ? Object.keys(columns.p) : [];
}

function toData(columns) {
  const p = namesOf(columns).map((name) => columns.p[name]);
  return [columns.t.map((t) => t / 1000), columns.mean, columns.min, columns.max, columns.count, ...p];
}

/** The newest windows of a chart, newest first: start, count, mean, min, max, percentiles. */
function renderTable(chart) {
  const { data, pNames, table } = chart;
  const n = data[0].length;
  const rows = [];
  for (let i = n - 1; i >= 0 && rows.length < TABLE_ROWS; i--) {
    rows.push(
      el(
        'tr',
        {},
        el('td', {}, clock(data[0][i] * 1000)),
        ...[4, 1, 2, 3].map((k) => el('td', {}, num(data[k][i]))),
        ...pNames.map((name, j) => el('td', { 'data-p': name }, num(data[FIXED_SERIES + j][i]))),
      ),
    );
  }
  table.replaceChildren(
    el(
      'thead',
      {},
      el('tr', {}, ...['start', 'count', 'mean', 'min', 'max', ...pNames].map((h) => el('th', {}, h))),
    ),
    el('tbody', {}, ...rows),
  );
}

export class SensorCharts {
  constructor({ container, defs, onFirstChart }) {
    this.container = container;
    this.defs = defs;
    this.onFirstChart = onFirstChart;
    this.sensor = undefined;
    this.charts = new Map();
    this.request = 0;
    this.dirty = new Set();
  }

  setDefs(defs) {
    this.defs = defs;
  }

  width() {
    return Math.max(300, this.container.clientWidth - 8);
  }

  async show(sensor, range = {}) {
    this.sensor = sensor;
    const request = ++this.request;
    const params = new URLSearchParams({ sensor, points: String(this.width()) });
    if (range.from !== undefined) params.set('from', String(Math.floor(range.from)));
    if (range.to !== undefined) params.set('to', String(Math.ceil(range.to)));
    const res = await fetch(`/api/series?${params}`);
    if (!res.ok) throw new Error(`series of ${sensor}: HTTP ${res.status}`);
    const body = await res.json();
    // A newer selection won the race.
    if (request !== this.request) return;
    if (range.from === undefined) this.clear();
    for (const s of body.series)
      this.draw(s.defId, s.metric, toData(s.columns), range.from !== undefined, namesOf(s.columns));
    if (body.series.length === 0)
      this.container.replaceChildren(el('p', { class: 'dim' }, 'no final window yet'));
  }

  clear() {
    for (const c of this.charts.values()) c.plot.destroy();
    this.charts.clear();
    this.container.replaceChildren();
  }

  draw(defId, metric, data, zoomed, pNames = []) {
    const key = `${defId}|${metric}`;
    const existing = this.charts.get(key);
    if (existing && existing.pNames.join() === pNames.join()) {
      existing.data = data;
      existing.plot.setData(data, !zoomed);
      existing.box.dataset.points = String(data[0].length);
      renderTable(existing);
      return;
    }
    // Percentiles appeared (or changed with the configuration): uPlot's series are fixed
    // at creation, so the chart is made again in place.
    const def = this.defs.find((d) => d.id === defId);
    const box = el(
      'div',
      {
        class: 'chart',
        'data-def': defId,
        'data-metric': metric,
        'data-percentiles': pNames.join(',') || undefined,
      },
      el('h4', {}, `${def?.label ?? defLabel(defId)} · ${metric}`),
    );
    if (existing) {
      existing.plot.destroy();
      existing.box.replaceWith(box);
      this.charts.delete(key);
    } else this.container.append(box);
    const opts = {
      width: this.width(),
      height: HEIGHT,
      series: seriesOptions(metric, pNames),
      bands: [{ series: [3, 2], fill: 'rgba(79,163,224,0.15)' }],
      scales: { x: { time: true }, count: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
      axes: [
        { stroke: '#7d8a96', grid: { stroke: '#26313a' } },
        { stroke: '#7d8a96', grid: { stroke: '#26313a' } },
        { scale: 'count', side: 1, stroke: '#7d8a96', grid: { show: false } },
      ],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        setSelect: [(u) => this.zoom(u)],
        draw: [(u) => u.data[0].length > 0 && this.onFirstChart?.()],
      },
    };
    const plot = new uPlot(opts, data, box);
    plot.root.addEventListener('dblclick', () => this.show(this.sensor));
    box.dataset.points = String(data[0].length);
    const table = el('table', { class: 'windows' });
    box.append(table);
    const chart = { plot, data, box, pNames, table };
    renderTable(chart);
    this.charts.set(key, chart);
  }

  zoom(u) {
    if (u.select.width < 2) return;
    const from = u.posToVal(u.select.left, 'x') * 1000;
    const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
    u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
    void this.show(this.sensor, { from, to });
  }

  /** A live window row [sensorId, defId, metric, start, mean, min, max, count, percentiles?]. */
  add(row) {
    const [sensorId, defId, metric, start, mean, min, max, count, p] = row;
    if (sensorId !== this.sensor) return;
    const key = `${defId}|${metric}`;
    const chart = this.charts.get(key);
    const x = start / 1000;
    const pNames = p ? Object.keys(p) : [];
    if (!chart) {
      if (this.charts.size === 0) this.container.replaceChildren();
      this.draw(
        defId,
        metric,
        [[x], [mean], [min], [max], [count], ...pNames.map((n) => [p[n]])],
        false,
        pNames,
      );
      return;
    }
    if (pNames.some((n) => !chart.pNames.includes(n))) {
      // New percentile lines: the server has the whole series with them.
      this.refetchSoon();
      return;
    }
    const values = [x, mean, min, max, count, ...chart.pNames.map((n) => p?.[n] ?? null)];
    const [t] = chart.data;
    const at = t.length > 0 && t[t.length - 1] === x ? t.length - 1 : -1;
    if (at >= 0) {
      for (let i = 1; i < values.length; i++) chart.data[i][at] = values[i];
    } else if (t.length === 0 || x > t[t.length - 1]) {
      for (let i = 0; i < values.length; i++) chart.data[i].push(values[i]);
    } else {
      // Out of order (sliding windows, a late source): the server has it sorted.
      this.refetchSoon();
      return;
    }
    this.dirty.add(key);
    if (t.length > 2 * this.width()) this.refetchSoon();
    else this.flushSoon();
  }

  flushSoon() {
    if (this.flushing) return;
    this.flushing = true;
    requestAnimationFrame(() => {
      this.flushing = false;
      for (const key of this.dirty) {
        const c = this.charts.get(key);
        if (!c) continue;
        c.plot.setData(c.data);
        c.box.dataset.points = String(c.data[0].length);
        renderTable(c);
      }
      this.dirty.clear();
    });
  }

  refetchSoon() {
    clearTimeout(this.refetchTimer);
    this.refetchTimer = setTimeout(() => void this.show(this.sensor), 500);
  }
}

/** A small chart of one health figure over time (throughput, iterator age, batch size). */
export class HealthChart {
  constructor(container, label, color) {
    this.box = el('div', { class: 'chart', 'data-health': label }, el('h4', {}, label));
    container.append(this.box);
    this.data = [[], []];
    this.plot = new uPlot(
      {
        width: 390,
        height: 100,
        legend: { show: false },
        series: [{}, { label, stroke: color, width: 1.5 }],
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
        axes: [
          { stroke: '#7d8a96', grid: { stroke: '#26313a' } },
          { stroke: '#7d8a96', size: 50, grid: { stroke: '#26313a' } },
        ],
        cursor: { show: false },
      },
      this.data,
      this.box,
    );
  }

  set(points) {
    this.data = [points.map((p) => p[0] / 1000), points.map((p) => p[1])];
    this.plot.setData(this.data);
  }
}
