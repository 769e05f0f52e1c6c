// Admin users (role admin only): list, create, delete.

import { h, replace, append } from '../dom.js';
import { get, post, del, isAdmin, getSession, seg } from '../api.js';
import * as f from '../format.js';
import { pageHeading, alertRegion, statusRegion, showError, showStatus, loader, empty, table, td, field, select, badge } from '../ui.js';

const ROLES = [
  { value: 'viewer', label: 'Viewer (read only)' },
  { value: 'operator', label: 'Operator (changes projects and keys)' },
  { value: 'admin', label: 'Admin (also manages admins)' },
];

export default function render(ctx) {
  append(ctx.el, pageHeading('admins', 'Admins'));
  if (!isAdmin()) {
    append(ctx.el, h('p', { class: 'notice' }, `Only admins can manage admin users. Your role is ${getSession().role}.`));
    return;
  }
  const alert = alertRegion();
  const status = statusRegion();
  const list = h('div');

  const username = h('input', { id: 'admin-username', type: 'text', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', required: true });
  const password = h('input', { id: 'admin-password', type: 'password', autocomplete: 'new-password', required: true });
  const role = select({ id: 'admin-role' }, ROLES, 'viewer');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create admin');
  const form = h('form', { id: 'create-admin', class: 'panel', onsubmit: async (e) => {
    e.preventDefault();
    showError(alert, null);
    showStatus(status, null);
    const body = { username: username.value.trim(), password: password.value, role: role.value };
    if (!body.username || !body.password) {
      showError(alert, 'Enter a username and a password.');
      (body.username ? password : username).focus();
      return;
    }
    submit.disabled = true;
    try {
      const created = await post('/admin/v1/admins', body);
      if (!ctx.alive()) return;
      form.reset();
      showStatus(status, `Admin “${created.username || body.username}” created.`);
      await load();
    } catch (err) {
      if (ctx.alive()) showError(alert, err);
    } finally {
      submit.disabled = false;
    }
  } },
  h('h2', null, 'Create admin'),
  h('div', { class: 'form-grid' }, field('Username', username), field('Password', password), field('Role', role)),
  h('div', { class: 'form-actions' }, submit));

  append(ctx.el, alert, status, h('h2', null, 'All admins'), list, form);

  function deleteCell(user) {
    const cell = h('td', { class: 'nowrap' });
    const initial = () => replace(cell, h('button', {
      type: 'button', class: 'danger', 'data-delete-admin': user.username, 'aria-label': `Delete admin ${user.username}`,
      onclick: () => {
        const confirm = h('button', { type: 'button', class: 'danger confirm', 'data-confirm-delete-admin': user.username, onclick: async () => {
          confirm.disabled = true;
          showError(alert, null);
          showStatus(status, null);
          try {
            await del(`/admin/v1/admins/${seg(user.username)}`);
            if (!ctx.alive()) return;
            showStatus(status, `Admin “${user.username}” deleted.`);
            await load();
          } catch (err) {
            if (!ctx.alive()) return;
            showError(alert, err);
            initial();
          }
        } }, 'Confirm delete');
        const cancel = h('button', { type: 'button', onclick: () => { initial(); cell.querySelector('button').focus(); } }, 'Cancel');
        replace(cell, confirm, ' ', cancel);
        confirm.focus();
      },
    }, 'Delete'));
    initial();
    return cell;
  }

  const run = loader(ctx, list, alert);
  function load() {
    return run(async () => {
      const res = await get('/admin/v1/admins');
      const users = (res.data || []).slice().sort((a, b) => a.username.localeCompare(b.username));
      const me = getSession().user;
      return users.length === 0
        ? empty('No admin users yet. Until one exists, sign in with the master key.')
        : table(['Username', 'Role', 'Created', 'Actions'], users.map((u) => h('tr', { 'data-admin': u.username },
          td([u.username, u.username === me ? h('span', { class: 'muted' }, ' (you)') : null]),
          td(badge(u.role, u.role === 'admin' ? 'accent' : null)),
          td(f.dateTime(u.created_at_ms), { nowrap: true }),
          deleteCell(u))), { label: 'Admin users' });
    });
  }

  load();
}
