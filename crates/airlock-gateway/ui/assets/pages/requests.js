// Requests: the request log with filters, newest first, paged with "Older".

import { h, replace, append } from '../dom.js';
import { get, qs } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, showError, loading, loaded, empty, table, td, clickableRow, field, select, projectSelect, badge } from '../ui.js';

const PAGE = 50;

// Filters stay while the dashboard is open (coming back from a record).
const filters = { since: '', until: '', project: '', key: '', model: '', status: '', code: '', user: '' };

function statusBadge(r) {
  const ok = r.status >= 100 && r.status < 400 && (r.outcome === 'ok' || !r.outcome);
  const label = r.outcome && r.outcome !== 'ok' && r.outcome !== 'error' ? `${r.status} ${r.outcome.replace(/_/g, ' ')}` : String(r.status);
  return badge(label, ok ? 'ok' : r.status >= 500 || r.outcome === 'error' ? 'bad' : 'warn');
}

export function tokensText(r) {
  if (!f.isNum(r.tokens_in) && !f.isNum(r.tokens_out)) return '—';
  return `${f.num(r.tokens_in)} / ${f.num(r.tokens_out)}${r.tokens_estimated ? ' (est.)' : ''}`;
}

function row(r) {
  const href = `#/requests/${encodeURIComponent(r.id)}`;
  return clickableRow(href, { 'data-request-id': r.id },
    td(h('a', { href }, f.dateTime(r.started_at_ms)), { nowrap: true }),
    td(r.project || r.project_id || h('span', { class: 'muted' }, '—')),
    td(f.orDash(r.model), { nowrap: true }),
    td(f.orDash(r.provider), { nowrap: true }),
    td(statusBadge(r)),
    td(f.us(r.latency_us), { num: true, nowrap: true }),
    td(tokensText(r), { num: true, nowrap: true }),
    td(f.money(r.cost_usd), { num: true }),
    td(r.cache ? badge(r.cache, r.cache === 'hit' ? 'ok' : null) : '—'));
}

export default function render(ctx) {
  const alert = alertRegion();
  const results = h('div');
  const pager = h('div', { class: 'pager' });
  let next = null;
  let tableEl = null;

  const since = h('input', { id: 'filter-since', type: 'datetime-local', value: filters.since });
  const until = h('input', { id: 'filter-until', type: 'datetime-local', value: filters.until });
  const key = h('input', { id: 'filter-key', type: 'text', value: filters.key, autocomplete: 'off', spellcheck: 'false' });
  const model = h('input', { id: 'filter-model', type: 'text', value: filters.model, autocomplete: 'off', spellcheck: 'false' });
  const user = h('input', { id: 'filter-user', type: 'text', value: filters.user, autocomplete: 'off', spellcheck: 'false' });
  const code = h('input', { id: 'filter-status-code', type: 'number', min: '100', max: '599', step: '1', value: filters.code, inputmode: 'numeric' });
  const codeField = field('Status code', code);
  const status = select({ id: 'filter-status', onchange: () => { codeField.hidden = status.value !== 'code'; } }, [
    { value: '', label: 'Any' },
    { value: 'ok', label: 'Succeeded' },
    { value: 'error', label: 'Failed' },
    { value: 'code', label: 'A status code…' },
  ], filters.status);
  codeField.hidden = filters.status !== 'code';
  const projectField = projectSelect('filter-project', filters.project, null);

  const form = h('form', { id: 'request-filters', class: 'panel', onsubmit: (e) => {
    e.preventDefault();
    filters.since = since.value;
    filters.until = until.value;
    filters.project = projectField.querySelector('select').value;
    filters.key = key.value.trim();
    filters.model = model.value.trim();
    filters.status = status.value;
    filters.code = code.value.trim();
    filters.user = user.value.trim();
    load(null);
  } },
  h('h2', { class: 'sr-only' }, 'Filters'),
  h('div', { class: 'form-grid' },
    field('From', since),
    field('Until', until),
    projectField,
    field('API key id', key),
    field('Model', model),
    field('Status', status),
    codeField,
    field('End user', user)),
  h('div', { class: 'form-actions' },
    h('button', { type: 'submit', class: 'primary' }, 'Apply filters'),
    h('button', { type: 'button', onclick: () => {
      Object.keys(filters).forEach((k) => { filters[k] = ''; });
      form.reset();
      for (const input of [since, until, key, model, user, code]) input.value = '';
      status.value = '';
      projectField.querySelector('select').value = '';
      codeField.hidden = true;
      load(null);
    } }, 'Clear')));

  append(ctx.el, pageHeading('requests', 'Requests'), form, alert, results, pager);

  function query(before) {
    let statusParam = filters.status;
    if (statusParam === 'code') statusParam = filters.code;
    return qs({
      since_ms: f.fromLocalInput(filters.since),
      until_ms: f.fromLocalInput(filters.until),
      project: filters.project,
      key: filters.key,
      model: filters.model,
      status: statusParam,
      user: filters.user,
      before,
      limit: PAGE,
    });
  }

  let generation = 0;
  async function load(before) {
    const mine = ++generation;
    showError(alert, null);
    if (!before) {
      loading(results);
      replace(pager);
    } else {
      replace(pager, h('p', { class: 'loading', 'aria-busy': 'true' }, 'Loading…'));
    }
    try {
      const res = await get(`/admin/v1/requests${query(before)}`);
      if (!ctx.alive() || mine !== generation) return;
      const rows = res.data || [];
      next = res.next_before || null;
      if (!before) {
        const filtered = Object.values(filters).some(Boolean);
        tableEl = rows.length === 0 ? null : table(
          ['Time', 'Project', 'Model', 'Provider', 'Status', { label: 'Latency', num: true }, { label: 'Tokens in / out', num: true }, { label: 'Cost', num: true }, 'Cache'],
          rows.map(row), { label: 'Requests' });
        replace(results, tableEl || empty(filtered ? 'No requests match these filters.' : 'No requests in this window yet.'));
      } else if (tableEl) {
        append(tableEl.tbody, rows.map(row));
      }
      replace(pager, next
        ? h('button', { type: 'button', id: 'requests-older', onclick: () => load(next) }, 'Older')
        : (tableEl ? h('span', { class: 'muted' }, 'No older requests.') : null));
    } catch (err) {
      if (!ctx.alive() || mine !== generation) return;
      if (!before) replace(results);
      replace(pager, next ? h('button', { type: 'button', id: 'requests-older', onclick: () => load(next) }, 'Older') : null);
      showError(alert, err);
    } finally {
      if (mine === generation) loaded(results);
    }
  }

  load(null);
}
