// The searchable sensor list, virtualised: however many sensors there are, only the rows
// in view (plus a few) exist in the DOM, repositioned as the list scrolls.
import { el, naturalOrder, num } from './format.js';

const ROW_HEIGHT = 24;
const OVERSCAN = 8;

export class SensorList {
  constructor({ container, search, count, onSelect }) {
    this.container = container;
    this.spacer = container.querySelector('.spacer');
    this.count = count;
    this.onSelect = onSelect;
    this.sensors = new Map();
    this.ids = [];
    this.shown = [];
    this.query = '';
    this.selected = undefined;
    this.rows = [];
    this.dirtyIds = true;
    this.scheduled = false;
    container.addEventListener('scroll', () => this.schedule());
    search.addEventListener('input', () => {
      this.query = search.value.trim().toLowerCase();
      this.filter();
    });
    container.addEventListener('click', (e) => {
      const row = e.target.closest('.sensor-row');
      if (row?.dataset.id) this.select(row.dataset.id);
    });
  }

  /** Replaces every sensor (a snapshot). */
  reset(sensors) {
    this.sensors = new Map(sensors.map((s) => [s.id, s]));
    this.dirtyIds = true;
    this.filter();
  }

  /** Merges a change into one sensor's summary, adding the sensor when new. */
  update(id, change) {
    let s = this.sensors.get(id);
    if (!s) {
      s = { id, alerts: 0 };
      this.sensors.set(id, s);
      this.dirtyIds = true;
    }
    Object.assign(s, change(s));
    this.schedule();
  }

  select(id) {
    this.selected = id;
    this.schedule();
    this.onSelect(id);
  }

  filter() {
    if (this.dirtyIds) {
      this.ids = [...this.sensors.keys()].sort(naturalOrder);
      this.dirtyIds = false;
    }
    const q = this.query;
    this.shown = q ? this.ids.filter((id) => id.toLowerCase().includes(q)) : this.ids;
    this.spacer.style.height = `${this.shown.length * ROW_HEIGHT}px`;
    this.count.textContent = q
      ? `${this.shown.length} of ${this.ids.length} sensors`
      : `${this.ids.length} sensors`;
    this.render();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      if (this.dirtyIds) this.filter();
      else this.render();
    });
  }

  render() {
    const top = this.container.scrollTop;
    const height = this.container.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.shown.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const needed = last - first;
    while (this.rows.length < needed) {
      const row = el(
        'div',
        { class: 'sensor-row', role: 'option' },
        el('span', { class: 'id' }),
        el('span', { class: 'val' }),
        el('span', { class: 'alerts' }),
      );
      this.container.append(row);
      this.rows.push(row);
    }
    for (let i = 0; i < this.rows.length; i++) {
      const row = this.rows[i];
      const id = this.shown[first + i];
      if (i >= needed || id === undefined) {
        row.hidden = true;
        continue;
      }
      const s = this.sensors.get(id);
      row.hidden = false;
      row.dataset.id = id;
      row.style.transform = `translateY(${(first + i) * ROW_HEIGHT}px)`;
      row.setAttribute('aria-selected', String(id === this.selected));
      const [idEl, valEl, alertEl] = row.children;
      idEl.textContent = id;
      valEl.textContent = s.open ? num(s.open.mean) : s.last ? num(s.last.mean) : '';
      alertEl.textContent = s.alerts > 0 ? `${s.alerts}!` : '';
    }
  }

  /** How many row elements exist (the browser test checks the list stays virtual). */
  get renderedRows() {
    return this.rows.filter((r) => !r.hidden).length;
  }
}
