// A detail page (#/ROUTE/ID): the back link, the page's heading, the
// object's id, an alert region, and a body loaded once ("Loading…"
// meanwhile; an error, "Not found." for a missing object, goes in the
// alert region). Also the project name of an object that has a project id.

import { h, append } from './dom.js';
import { get } from './api.js';
import { pageHeading, alertRegion, loader } from './ui.js';

/**
 * Builds the page into ctx.el and fills its body with what
 * fill(id, {alert, current}) returns (see loader() in ui.js).
 */
export function detailPage(ctx, { back, backLabel, page, title }, fill) {
  const id = ctx.params[0];
  const alert = alertRegion();
  const body = h('div');
  append(ctx.el,
    h('a', { class: 'back', href: back }, backLabel),
    pageHeading(page, title),
    h('p', { class: 'muted' }, h('code', null, id)),
    alert, body);
  loader(ctx, body, alert)((current) => fill(id, { alert, current }));
}

/** The name of the project with this id; null when there is none or the
 *  projects could not be loaded. */
export async function projectNameOf(projectId) {
  if (!projectId) return null;
  try {
    const res = await get('/admin/v1/projects');
    const found = (res.data || []).find((p) => p.id === projectId);
    return found ? found.name : null;
  } catch (e) {
    return null;
  }
}
