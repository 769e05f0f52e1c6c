// A project's conversations (Conversations API objects and stored Responses
// chains), most recently active first, paged with "Older".

import { h, replace, append } from '../dom.js';
import { get, qs, seg } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, showError, loading, loaded, empty, table, td, routedProjectPicker, clickableRow, badge } from '../ui.js';

const PAGE = 50;

// The project stays picked while the dashboard is open.
const state = { project: '' };

function row(c, project) {
  const href = `#/conversations/${encodeURIComponent(c.id)}${qs({ project })}`;
  return clickableRow(href, { 'data-conversation-id': c.id },
    td(h('a', { href }, f.dateTime(c.last_active_ms)), { nowrap: true }),
    td(h('code', null, c.id)),
    td(badge(c.api === 'responses' ? 'Responses' : 'Conversations', c.api === 'responses' ? null : 'accent')),
    td(f.num(c.turns), { num: true }),
    td(f.num(c.items), { num: true }),
    td(f.orDash(c.end_user)),
    td(h('time', { datetime: f.iso(c.created_at_ms), title: f.dateTime(c.created_at_ms) }, f.date(c.created_at_ms)), { nowrap: true }));
}

export default function render(ctx) {
  const alert = alertRegion();
  const results = h('div');
  const pager = h('div', { class: 'pager' });
  let tableEl = null;
  const picker = routedProjectPicker(ctx, { id: 'conversations-project', route: 'conversations', state, alert, results }, () => load(null));

  append(ctx.el, pageHeading('conversations', 'Conversations'),
    h('p', { class: 'muted' }, 'What a project’s users said and were answered: Conversations API objects and stored Responses chains, most recently active first.'),
    h('div', { class: 'controls' }, picker),
    alert, results, pager);
  loading(results);

  let generation = 0;
  async function load(after) {
    const mine = ++generation;
    const project = state.project;
    showError(alert, null);
    if (!project) {
      loaded(results);
      replace(results, empty('There is no project yet: conversations belong to projects.'));
      replace(pager);
      return;
    }
    if (!after) {
      loading(results);
      replace(pager);
    } else {
      replace(pager, h('p', { class: 'loading', 'aria-busy': 'true' }, 'Loading…'));
    }
    try {
      const res = await get(`/admin/v1/projects/${seg(project)}/conversations${qs({ limit: PAGE, after })}`);
      if (!ctx.alive() || mine !== generation) return;
      const rows = res.data || [];
      const next = res.next_after || null;
      const columns = ['Last active', 'Id', 'API', { label: 'Turns', num: true }, { label: 'Items', num: true }, 'End user', 'Created'];
      if (!after) {
        tableEl = rows.length ? table(columns, rows.map((c) => row(c, project)), { label: `Conversations of ${project}` }) : null;
        replace(results, tableEl || empty(`No conversations in ${project} yet.`));
      } else if (tableEl) {
        append(tableEl.tbody, rows.map((c) => row(c, project)));
      }
      replace(pager, next
        ? h('button', { type: 'button', id: 'conversations-older', onclick: () => load(next) }, 'Older')
        : (tableEl ? h('span', { class: 'muted' }, 'No older conversations.') : null));
    } catch (err) {
      if (!ctx.alive() || mine !== generation) return;
      if (!after) replace(results);
      else replace(pager, h('button', { type: 'button', id: 'conversations-older', onclick: () => load(after) }, 'Older'));
      showError(alert, err);
    } finally {
      if (mine === generation) loaded(results);
    }
  }
}
