// Realtime sessions: newest first, paged with "Older".

import { h, replace, append } from '../dom.js';
import { get, qs } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, showError, loading, loaded, empty, table, td, clickableRow, badge } from '../ui.js';

const PAGE = 50;

export function closeBadge(s) {
  const clean = s.close_reason === 'client_closed' || s.close_reason === 'upstream_closed';
  const text = s.close_reason ? s.close_reason.replace(/_/g, ' ') : String(s.close_code ?? '—');
  return badge(text, clean ? 'ok' : 'warn');
}

function row(s) {
  const href = `#/realtime/${encodeURIComponent(s.id)}`;
  const tokens = f.isNum(s.tokens_in) || f.isNum(s.tokens_out) ? `${f.num(s.tokens_in)} / ${f.num(s.tokens_out)}` : '—';
  return clickableRow(href, { 'data-session-id': s.id },
    td(h('a', { href }, f.dateTime(s.started_at_ms)), { nowrap: true }),
    td(f.orDash(s.surface)),
    td(f.orDash(s.model)),
    td(s.project || s.project_id || h('span', { class: 'muted' }, '—')),
    td(f.isNum(s.ended_at_ms) ? f.ms(s.ended_at_ms - s.started_at_ms) : 'Open', { num: true, nowrap: true }),
    td(`${f.num(s.frames_in)} / ${f.num(s.frames_out)}`, { num: true, nowrap: true }),
    td(tokens, { num: true, nowrap: true }),
    td(closeBadge(s)));
}

export default function render(ctx) {
  const alert = alertRegion();
  const results = h('div');
  const pager = h('div', { class: 'pager' });
  let tableEl = null;
  append(ctx.el, pageHeading('realtime', 'Realtime sessions'), alert, results, pager);

  async function load(before) {
    if (!before) loading(results);
    else replace(pager, h('p', { class: 'loading', 'aria-busy': 'true' }, 'Loading…'));
    try {
      const res = await get(`/admin/v1/realtime/sessions${qs({ limit: PAGE, before })}`);
      if (!ctx.alive()) return;
      const rows = res.data || [];
      const next = res.next_before || null;
      if (!before) {
        tableEl = rows.length ? table(
          ['Started', 'Surface', 'Model', 'Project', { label: 'Duration', num: true }, { label: 'Frames in / out', num: true }, { label: 'Tokens in / out', num: true }, 'Close reason'],
          rows.map(row), { label: 'Realtime sessions' }) : null;
        replace(results, tableEl || empty('No realtime sessions yet.'));
      } else if (tableEl) {
        append(tableEl.tbody, rows.map(row));
      }
      replace(pager, next
        ? h('button', { type: 'button', id: 'sessions-older', onclick: () => load(next) }, 'Older')
        : (tableEl ? h('span', { class: 'muted' }, 'No older sessions.') : null));
    } catch (err) {
      if (!ctx.alive()) return;
      if (!before) replace(results);
      else replace(pager, h('button', { type: 'button', id: 'sessions-older', onclick: () => load(before) }, 'Older'));
      showError(alert, err);
    } finally {
      loaded(results);
    }
  }

  load(null);
}
