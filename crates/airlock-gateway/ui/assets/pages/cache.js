// The response cache: what it holds and what it saved, for every project
// or one; clearing it (operators and admins, with a confirm step).

import { h, replace, append } from '../dom.js';
import { get, del, qs, canWrite, getSession } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, statusRegion, showError, showStatus, loader, projectSelect } from '../ui.js';

// The project stays picked while the dashboard is open.
const state = { project: '' };

function tile(label, value, id) {
  return h('div', { class: 'tile', 'data-tile': id },
    h('div', { class: 'tile-label' }, label),
    h('div', { class: 'tile-value', id: `cache-${id}` }, value));
}

export default function render(ctx) {
  const alert = alertRegion();
  const status = statusRegion();
  const body = h('div');
  const clearBox = h('div');
  const picker = projectSelect('cache-project', state.project, (value) => {
    state.project = value;
    showStatus(status, null);
    renderClear();
    load();
  });

  append(ctx.el, pageHeading('cache', 'Response cache'),
    h('p', { class: 'muted' }, 'Answers kept to serve the same request again without calling a provider: what is stored now, how often those entries were served, and what they saved.'),
    h('div', { class: 'controls' }, picker),
    alert, status, body,
    canWrite() ? clearBox : h('p', { class: 'notice' }, `Your role (${getSession().role}) can view the cache but not clear it.`));

  function scope() {
    return state.project ? `project ${state.project}` : 'every project';
  }

  function renderClear() {
    if (!canWrite()) return;
    const initial = () => {
      replace(clearBox, h('section', { class: 'panel', id: 'cache-clear-panel' },
        h('h2', null, 'Clear the cache'),
        h('p', null, `Forgets the cached answers of ${scope()}; the next identical requests go to a provider again. Recorded in the audit log.`),
        h('div', { class: 'form-actions' },
          h('button', { type: 'button', class: 'danger', id: 'cache-clear', onclick: ask }, state.project ? `Clear ${state.project}’s cache` : 'Clear cache'))));
    };
    const ask = () => {
      const confirm = h('button', { type: 'button', class: 'danger confirm', id: 'cache-clear-confirm', onclick: async () => {
        confirm.disabled = true;
        showError(alert, null);
        showStatus(status, null);
        const target = state.project;
        try {
          const res = await del(`/admin/v1/cache${qs({ project: target })}`);
          if (!ctx.alive()) return;
          const n = res && f.isNum(res.deleted) ? res.deleted : 0;
          showStatus(status, `Cleared ${f.num(n)} cached ${n === 1 ? 'answer' : 'answers'} of ${target ? `project ${target}` : 'every project'}.`);
          initial();
          clearBox.querySelector('#cache-clear').focus();
          await load();
        } catch (err) {
          if (!ctx.alive()) return;
          showError(alert, err);
          initial();
        }
      } }, 'Confirm clear');
      const cancel = h('button', { type: 'button', id: 'cache-clear-cancel', onclick: () => { initial(); clearBox.querySelector('#cache-clear').focus(); } }, 'Cancel');
      replace(clearBox.querySelector('.form-actions'),
        h('span', { class: 'sr-only' }, `Clear the cached answers of ${scope()}? `), confirm, cancel);
      confirm.focus();
    };
    initial();
  }

  const run = loader(ctx, body, alert);
  function load() {
    showError(alert, null);
    return run(async () => {
      const s = await get(`/admin/v1/cache${qs({ project: state.project })}`);
      return [
        h('div', { class: 'tiles', 'data-tiles': '' },
          tile('Entries', f.num(s.entries), 'entries'),
          tile('Stored', f.bytes(s.bytes), 'bytes'),
          tile('Hits', f.num(s.hits), 'hits'),
          tile('Saved', f.money(s.saved_usd), 'saved'),
          tile('Held in memory', f.bytes(s.memory_bytes), 'memory')),
        h('p', { class: 'muted' }, state.project
          ? `For project ${state.project}. Hits and savings count the entries stored now; a cleared or expired entry’s are no longer counted. Memory is this instance’s, for every project.`
          : 'Across every project. Hits and savings count the entries stored now; a cleared or expired entry’s are no longer counted. Memory is this instance’s.'),
      ];
    });
  }

  renderClear();
  load();
}
