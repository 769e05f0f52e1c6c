// Overview: stat tiles, time-series charts, tables by project/model/provider.
// The numbers refresh every 10 s while the page is open.

import { h, replace, append } from '../dom.js';
import { get, qs } from '../api.js';
import * as f from '../format.js';
import { timeChart, COLORS } from '../chart.js';
import { pageHeading, alertRegion, showError, loading, loaded, empty, table, td, segmented, projectSelect } from '../ui.js';

const WINDOWS = [
  { value: '1h', label: 'Last hour' },
  { value: '24h', label: 'Last 24 hours' },
  { value: '30d', label: 'Last 30 days' },
];
const REFRESH_MS = 10000;

// Kept while the dashboard is open, so coming back keeps the choice.
const state = { window: '24h', project: '' };

function errorRate(t) {
  return t && t.requests ? t.errors / t.requests : null;
}

function tile(label, value, live) {
  return h('div', { class: ['tile', live && 'live'] },
    h('div', { class: 'tile-label' }, label),
    h('div', { class: 'tile-value' }, value));
}

function tokens(t) {
  return (t.tokens_in || 0) + (t.tokens_out || 0);
}

function breakdown(title, rows, keyOf, linkOf) {
  const body = rows.length === 0
    ? empty('No requests in this window yet.')
    : table(
      [title, { label: 'Requests', num: true }, { label: 'Errors', num: true }, { label: 'Tokens in', num: true }, { label: 'Tokens out', num: true }, { label: 'Spend', num: true }],
      [...rows].sort((a, b) => (b.requests || 0) - (a.requests || 0)).map((r) => {
        const name = keyOf(r);
        const link = linkOf ? linkOf(r) : null;
        return h('tr', null,
          td(link ? h('a', { href: link }, name) : name),
          td(f.num(r.requests), { num: true }),
          td(f.num(r.errors), { num: true }),
          td(f.num(r.tokens_in), { num: true }),
          td(f.num(r.tokens_out), { num: true }),
          td(f.money(r.cost_usd), { num: true }));
      }),
      { label: `By ${title.toLowerCase()}` });
  return h('section', { class: 'breakdown' }, h('h2', null, `By ${title.toLowerCase()}`), body);
}

export default function render(ctx) {
  const alert = alertRegion();
  const body = h('div', { 'aria-live': 'off' });
  const updated = h('p', { class: 'muted', 'aria-live': 'polite' });
  let charts = [];
  let timer = null;
  let inFlight = false;
  let generation = 0;

  const controls = h('div', { class: 'controls' },
    segmented('Window', WINDOWS, state.window, (value) => {
      state.window = value;
      load(true);
    }),
    projectSelect('overview-project', state.project, (value) => {
      state.project = value;
      load(true);
    }));

  append(ctx.el, pageHeading('overview', 'Overview'), controls, alert, body, updated);

  function destroyCharts() {
    for (const c of charts) c.chart.destroy();
    charts = [];
  }

  function chartPanel(title, key, series, format) {
    const box = h('div', { class: 'chart', 'data-chart': key, role: 'img', 'aria-label': title });
    const panel = h('section', { class: 'panel chart-panel' }, h('h2', null, title), box);
    return { panel, box, key, series, format };
  }

  // The page's parts: built once per window/project choice, then refreshed in place.
  let parts = null;

  function build() {
    destroyCharts();
    const specs = [
      chartPanel('Requests and errors', 'requests', [
        { label: 'Requests', color: COLORS.accent, fill: 'rgba(29,78,216,0.08)' },
        { label: 'Errors', color: COLORS.red },
      ], f.compact),
      chartPanel('Latency', 'latency', [
        { label: 'p50', color: COLORS.accent },
        { label: 'p95', color: COLORS.orange },
        { label: 'p99', color: COLORS.purple },
      ], f.ms),
      chartPanel('Tokens', 'tokens', [
        { label: 'In', color: COLORS.teal },
        { label: 'Out', color: COLORS.accent },
      ], f.compact),
      chartPanel('Spend', 'spend', [
        { label: 'Spend', color: COLORS.green, fill: 'rgba(21,128,61,0.08)' },
      ], f.money),
    ];
    parts = {
      tiles: h('div', { class: 'tiles', 'data-tiles': '' }),
      note: h('div'),
      tables: h('div'),
    };
    replace(body, parts.tiles, parts.note, h('div', { class: 'charts' }, specs.map((sp) => sp.panel)), parts.tables);
    charts = specs.map((sp) => ({ key: sp.key, chart: timeChart(sp.box, { series: sp.series, format: sp.format }) }));
  }

  function fill(data) {
    const t = data.totals || {};
    const live = data.live || {};
    replace(parts.tiles,
      tile('Requests', f.num(t.requests)),
      tile('Error rate', f.percent(errorRate(t))),
      tile('Latency p50', f.ms(t.latency_p50_ms)),
      tile('Latency p95', f.ms(t.latency_p95_ms)),
      tile('Latency p99', f.ms(t.latency_p99_ms)),
      tile('Time to first token p50', f.ms(t.ttft_p50_ms)),
      tile('Tokens', f.compact(tokens(t))),
      tile('Spend', f.money(t.cost_usd)),
      tile('In flight now', f.num(live.in_flight), true),
      tile('Realtime sessions now', f.num(live.realtime_sessions), true));
    replace(parts.note, t.requests ? null : h('p', { class: 'notice' }, 'No requests in this window yet.'));
    replace(parts.tables,
      breakdown('Project', data.by_project || [], (r) => r.project || r.project_id || '(no project)',
        (r) => (r.project ? `#/projects/${encodeURIComponent(r.project)}` : null)),
      breakdown('Model', data.by_model || [], (r) => r.model || '(none)'),
      breakdown('Provider', data.by_provider || [], (r) => r.provider || '(none)'));
    setChartData(data);
  }

  function setChartData(data) {
    const series = data.series || [];
    const xs = series.map((p) => p.t);
    const col = (k) => series.map((p) => (p[k] === undefined ? null : p[k]));
    const values = {
      requests: [col('requests'), col('errors')],
      latency: [col('latency_p50_ms'), col('latency_p95_ms'), col('latency_p99_ms')],
      tokens: [col('tokens_in'), col('tokens_out')],
      spend: [col('cost_usd')],
    };
    for (const c of charts) c.chart.setData(xs, values[c.key]);
  }

  async function load(fresh) {
    const mine = ++generation;
    if (fresh) {
      destroyCharts();
      parts = null;
      loading(body);
    }
    inFlight = true;
    try {
      const data = await get(`/admin/v1/stats/overview${qs({ window: state.window, project: state.project })}`);
      if (!ctx.alive() || mine !== generation) return;
      showError(alert, null);
      loaded(body);
      if (fresh || !parts) build();
      fill(data);
      replace(updated, `Updated ${new Date().toLocaleTimeString()}. Refreshes every 10 seconds.`);
    } catch (err) {
      if (!ctx.alive() || mine !== generation) return;
      loaded(body);
      if (fresh) {
        replace(body);
        parts = null;
      }
      showError(alert, err);
    } finally {
      inFlight = false;
    }
  }

  load(true);
  timer = setInterval(() => {
    if (!document.hidden && !inFlight) load(false);
  }, REFRESH_MS);

  return () => {
    clearInterval(timer);
    destroyCharts();
  };
}
