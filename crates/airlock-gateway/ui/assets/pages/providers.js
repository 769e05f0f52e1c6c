// Providers: each provider's circuit breaker, retry budget and key pool,
// and its upstream requests, errors and latency over the last hour.

import { h, replace, append } from '../dom.js';
import { get } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, showError, loading, loaded, empty, badge, dl } from '../ui.js';

const CIRCUIT = {
  closed: ['Closed (healthy)', 'ok'],
  half_open: ['Half open (probing)', 'warn'],
  open: ['Open (not sending)', 'bad'],
};

function keyState(k) {
  if (k.state === 'active') return badge('Active', 'ok');
  if (k.state === 'rejected') return badge('Rejected', 'bad');
  if (k.state === 'resting') {
    return badge(f.isNum(k.resting_until_ms) ? `Resting until ${new Date(k.resting_until_ms).toLocaleTimeString()}` : 'Resting', 'warn');
  }
  return badge(k.state || 'unknown');
}

/** The last hour's upstream numbers of one provider, from the overview. */
function lastHour(stats) {
  if (!stats || !stats.requests) return 'No requests in the last hour';
  const errors = `${f.num(stats.errors)} errors (${f.percent(stats.errors / stats.requests)})`;
  const latency = `latency p50 ${f.ms(stats.latency_p50_ms)}, p95 ${f.ms(stats.latency_p95_ms)}`;
  return `${f.num(stats.requests)} requests, ${errors}, ${latency}`;
}

function card(p, stats) {
  const c = p.circuit || {};
  const [circuitLabel, circuitKind] = CIRCUIT[c.state] || [c.state || 'unknown', null];
  const rb = p.retry_budget || {};
  const keys = p.keys || [];
  const fields = [
    ['Kind', p.kind],
    ['Circuit', badge(circuitLabel, circuitKind)],
    ['Failures in a row', f.num(c.consecutive_failures)],
    ['Last hour', lastHour(stats)],
  ];
  if (f.isNum(c.probe_in_secs)) fields.push(['Next probe', c.probe_in_secs === 0 ? 'On the next call' : `In ${c.probe_in_secs} s`]);
  if (rb && (f.isNum(rb.available) || f.isNum(rb.percent))) {
    fields.push(['Retry budget', `${f.isNum(rb.available) ? f.num(Math.floor(rb.available)) : '—'} retries available${f.isNum(rb.percent) ? ` (${rb.percent} % of requests)` : ''}`]);
  }
  return h('section', { class: 'panel provider', 'data-provider': p.name },
    h('h2', null, p.name),
    dl(fields),
    h('h3', null, `Keys (${keys.length})`),
    keys.length === 0
      ? empty('No keys configured.')
      : h('ul', { class: 'provider-keys' }, keys.map((k) => h('li', { 'data-key-id': k.id }, h('code', null, k.id), keyState(k)))));
}

export default function render(ctx) {
  const alert = alertRegion();
  const body = h('div');
  const refresh = h('button', { type: 'button', id: 'providers-refresh', onclick: () => load() }, 'Refresh');
  const updated = h('span', { class: 'muted', role: 'status' });
  append(ctx.el, pageHeading('providers', 'Providers'),
    h('div', { class: 'controls' }, refresh, updated), alert, body);

  async function load(first) {
    if (first) loading(body);
    refresh.disabled = true;
    try {
      const [res, overview] = await Promise.all([
        get('/admin/v1/providers'),
        get('/admin/v1/stats/overview?window=1h'),
      ]);
      if (!ctx.alive()) return;
      showError(alert, null);
      const list = res.data || [];
      const byProvider = new Map((overview.by_provider || []).map((row) => [row.provider, row]));
      const cards = list.map((p) => card(p, byProvider.get(p.name)));
      replace(body, list.length === 0 ? empty('No providers are configured.') : h('div', { class: 'providers' }, cards));
      replace(updated, `Updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      if (!ctx.alive()) return;
      if (first) replace(body);
      showError(alert, err);
    } finally {
      refresh.disabled = false;
      loaded(body);
    }
  }

  load(true);
  const timer = setInterval(() => { if (!document.hidden) load(false); }, 10000);
  return () => clearInterval(timer);
}
