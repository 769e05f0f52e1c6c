// One background job (#/jobs/ID): its counts, state and failed items'
// reasons; a pre-generation job can be cancelled and resumed (operators
// and admins). Refreshed every 3 s while it is queued or running.

import { h, replace, append } from '../dom.js';
import { get, post, seg, canWrite, getSession } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, statusRegion, showError, showStatus, loading, loaded, empty, table, td, dl, progressBar } from '../ui.js';
import { stateBadge } from './jobs.js';

const REFRESH_MS = 3000;
const ACTIVE = new Set(['queued', 'running']);
const RESUMABLE = new Set(['cancelled', 'stopped']);

export default function render(ctx) {
  const id = ctx.params[0];
  const alert = alertRegion();
  const status = statusRegion();
  const actions = h('div', { class: 'form-actions', id: 'job-actions' });
  const body = h('div');
  let job = null;
  let shownActions = null;
  let timer = null;
  append(ctx.el,
    h('a', { class: 'back', href: '#/jobs' }, '← Jobs'),
    pageHeading('job', 'Job'),
    h('p', { class: 'muted' }, h('code', null, id)),
    alert, status, actions, body);

  function failuresTable(failures, pregen) {
    if (!failures.length) return empty('No item has failed.');
    const columns = pregen ? [{ label: 'Line', num: true }, 'Custom id', 'Reason'] : [{ label: 'Item', num: true }, 'Reason'];
    return table(columns, failures.map((x) => h('tr', { 'data-failure': pregen ? x.line : x.seq },
      td(f.orDash(pregen ? x.line : x.seq), { num: true }),
      pregen ? td(x.custom_id ? h('code', null, x.custom_id) : h('span', { class: 'muted' }, '—')) : null,
      td(f.orDash(x.error)))), { label: 'Failed items' });
  }

  function renderActions() {
    const pregen = job.kind === 'pregenerate';
    const key = !pregen ? 'none' : !canWrite() ? 'viewer' : ACTIVE.has(job.state) ? 'cancel' : RESUMABLE.has(job.state) ? 'resume' : 'none';
    if (key === shownActions) return;
    const hadFocus = actions.contains(document.activeElement);
    shownActions = key;
    if (key === 'cancel') {
      replace(actions, h('button', { type: 'button', class: 'danger', id: 'job-cancel', onclick: (e) => change('cancel', e.currentTarget) }, 'Cancel job'),
        h('span', { class: 'muted' }, 'No new item starts; items in flight finish. A cancelled job can be resumed.'));
    } else if (key === 'resume') {
      replace(actions, h('button', { type: 'button', class: 'primary', id: 'job-resume', onclick: (e) => change('resume', e.currentTarget) }, 'Resume job'),
        h('span', { class: 'muted' }, 'Runs the pending items again; failed items stay failed.'));
    } else if (key === 'viewer') {
      replace(actions, h('p', { class: 'notice' }, `Your role (${getSession().role}) can view this job but not cancel or resume it.`));
    } else {
      replace(actions);
    }
    if (hadFocus) {
      const button = actions.querySelector('button');
      if (button) button.focus();
    }
  }

  function renderJob(failures) {
    const pregen = job.kind === 'pregenerate';
    const fields = [
      ['Kind', h('code', null, job.kind)],
      ['Project', job.project ? h('a', { href: `#/projects/${encodeURIComponent(job.project)}` }, job.project) : h('span', { class: 'muted' }, '—')],
      ['State', h('span', { id: 'job-state' }, stateBadge(job.state))],
      ['Stop reason', f.orDash(job.stop_reason)],
      ['Total', f.num(job.total)],
      ['Done', f.num(job.done)],
      ['Failed', f.num(job.failed)],
      ['Pending', f.num(job.pending)],
      ['Running', f.num(job.running)],
      ['Spend', f.money(job.spend_usd)],
      ['Time left (estimate)', f.isNum(job.eta_secs) ? f.ms(job.eta_secs * 1000) : '—'],
      ['Created', h('time', { datetime: f.iso(job.created_at_ms) }, f.dateTime(job.created_at_ms))],
      ['Started', f.isNum(job.started_at_ms) ? h('time', { datetime: f.iso(job.started_at_ms) }, f.dateTime(job.started_at_ms)) : '—'],
      ['Finished', f.isNum(job.finished_at_ms) ? h('time', { datetime: f.iso(job.finished_at_ms) }, f.dateTime(job.finished_at_ms)) : '—'],
    ];
    replace(body,
      h('section', { class: 'panel' }, h('h2', null, 'Progress'),
        progressBar(job.done, job.failed, job.total, 'Job progress'),
        dl(fields)),
      h('section', { class: 'panel' }, h('h2', null, `Failed items (${f.num(job.failed)})`),
        failuresTable(failures || [], pregen),
        job.failed > (failures || []).length ? h('p', { class: 'muted' }, `The first ${f.num((failures || []).length)} are shown.`) : null));
    renderActions();
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (job && ACTIVE.has(job.state) && ctx.alive()) {
      timer = setTimeout(() => { if (!document.hidden) load(false); else schedule(); }, REFRESH_MS);
    }
  }

  async function fetchJob() {
    const listed = await get(`/admin/v1/jobs/${seg(id)}`);
    if (listed.kind !== 'pregenerate') return { job: listed, failures: listed.failures };
    // Pre-generation jobs name their failed items by line and custom_id.
    const detailed = await get(`/admin/v1/pregenerate/${seg(id)}`);
    return { job: { ...listed, ...detailed, kind: listed.kind }, failures: detailed.failures };
  }

  async function load(first) {
    if (first) loading(body);
    try {
      const got = await fetchJob();
      if (!ctx.alive()) return;
      job = got.job;
      renderJob(got.failures);
    } catch (err) {
      if (!ctx.alive()) return;
      if (first) replace(body);
      showError(alert, err);
    } finally {
      loaded(body);
      schedule();
    }
  }

  async function change(what, button) {
    button.disabled = true;
    showError(alert, null);
    showStatus(status, null);
    try {
      const answer = await post(`/admin/v1/pregenerate/${seg(id)}/${what}`);
      if (!ctx.alive()) return;
      job = { ...job, ...answer };
      renderJob(answer.failures);
      showStatus(status, what === 'cancel' ? 'Job cancelled.' : `Job resumed: it is ${job.state}.`);
      const next = actions.querySelector('button');
      if (next) next.focus();
      schedule();
    } catch (err) {
      if (!ctx.alive()) return;
      showError(alert, err);
      button.disabled = false;
    }
  }

  load(true);
  return () => clearTimeout(timer);
}
