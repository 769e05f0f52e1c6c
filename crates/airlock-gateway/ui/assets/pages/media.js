// A project's stored media (generated images and audio), newest first.

import { h, replace, append } from '../dom.js';
import { get, qs, seg } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, showError, loading, loaded, loader, empty, table, td, routedProjectPicker, clickableRow, badge, field, select } from '../ui.js';

const LIMITS = ['50', '100', '500', '1000'];

// The project and how many stay picked while the dashboard is open.
const state = { project: '', limit: '100' };

function row(m, project) {
  const href = `#/media/${encodeURIComponent(m.id)}${qs({ project })}`;
  return clickableRow(href, { 'data-media-id': m.id },
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
  const picker = routedProjectPicker(ctx, { id: 'media-project', route: 'media', state, alert, results }, () => load());
  const limit = select({ id: 'media-limit', onchange: () => { state.limit = limit.value; load(); } },
    LIMITS.map((n) => ({ value: n, label: `Newest ${n}` })), state.limit);

  append(ctx.el, pageHeading('media', 'Media'),
    h('p', { class: 'muted' }, 'Images and audio the models made for a project and Airlock stored, newest first.'),
    h('div', { class: 'controls' }, picker, field('Show', limit)),
    alert, results);
  loading(results);

  const run = loader(ctx, results, alert);
  function load() {
    const project = state.project;
    showError(alert, null);
    if (!project) {
      run.cancel();
      loaded(results);
      replace(results, empty('There is no project yet: media belongs to projects.'));
      return;
    }
    run(async () => {
      const res = await get(`/admin/v1/projects/${seg(project)}/media${qs({ limit: state.limit })}`);
      const rows = res.data || [];
      return rows.length === 0
        ? empty(`No media stored for ${project} yet. Media is stored when an answer hands it out as a URL.`)
        : [
          table(['Created', 'Id', 'Kind', 'Type', { label: 'Size', num: true }, 'Source', 'End user'],
            rows.map((m) => row(m, project)), { label: `Media of ${project}` }),
          rows.length >= Number(state.limit) ? h('p', { class: 'muted' }, `The newest ${f.num(rows.length)} are shown.`) : null,
        ];
    });
  }
}
