// One conversation (#/conversations/ID): its record, what was said in it
// as text (its items, or its turns' input and output), and its turns.

import { h } from '../dom.js';
import { get, seg, qs } from '../api.js';
import * as f from '../format.js';
import { dl, empty, table, td } from '../ui.js';
import { detailPage, projectNameOf } from '../detail.js';

/** The text of a message's content: a string, or its text parts. */
function contentText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return null;
  const texts = content.map((part) => {
    if (typeof part === 'string') return part;
    if (part && typeof part.text === 'string') return part.text;
    if (part && typeof part.transcript === 'string') return part.transcript;
    if (part && part.type) return `[${part.type}]`;
    return null;
  }).filter((t) => t !== null);
  return texts.length ? texts.join('\n') : null;
}

/** One item as a transcript entry: a message's role and text, or another
 *  item's type and its JSON. */
function entry(item, atMs) {
  const it = item || {};
  const isMessage = (it.type === 'message' || (!it.type && it.role)) && contentText(it.content) !== null;
  const role = isMessage ? String(it.role || 'message') : String(it.type || 'item');
  const text = isMessage ? contentText(it.content) : JSON.stringify(it, null, 2);
  return h('li', { class: ['transcript-entry', `role-${role.replace(/[^a-z_-]/gi, '')}`], 'data-item-role': role },
    h('div', { class: 'transcript-meta' },
      h('span', { class: ['transcript-role', !isMessage && 'transcript-kind'] }, role.replace(/_/g, ' ')),
      f.isNum(atMs) ? h('time', { datetime: f.iso(atMs) }, f.dateTime(atMs)) : null),
    isMessage ? h('div', { class: 'transcript-text' }, text) : h('pre', { class: 'json' }, text));
}

function asList(value) {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return [{ type: 'message', role: 'user', content: value }];
  return [];
}

export default function render(ctx) {
  const project = ctx.query.get('project') || '';
  detailPage(ctx, {
    back: `#/conversations${qs({ project })}`, backLabel: '← Conversations', page: 'conversation', title: 'Conversation',
  }, async (id, { current }) => {
    const c = await get(`/admin/v1/conversations/${seg(id)}`);
    if (!current()) return undefined;
    const name = await projectNameOf(c.project_id);
    const items = c.items || [];
    const turns = c.turns || [];
    const said = items.length
      ? items.map((i) => entry(i.item, i.created_at_ms))
      : turns.flatMap((t) => [...asList(t.input).map((i) => entry(i, t.created_at_ms)), ...asList(t.output).map((i) => entry(i, t.created_at_ms))]);
    const metadata = c.metadata && Object.keys(c.metadata).length ? h('pre', { class: 'json' }, JSON.stringify(c.metadata, null, 2)) : h('span', { class: 'muted' }, '—');
    return [
      h('section', { class: 'panel' }, h('h2', null, 'Record'), dl([
        ['API', c.api === 'responses' ? 'Responses (stored responses chain)' : 'Conversations'],
        ['Project', name ? h('a', { href: `#/projects/${encodeURIComponent(name)}` }, name) : h('code', null, f.orDash(c.project_id))],
        ['End user', f.orDash(c.end_user)],
        ['Created', h('time', { datetime: f.iso(c.created_at_ms) }, f.dateTime(c.created_at_ms))],
        ['Updated', h('time', { datetime: f.iso(c.updated_at_ms) }, f.dateTime(c.updated_at_ms))],
        ['Items', f.num(items.length)],
        ['Turns', f.num(turns.length)],
        ['Metadata', metadata],
      ])),
      h('section', { class: 'panel' }, h('h2', null, 'Transcript'),
        said.length ? h('ol', { class: 'transcript', id: 'conversation-transcript' }, said) : empty('Nothing was said in this conversation yet.')),
      h('section', { class: 'panel' }, h('h2', null, 'Turns'),
        turns.length === 0 ? empty('No model turn yet.') : table(
          ['Time', 'Response', 'Model', 'Status', { label: 'Tokens in / out', num: true }],
          turns.map((t) => h('tr', { 'data-turn-id': t.id },
            td(f.dateTime(t.created_at_ms), { nowrap: true }),
            td(h('code', null, t.id)),
            td(f.orDash(t.model), { nowrap: true }),
            td(f.orDash(t.status)),
            td(t.usage ? `${f.num(t.usage.input_tokens)} / ${f.num(t.usage.output_tokens)}` : '—', { num: true, nowrap: true }))),
          { label: 'Turns' })),
    ];
  });
}
