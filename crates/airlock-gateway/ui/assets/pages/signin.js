// Sign-in: username (empty: the master key) and password.

import { h, append } from '../dom.js';
import { post } from '../api.js';
import { pageHeading, alertRegion, showError } from '../ui.js';

export default function render(ctx) {
  const alert = alertRegion();
  const flash = ctx.takeFlash();
  if (flash && flash.error) showError(alert, flash.message);
  const username = h('input', { id: 'signin-username', name: 'username', type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', 'aria-describedby': 'signin-username-hint' });
  const password = h('input', { id: 'signin-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');

  const form = h('form', { id: 'signin-form', novalidate: true, onsubmit: onSubmit },
    h('div', { class: 'field' },
      h('label', { for: 'signin-username' }, 'Username'),
      username,
      h('span', { class: 'hint', id: 'signin-username-hint' }, 'Leave empty to sign in with the master key.')),
    h('div', { class: 'field' }, h('label', { for: 'signin-password' }, 'Password'), password),
    submit);

  async function onSubmit(e) {
    e.preventDefault();
    showError(alert, null);
    if (!password.value) {
      showError(alert, username.value.trim() ? 'Enter your password.' : 'Enter your password, or the master key.');
      password.focus();
      return;
    }
    const body = { password: password.value };
    if (username.value.trim()) body.username = username.value.trim();
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const session = await post('/admin/v1/session', body, { auth: false });
      ctx.signedIn(session);
    } catch (err) {
      if (!ctx.alive()) return;
      let message = err.message;
      if (err.code === 'invalid_credentials') {
        message = body.username ? 'Wrong username or password.' : 'Wrong master key.';
      }
      showError(alert, message);
      password.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  }

  append(ctx.el, h('section', { class: 'signin' },
    pageHeading('signin', 'Sign in to Airlock'),
    flash && !flash.error ? h('p', { class: 'notice', role: 'status' }, flash.message) : null,
    alert,
    form));
}
