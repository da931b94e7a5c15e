// The dashboard page: loads a snapshot, then follows the server's event stream. A new
// server instance (a restart) or a gap in the update sequence reloads the snapshot, so the
// page is right again after anything short of a closed tab.
import { SensorCharts } from './charts.js';
import { clock, num } from './format.js';
import { SensorList } from './list.js';
import { HealthPanel, renderAlarms, renderAlerts, renderSetAside } from './panels.js';

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 500;

const state = {
  instance: undefined,
  seq: 0,
  loading: undefined,
  buffered: [],
  primary: undefined,
  actions: false,
  alerts: [],
  alertTotal: 0,
  alarms: new Map(),
  setAside: [],
  health: [],
};

let firstChart = false;
const charts = new SensorCharts({
  container: $('charts'),
  defs: [],
  onFirstChart: () => {
    if (firstChart) return;
    firstChart = true;
    performance.mark('windowpane:first-chart');
    document.body.dataset.firstChart = 'true';
  },
});
const list = new SensorList({
  container: $('sensor-list'),
  search: $('sensor-search'),
  count: $('sensor-count'),
  onSelect: (id) => {
    history.replaceState(null, '', `#sensor=${encodeURIComponent(id)}`);
    $('selected-sensor').textContent = id;
    renderOpen();
    void charts.show(id).catch((err) => notice(err.message));
  },
});
let health;

function notice(text) {
  $('notice').textContent = text;
}

function setConnection(text) {
  const badge = $('connection');
  badge.dataset.state = text;
  badge.textContent = text;
}

function renderOpen() {
  const s = list.sensors.get(list.selected);
  const o = s?.open;
  const p = o?.percentiles
    ? Object.entries(o.percentiles)
        .map(([name, v]) => `, ${name} ${v === null ? '-' : num(v)}`)
        .join('')
    : '';
  // A deployed stack's open window is its state item's: as of its last commit, and with
  // carried state the readings since are in Lambda's window state until its checkpoint.
  const asOf =
    o?.asOf === undefined
      ? ''
      : ` (as stored at ${clock(o.asOf)}${o.carried ? "; carried: newer readings are stored at the Lambda window's checkpoint" : ''})`;
  $('open-window').textContent = o
    ? `open window ${clock(o.start)}-${clock(o.end)} (${o.windowType}): ${o.metric} count ${o.count}, mean ${num(o.mean)}, min ${num(o.min)}, max ${num(o.max)}${p}${asOf}`
    : '';
}

let panelsScheduled = false;
function renderPanels() {
  if (panelsScheduled) return;
  panelsScheduled = true;
  requestAnimationFrame(() => {
    panelsScheduled = false;
    renderAlerts($('alerts'), $('alert-count'), state.alerts, state.alertTotal);
    renderAlarms($('alarms'), state.alarms, state.actions);
    renderSetAside($('set-aside'), state.setAside);
    if (state.health.length > 0) {
      $('health-panel').hidden = false;
      health ??= new HealthPanel({
        figures: $('health-figures'),
        charts: $('health-charts'),
        chaos: $('chaos'),
      });
      health.render(state.health);
    }
    renderOpen();
  });
}

function bounded(list, items) {
  list.push(...items);
  if (list.length > MAX_ROWS) list.splice(0, list.length - MAX_ROWS);
}

async function load() {
  const res = await fetch('/api/snapshot');
  if (!res.ok) throw new Error(`snapshot: HTTP ${res.status}`);
  const snap = await res.json();
  $('source-label').textContent = snap.label;
  showStatus(snap.status);
  for (const [panel, what] of [
    ['alarms-panel', 'alarms'],
    ['alerts-panel', 'alerts'],
    ['set-aside-panel', 'setAside'],
  ]) {
    $(panel).hidden = !snap.provides.includes(what);
  }
  state.seq = snap.seq;
  state.actions = snap.actions;
  state.primary = snap.defs[0] && snap.metrics[0] ? `${snap.defs[0].id}|${snap.metrics[0]}` : undefined;
  state.alerts = snap.alerts;
  state.alertTotal = snap.alerts.length;
  state.alarms = new Map(snap.alarms.map((a) => [a.id, a]));
  state.setAside = snap.setAside;
  state.health = snap.health;
  const { seriesDropped, sensorsDropped, percentilesDropped = 0 } = snap.counts;
  if (seriesDropped > 0 || sensorsDropped > 0 || percentilesDropped > 0) {
    notice(
      `memory bound reached: ${seriesDropped} series, ${sensorsDropped} sensors and ${percentilesDropped} percentile columns not kept`,
    );
  }
  charts.setDefs(snap.defs);
  list.reset(snap.sensors);
  const wanted = decodeURIComponent(location.hash.replace(/^#sensor=/, ''));
  const pick = list.sensors.has(wanted)
    ? wanted
    : list.sensors.has(list.selected)
      ? list.selected
      : list.ids[0];
  if (pick) list.select(pick);
  renderPanels();
}

function applyUpdate(u) {
  if (u.resync || u.seq > state.seq + 1) return reload();
  if (u.seq <= state.seq) return;
  state.seq = u.seq;
  for (const row of u.windows) {
    const [sensorId, defId, metric, start, mean] = row;
    state.primary ??= `${defId}|${metric}`;
    if (state.primary === `${defId}|${metric}`) {
      list.update(sensorId, (s) => (!s.last || start >= s.last.t ? { last: { t: start, mean } } : {}));
    }
    charts.add(row);
  }
  // A sensor whose open window became final shows its final windows until a newer one opens.
  for (const id of u.closed ?? []) list.update(id, () => ({ open: undefined }));
  for (const o of u.open) list.update(o.sensorId, () => ({ open: o }));
  for (const a of u.alerts) list.update(a.sensorId, (s) => ({ alerts: s.alerts + 1 }));
  bounded(state.alerts, u.alerts);
  state.alertTotal += u.alerts.length;
  for (const a of u.alarms) state.alarms.set(a.id, a);
  bounded(state.setAside, u.setAside);
  bounded(state.health, u.health);
  if (list.selected === undefined && list.sensors.size > 0) list.select([...list.sensors.keys()][0]);
  renderPanels();
}

function reload() {
  if (state.loading) return state.loading;
  state.buffered = [];
  state.loading = load()
    .then(() => {
      const buffered = state.buffered;
      state.buffered = [];
      state.loading = undefined;
      for (const u of buffered) applyUpdate(u);
    })
    .catch((err) => {
      state.loading = undefined;
      notice(err.message);
    });
  return state.loading;
}

function showStatus(status) {
  if (status?.state === 'failed') notice(`source failed: ${status.error}`);
  else if (status?.state === 'loading') notice('waiting for the source to start');
  else if ($('notice').textContent === 'waiting for the source to start') notice('');
}

function connect() {
  const events = new EventSource('/api/events');
  events.addEventListener('hello', (e) => {
    const hello = JSON.parse(e.data);
    setConnection('live');
    if (hello.instance !== state.instance || hello.seq !== state.seq) {
      state.instance = hello.instance;
      void reload();
    }
  });
  events.addEventListener('update', (e) => {
    const update = JSON.parse(e.data);
    if (state.loading) state.buffered.push(update);
    else applyUpdate(update);
  });
  events.addEventListener('status', (e) => showStatus(JSON.parse(e.data)));
  events.addEventListener('error', () => setConnection('reconnecting'));
}

window.addEventListener('resize', () => list.schedule());
connect();
