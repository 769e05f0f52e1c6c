// The audit log: who changed what, oldest first, paged forward with
// `after` (the last sequence number shown).

import { h, replace, append } from '../dom.js';
import { get, qs } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, showError, loading, loaded, empty, table, td } from '../ui.js';

const PAGE = 100;

function json(value) {
  return value === null || value === undefined ? '(none)' : JSON.stringify(value, null, 2);
}

function rows(entry) {
  const detailsId = `audit-details-${entry.seq}`;
  const hasDetails = entry.before != null || entry.after != null;
  const details = h('tr', { class: 'details-row', id: detailsId, hidden: true },
    h('td', { colspan: '6' },
      h('div', { class: 'form-grid' },
        h('div', null, h('h3', null, 'Before'), h('pre', { class: 'json' }, json(entry.before))),
        h('div', null, h('h3', null, 'After'), h('pre', { class: 'json' }, json(entry.after))))));
  const toggle = hasDetails ? h('button', {
    type: 'button', class: 'link', 'aria-expanded': 'false', 'aria-controls': detailsId,
    onclick: () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      details.hidden = !open;
      toggle.textContent = open ? 'Hide details' : 'Details';
    },
  }, 'Details') : h('span', { class: 'muted' }, '—');
  return [
    h('tr', { 'data-audit-seq': entry.seq },
      td(f.dateTime(entry.at_ms), { nowrap: true }),
      td(entry.actor),
      td(h('code', null, entry.action)),
      td(entry.target),
      td(f.orDash(entry.remote_addr)),
      td(toggle)),
    details,
  ];
}

export default function render(ctx) {
  const alert = alertRegion();
  const results = h('div');
  const pager = h('div', { class: 'pager' });
  let tableEl = null;
  let last = 0;
  append(ctx.el, pageHeading('audit', 'Audit log'),
    h('p', { class: 'muted' }, 'Every change made through the admin API, oldest first.'),
    alert, results, pager);

  function more() {
    return h('button', { type: 'button', id: 'audit-more', onclick: () => load(false) }, 'More');
  }

  async function load(first) {
    if (first) loading(results);
    else replace(pager, h('p', { class: 'loading', 'aria-busy': 'true' }, 'Loading…'));
    try {
      const res = await get(`/admin/v1/audit${qs({ after: last || null, limit: PAGE })}`);
      if (!ctx.alive()) return;
      const entries = res.data || [];
      if (entries.length) last = entries[entries.length - 1].seq;
      if (first) {
        tableEl = entries.length ? table(['Time', 'Actor', 'Action', 'Target', 'Remote address', 'Changes'], entries.flatMap(rows), { label: 'Audit log' }) : null;
        replace(results, tableEl || empty('No changes have been recorded yet.'));
      } else if (tableEl) {
        append(tableEl.tbody, entries.flatMap(rows));
      } else if (entries.length) {
        tableEl = table(['Time', 'Actor', 'Action', 'Target', 'Remote address', 'Changes'], entries.flatMap(rows), { label: 'Audit log' });
        replace(results, tableEl);
      }
      replace(pager, more(), entries.length < PAGE ? h('span', { class: 'muted', role: 'status' }, first && !entries.length ? '' : 'No newer entries yet.') : null);
    } catch (err) {
      if (!ctx.alive()) return;
      if (first) replace(results);
      replace(pager, more());
      showError(alert, err);
    } finally {
      loaded(results);
    }
  }

  load(true);
}
