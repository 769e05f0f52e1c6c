// A project's stored media (generated images and audio), newest first.

import { h, replace, append } from '../dom.js';
import { get, qs, seg } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, showError, loading, loaded, empty, table, td, projectPicker, badge, field, select } from '../ui.js';

const LIMITS = ['50', '100', '500', '1000'];

// The project and how many stay picked while the dashboard is open.
const state = { project: '', limit: '100' };

function row(m, project) {
  const href = `#/media/${encodeURIComponent(m.id)}${qs({ project })}`;
  return h('tr', {
    'data-media-id': m.id,
    class: 'clickable',
    onclick: (e) => {
      if (e.target.closest('a, button')) return;
      location.hash = href;
    },
  },
  td(h('a', { href }, f.dateTime(m.created_at_ms)), { nowrap: true }),
  td(h('code', null, m.id)),
  td(badge(m.kind, m.kind === 'image' ? 'accent' : null)),
  td(f.orDash(m.content_type), { nowrap: true }),
  td(f.bytes(m.size), { num: true, nowrap: true }),
  td(m.source_id ? h('span', null, 'Variant of ', h('code', null, m.source_id)) : 'Original'),
  td(f.orDash(m.end_user)));
}

export default function render(ctx) {
  const alert = alertRegion();
  const results = h('div');
  const wanted = ctx.query.get('project') || state.project;

  const picker = projectPicker('media-project', wanted, (name, err) => {
    if (err) {
      loaded(results);
      replace(results);
      showError(alert, err);
      return;
    }
    state.project = name || '';
    history.replaceState(null, '', `#/media${qs({ project: state.project })}`);
    load();
  });
  const limit = select({ id: 'media-limit', onchange: () => { state.limit = limit.value; load(); } },
    LIMITS.map((n) => ({ value: n, label: `Newest ${n}` })), state.limit);

  append(ctx.el, pageHeading('media', 'Media'),
    h('p', { class: 'muted' }, 'Images and audio the models made for a project and Airlock stored, newest first.'),
    h('div', { class: 'controls' }, picker, field('Show', limit)),
    alert, results);
  loading(results);

  let generation = 0;
  async function load() {
    const mine = ++generation;
    const project = state.project;
    showError(alert, null);
    if (!project) {
      loaded(results);
      replace(results, empty('There is no project yet: media belongs to projects.'));
      return;
    }
    loading(results);
    try {
      const res = await get(`/admin/v1/projects/${seg(project)}/media${qs({ limit: state.limit })}`);
      if (!ctx.alive() || mine !== generation) return;
      const rows = res.data || [];
      replace(results, rows.length === 0
        ? empty(`No media stored for ${project} yet. Media is stored when an answer hands it out as a URL.`)
        : [
          table(['Created', 'Id', 'Kind', 'Type', { label: 'Size', num: true }, 'Source', 'End user'],
            rows.map((m) => row(m, project)), { label: `Media of ${project}` }),
          rows.length >= Number(state.limit) ? h('p', { class: 'muted' }, `The newest ${f.num(rows.length)} are shown.`) : null,
        ]);
    } catch (err) {
      if (!ctx.alive() || mine !== generation) return;
      replace(results);
      showError(alert, err);
    } finally {
      if (mine === generation) loaded(results);
    }
  }
}
