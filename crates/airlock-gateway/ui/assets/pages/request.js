// One request (#/requests/ID): every field of its record, and its logged
// content when the project logs content.

import { h, replace } from '../dom.js';
import { get, seg } from '../api.js';
import * as f from '../format.js';
import { showError, loading, loaded, dl } from '../ui.js';
import { detailPage } from '../detail.js';

const LABELS = {
  id: 'Id', started_at_ms: 'Started', surface: 'Surface', operation: 'Operation', model: 'Model',
  provider: 'Provider', upstream_model: 'Upstream model', key_id: 'Provider key', status: 'Status',
  latency_us: 'Latency', ttft_us: 'Time to first token', tokens_in: 'Tokens in', tokens_out: 'Tokens out',
  tokens_cached: 'Tokens cached', streamed: 'Streamed', outcome: 'Outcome', project_id: 'Project id',
  project: 'Project', api_key_id: 'API key id', end_user: 'End user', cost_usd: 'Cost', cache: 'Cache',
  saved_usd: 'Saved by the cache', origin: 'Origin', conversation_id: 'Conversation',
  history_turns_dropped: 'History turns dropped', tokens_estimated: 'Tokens estimated',
  ended_at_ms: 'Ended', close_code: 'Close code', close_reason: 'Close reason', close_detail: 'Close detail',
};

/** A field's value for display, by its name's suffix. */
export function display(key, value) {
  if (value === null || value === undefined || value === '') return h('span', { class: 'muted' }, '—');
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (key.endsWith('_at_ms') && f.isNum(value)) return h('time', { datetime: f.iso(value) }, f.dateTime(value));
  if (key.endsWith('_us') && f.isNum(value)) return f.us(value);
  if (key.endsWith('_ms') && f.isNum(value)) return f.ms(value);
  if (key.endsWith('_usd') && f.isNum(value)) return f.money(value);
  if (Number.isInteger(value) && key !== 'status' && key !== 'close_code') return f.num(value);
  if (typeof value === 'object') return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
  return String(value);
}

export function label(key) {
  return LABELS[key] || key.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

export default function render(ctx) {
  detailPage(ctx, {
    back: '#/requests', backLabel: '← Requests', page: 'request', title: 'Request',
  }, async (id, { alert }) => {
    const res = await get(`/admin/v1/requests/${seg(id)}`);
    const r = res.record || {};
    const content = h('div', { 'aria-live': 'polite' });
    let contentPart;
    if (res.content_logged) {
      const button = h('button', { type: 'button', id: 'show-content', onclick: async () => {
        button.disabled = true;
        loading(content);
        try {
          const data = await get(`/admin/v1/requests/${seg(id)}/content`);
          if (!ctx.alive()) return;
          replace(content, h('pre', { class: 'json', id: 'request-content', tabindex: '0' }, JSON.stringify(data, null, 2)));
          button.hidden = true;
        } catch (err) {
          if (!ctx.alive()) return;
          replace(content);
          showError(alert, err);
          button.disabled = false;
        } finally {
          loaded(content);
        }
      } }, 'Show content');
      contentPart = [h('p', { class: 'muted' }, 'The request and answer bodies were logged, with personal data redacted.'), button, content];
    } else {
      contentPart = h('p', { class: 'notice' }, 'Content is not logged for this project.');
    }
    return [
      h('section', { class: 'panel' }, h('h2', null, 'Record'),
        dl(Object.entries(r).map(([k, v]) => [label(k), display(k, v)]))),
      h('section', { class: 'panel' }, h('h2', null, 'Content'), contentPart),
    ];
  });
}
