// One realtime session (#/realtime/ID): its record and transcript.

import { h } from '../dom.js';
import { get, seg } from '../api.js';
import * as f from '../format.js';
import { dl, empty } from '../ui.js';
import { detailPage } from '../detail.js';
import { display, label } from './request.js';

export default function render(ctx) {
  detailPage(ctx, {
    back: '#/realtime', backLabel: '← Realtime sessions', page: 'session', title: 'Realtime session',
  }, async (id) => {
    const s = await get(`/admin/v1/realtime/sessions/${seg(id)}`);
    const { transcript = [], ...record } = s || {};
    const fields = Object.entries(record).map(([k, v]) => [label(k), display(k, v)]);
    if (f.isNum(record.started_at_ms) && f.isNum(record.ended_at_ms)) {
      fields.splice(3, 0, ['Duration', f.ms(record.ended_at_ms - record.started_at_ms)]);
    }
    return [
      h('section', { class: 'panel' }, h('h2', null, 'Session'), dl(fields)),
      h('section', { class: 'panel' }, h('h2', null, 'Transcript'),
        transcript.length === 0
          ? empty('No transcript was kept for this session.')
          : h('ol', { class: 'transcript' }, transcript.map((t) => h('li', { class: ['transcript-entry', `role-${String(t.role).replace(/[^a-z_-]/gi, '')}`] },
            h('div', { class: 'transcript-meta' },
              h('span', { class: 'transcript-role' }, t.role),
              h('time', { datetime: f.iso(t.at_ms) }, f.dateTime(t.at_ms))),
            h('div', { class: 'transcript-text' }, t.text))))),
    ];
  });
}
