// One stored media object (#/media/ID): its record, and a preview of an
// image when its URL is on this origin (the page's CSP allows no other).

import { h } from '../dom.js';
import { get, seg, qs } from '../api.js';
import * as f from '../format.js';
import { dl } from '../ui.js';
import { detailPage, projectNameOf } from '../detail.js';

/** The URL when it is http(s), else null. */
function webUrl(raw) {
  if (typeof raw !== 'string' || !raw) return null;
  try {
    const url = new URL(raw, location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch (e) {
    return null;
  }
}

export default function render(ctx) {
  const project = ctx.query.get('project') || '';
  detailPage(ctx, {
    back: `#/media${qs({ project })}`, backLabel: '← Media', page: 'media-item', title: 'Media',
  }, async (id, { current }) => {
    const m = await get(`/admin/v1/media/${seg(id)}`);
    if (!current()) return undefined;
    const name = await projectNameOf(m.project_id);
    const url = webUrl(m.url);
    const sameOrigin = !!url && url.origin === location.origin;
    let preview;
    if (m.kind === 'image' && sameOrigin) {
      const img = h('img', { class: 'media-preview', id: 'media-preview', src: url.href, alt: `The stored image ${m.id}`, width: '512' });
      img.addEventListener('error', () => {
        img.replaceWith(h('p', { class: 'notice' }, 'The image could not be loaded (its URL may have expired: reload the page).'));
      });
      preview = img;
    } else if (m.kind === 'image' && url) {
      preview = h('p', { class: 'notice' }, 'Its URL is on another origin (a CDN or the object store), which the dashboard does not load: open it below.');
    } else if (m.kind === 'image') {
      preview = h('p', { class: 'notice' }, 'No URL: media storage is not configured on this instance, or its store did not answer.');
    } else {
      preview = h('p', { class: 'muted' }, 'Audio is not played in the dashboard: open it below.');
    }
    return [
      h('section', { class: 'panel' }, h('h2', null, 'Preview'), preview,
        url ? h('p', null, h('a', { href: url.href, id: 'media-open', target: '_blank', rel: 'noopener noreferrer' }, 'Open the file'),
          h('span', { class: 'muted' }, ' (a signed URL that expires)')) : null),
      h('section', { class: 'panel' }, h('h2', null, 'Record'), dl([
        ['Kind', m.kind],
        ['Content type', f.orDash(m.content_type)],
        ['Size', `${f.bytes(m.size)} (${f.num(m.size)} bytes)`],
        ['Project', name ? h('a', { href: `#/projects/${encodeURIComponent(name)}` }, name) : h('span', { class: 'muted' }, m.project_id ? m.project_id : '— (the master key)')],
        ['Request', m.request_id ? h('a', { href: `#/requests/${encodeURIComponent(m.request_id)}` }, h('code', null, m.request_id)) : h('span', { class: 'muted' }, '—')],
        ['End user', f.orDash(m.end_user)],
        ['Source', m.source_id ? h('a', { href: `#/media/${encodeURIComponent(m.source_id)}${qs({ project })}` }, h('code', null, m.source_id)) : 'Original'],
        ['SHA-256', h('code', null, f.orDash(m.sha256))],
        ['Created', h('time', { datetime: f.iso(m.created_at_ms) }, f.dateTime(m.created_at_ms))],
      ])),
    ];
  });
}
