// Formatting and DOM helpers shared by the page's modules. Text goes in with
// textContent only: nothing from the server is ever parsed as HTML.

export function clock(ms) {
  return new Date(ms).toTimeString().slice(0, 8);
}

export function num(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '';
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

export function ago(ms, now = Date.now()) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

/** el('td', { class: 'x' }, 'text', child): a new element. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'hidden') e.hidden = true;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
}

/** Natural order: sensor_2 before sensor_10. */
export const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

function span(ms) {
  const n = Number(ms);
  if (n % 3_600_000 === 0) return `${n / 3_600_000} h`;
  if (n % 60_000 === 0) return `${n / 60_000} min`;
  return `${n / 1000} s`;
}

/** "tumbling:60000" -> "tumbling 1 min", as the server labels a definition it has seen. */
export function defLabel(id) {
  const [type, a, b] = id.split(':');
  if (type === 'tumbling' && a) return `tumbling ${span(a)}`;
  if (type === 'sliding' && a && b) return `sliding ${span(a)} every ${span(b)}`;
  if (type === 'session' && a) return `session, gap ${span(a)}`;
  return id;
}
