// Background jobs of every kind (batches, pre-generation, exports, backups,
// reseals): newest first, filtered by kind.

import { h, replace, append } from '../dom.js';
import { get, qs } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, showError, loader, empty, table, td, clickableRow, field, select, badge, progressBar } from '../ui.js';

const PAGE = 100;
const MAX = 1000;

export const KINDS = [
  { value: '', label: 'Every kind' },
  { value: 'pregenerate', label: 'Pre-generation' },
  { value: 'openai-batch', label: 'OpenAI batch' },
  { value: 'gemini-batch', label: 'Gemini batch' },
  { value: 'project-export', label: 'Project export' },
  { value: 'user-export', label: 'User data export' },
  { value: 'backup', label: 'Backup' },
  { value: 'reseal', label: 'Reseal' },
];

// The filter stays while the dashboard is open (coming back from a job).
const filters = { kind: '' };

export function stateBadge(state) {
  const kind = { completed: 'ok', running: 'accent', queued: null, stopped: 'warn', cancelled: 'warn' }[state];
  return badge(state || '—', kind === undefined ? 'bad' : kind);
}

/** The job's latest moment: finished, else started, else created. */
export function lastChange(job) {
  return job.finished_at_ms ?? job.started_at_ms ?? job.created_at_ms;
}

function row(job) {
  const href = `#/jobs/${encodeURIComponent(job.id)}`;
  return clickableRow(href, { 'data-job-id': job.id, 'data-job-kind': job.kind },
    td(h('a', { href }, f.dateTime(job.created_at_ms)), { nowrap: true }),
    td(h('code', null, job.kind)),
    td(job.project || h('span', { class: 'muted' }, '—')),
    td(stateBadge(job.state)),
    td(progressBar(job.done, job.failed, job.total, `Job ${job.id} progress`)),
    td(f.money(job.spend_usd), { num: true }),
    td(f.dateTime(lastChange(job)), { nowrap: true }));
}

export default function render(ctx) {
  const alert = alertRegion();
  const results = h('div');
  const pager = h('div', { class: 'pager' });
  let limit = PAGE;

  const kind = select({ id: 'jobs-kind', onchange: () => { filters.kind = kind.value; limit = PAGE; load(); } }, KINDS, filters.kind);
  const refresh = h('button', { type: 'button', id: 'jobs-refresh', onclick: () => load() }, 'Refresh');

  append(ctx.el, pageHeading('jobs', 'Jobs'),
    h('p', { class: 'muted' }, 'Every background job: batches, pre-generation, exports, backups and reseals, newest first. Progress is done / failed / total.'),
    h('div', { class: 'controls' }, field('Kind', kind), refresh),
    alert, results, pager);

  const run = loader(ctx, results, alert);
  function load() {
    showError(alert, null);
    replace(pager);
    run(async (current) => {
      const res = await get(`/admin/v1/jobs${qs({ kind: filters.kind, limit })}`);
      if (!current()) return undefined;
      const jobs = res.data || [];
      if (jobs.length >= limit && limit < MAX) {
        replace(pager, h('button', { type: 'button', id: 'jobs-more', onclick: () => { limit = Math.min(MAX, limit + PAGE); load(); } }, 'Show more'),
          h('span', { class: 'muted' }, `The newest ${f.num(jobs.length)} jobs.`));
      } else if (jobs.length) {
        replace(pager, h('span', { class: 'muted' }, jobs.length >= MAX ? `The newest ${f.num(MAX)} jobs.` : 'No older jobs.'));
      }
      return jobs.length === 0
        ? empty(filters.kind ? 'No jobs of this kind.' : 'No background jobs yet.')
        : table(['Created', 'Kind', 'Project', 'State', 'Progress', { label: 'Spend', num: true }, 'Last change'],
          jobs.map(row), { label: 'Jobs' });
    });
  }

  load();
}
