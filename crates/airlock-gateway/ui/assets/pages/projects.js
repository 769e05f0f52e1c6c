// Projects: the list and a form to create one.

import { h, append } from '../dom.js';
import { get, post, canWrite, getSession } from '../api.js';
import * as f from '../format.js';
import { budgetText, limitsText } from '../limits.js';
import { pageHeading, alertRegion, statusRegion, showError, showStatus, loader, empty, table, td, field, forgetProjects } from '../ui.js';

export default function render(ctx) {
  const alert = alertRegion();
  const status = statusRegion();
  const list = h('div');
  append(ctx.el, pageHeading('projects', 'Projects'), alert, status);

  if (canWrite()) {
    const name = h('input', { id: 'project-name', name: 'name', type: 'text', required: true, autocomplete: 'off', maxlength: '128' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Create project');
    const form = h('form', { id: 'create-project', class: 'panel', onsubmit: async (e) => {
      e.preventDefault();
      showError(alert, null);
      showStatus(status, null);
      const value = name.value.trim();
      if (!value) {
        showError(alert, 'Enter a name for the new project.');
        name.focus();
        return;
      }
      submit.disabled = true;
      try {
        const project = await post('/admin/v1/projects', { name: value });
        if (!ctx.alive()) return;
        forgetProjects();
        form.reset();
        showStatus(status, `Project “${project.name}” created.`);
        await load();
      } catch (err) {
        if (ctx.alive()) showError(alert, err);
      } finally {
        submit.disabled = false;
      }
    } },
    h('h2', null, 'Create project'),
    h('div', { class: 'inline-form' }, field('Name', name), submit));
    append(ctx.el, form);
  } else {
    append(ctx.el, h('p', { class: 'notice' }, `Your role (${getSession().role}) can view projects but not create or change them.`));
  }

  append(ctx.el, h('h2', null, 'All projects'), list);

  const run = loader(ctx, list, alert);
  function load() {
    return run(async () => {
      const res = await get('/admin/v1/projects');
      const projects = (res.data || []).slice().sort((a, b) => a.name.localeCompare(b.name));
      return projects.length === 0
        ? empty('No projects yet. Create one to hand out API keys.')
        : table(['Name', 'Created', 'Limits', 'Budget', 'Allowed origins'],
          projects.map((p) => {
            const s = p.settings || {};
            return h('tr', { 'data-project': p.name },
              td(h('a', { href: `#/projects/${encodeURIComponent(p.name)}` }, p.name)),
              td(f.date(p.created_at_ms), { nowrap: true }),
              td(limitsText(s.limits)),
              td(budgetText(s.limits && s.limits.budget)),
              td(f.num((s.allowed_origins || []).length), { num: true }));
          }), { label: 'Projects' });
    });
  }

  load();
}
