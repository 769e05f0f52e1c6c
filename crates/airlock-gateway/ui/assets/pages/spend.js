// Spend: cost by project / key / model / user over a window, budgets and
// the budget alerts sent.

import { h, append } from '../dom.js';
import { get, qs } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, showError, loader, empty, table, td, segmented, select, field, projectSelect, badge } from '../ui.js';

const WINDOWS = [
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
];
const GROUPS = [
  { value: 'project', label: 'Project' },
  { value: 'key', label: 'API key' },
  { value: 'model', label: 'Model' },
  { value: 'user', label: 'End user' },
];
const NONE = { project: '(no project)', key: '(no key)', model: '(no model)', user: '(no end user)' };

const state = { window: '7d', by: 'project', project: '' };

function level(ratio) {
  if (ratio >= 1) return 'level-100';
  if (ratio >= 0.8) return 'level-80';
  if (ratio >= 0.5) return 'level-50';
  return 'level-ok';
}

function bars(rows, labelOf) {
  const max = Math.max(...rows.map((r) => r.cost_usd || 0), 0);
  return h('ul', { class: 'bars', 'aria-label': 'Spend by group' }, rows.map((r) => {
    const fill = h('div', { class: 'bar-fill' });
    fill.style.width = `${max > 0 ? ((r.cost_usd || 0) / max) * 100 : 0}%`;
    return h('li', { class: 'bar-row' },
      h('span', { class: 'bar-label', title: labelOf(r) }, labelOf(r)),
      h('div', { class: 'bar-track', 'aria-hidden': 'true' }, fill),
      h('span', { class: 'bar-value' }, f.money(r.cost_usd)));
  }));
}

function budgetItem(b) {
  const ratio = b.usd > 0 ? (b.spent_usd || 0) / b.usd : 0;
  const pct = Math.round(ratio * 1000) / 10;
  const fill = h('div', { class: ['meter-fill', level(ratio)] });
  fill.style.width = `${Math.min(100, Math.max(0, ratio * 100))}%`;
  const who = b.scope === 'key'
    ? [badge('key', 'accent'), ' ', b.name || b.key_id, h('span', { class: 'muted' }, ` in ${b.project}`)]
    : [badge('project', 'accent'), ' ', b.name || b.project];
  const label = `${b.scope === 'key' ? 'Key' : 'Project'} ${b.name || b.key_id || b.project}`;
  return h('li', { class: 'budget', 'data-budget': b.key_id || b.project },
    h('div', { class: 'budget-head' },
      h('span', null, who),
      h('span', null, `${f.money(b.spent_usd)} of ${f.money(b.usd)} per ${b.period === 'day' ? 'day' : 'month'} · ${pct} %`)),
    h('div', {
      class: 'meter', role: 'progressbar', 'aria-label': `${label} budget used`,
      'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.min(100, pct)), 'aria-valuetext': `${pct} percent`,
    }, fill));
}

export default function render(ctx) {
  const alert = alertRegion();
  const body = h('div');
  const by = select({ id: 'spend-by', onchange: (e) => { state.by = e.target.value; load(); } }, GROUPS, state.by);
  append(ctx.el, 
    pageHeading('spend', 'Spend'),
    h('div', { class: 'controls' },
      segmented('Window', WINDOWS, state.window, (v) => { state.window = v; load(); }),
      field('Group by', by),
      projectSelect('spend-project', state.project, (v) => { state.project = v; load(); })),
    alert, body);

  const run = loader(ctx, body, alert);
  function load() {
    run(async (current) => {
      const data = await get(`/admin/v1/stats/spend${qs({ window: state.window, by: state.by, project: state.project })}`);
      if (!current()) return undefined;
      showError(alert, null);
      const rows = (data.data || []).slice().sort((a, b) => (b.cost_usd || 0) - (a.cost_usd || 0));
      const group = data.by || state.by;
      const labelOf = (r) => r.label || r.group || NONE[group] || '(none)';
      const groupLabel = (GROUPS.find((g) => g.value === group) || GROUPS[0]).label;
      const budgets = data.budgets || [];
      const alerts = (data.alerts || []).slice().sort((a, b) => b.at_ms - a.at_ms);
      return [
        h('div', { class: 'tiles' },
          h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, 'Total spend'), h('div', { class: 'tile-value', id: 'spend-total' }, f.money(data.total_cost_usd))),
          h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, 'Requests'), h('div', { class: 'tile-value' }, f.num(rows.reduce((s, r) => s + (r.requests || 0), 0))))),
        h('h2', null, `Spend by ${groupLabel.toLowerCase()}`),
        rows.length === 0 ? empty('No spend in this window yet.') : [
          h('section', { class: 'panel' }, bars(rows.slice(0, 20), labelOf),
            rows.length > 20 ? h('p', { class: 'muted' }, `The 20 largest of ${rows.length} shown; all are in the table.`) : null),
          table([groupLabel, { label: 'Requests', num: true }, { label: 'Tokens in', num: true }, { label: 'Tokens out', num: true }, { label: 'Spend', num: true }],
            rows.map((r) => h('tr', null,
              td(group === 'project' && r.label ? h('a', { href: `#/projects/${encodeURIComponent(r.label)}` }, r.label) : labelOf(r)),
              td(f.num(r.requests), { num: true }),
              td(f.num(r.tokens_in), { num: true }),
              td(f.num(r.tokens_out), { num: true }),
              td(f.money(r.cost_usd), { num: true }))), { label: `Spend by ${groupLabel.toLowerCase()}` }),
        ],
        h('h2', null, 'Budgets'),
        budgets.length === 0
          ? empty('No project or key has a budget. Set one on a project’s page.')
          : h('section', { class: 'panel' }, h('ul', { class: 'budgets' }, budgets.map(budgetItem))),
        h('h2', null, 'Budget alerts sent'),
        alerts.length === 0
          ? empty('No budget alerts sent since this instance started.')
          : table(['Time', 'Scope', 'Target', { label: 'Threshold', num: true }, { label: 'Spent', num: true }, { label: 'Budget', num: true }],
            alerts.map((a) => h('tr', null,
              td(f.dateTime(a.at_ms), { nowrap: true }),
              td(a.scope),
              td(a.target),
              td(`${a.threshold_percent} %`, { num: true }),
              td(f.money(a.spent_usd), { num: true }),
              td(f.money(a.budget_usd), { num: true }))), { label: 'Budget alerts' }),
      ];
    });
  }

  load();
}
