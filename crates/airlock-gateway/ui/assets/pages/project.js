// One project (#/projects/NAME): its settings (limits, budget, allowed
// origins) and its API keys (create, edit scopes and limits, revoke).
// The key editor's hooks (kept stable for browser/): button[data-edit-key=ID]
// on each row opens the one form #edit-key (data-key-id=ID) below the table,
// fields #edit-key-{models,operations,rpm,tpm,concurrent,budget-usd,
// budget-period}, errors in #edit-key-error, #edit-key-cancel.

import { h, replace, clear, append } from '../dom.js';
import { get, post, patch, canWrite, getSession, seg } from '../api.js';
import * as f from '../format.js';
import { limitsText, budgetText } from '../limits.js';
import { pageHeading, alertRegion, statusRegion, showError, showStatus, loading, loaded, loader, empty, table, td, field, select, badge, forgetProjects } from '../ui.js';

/** '' -> undefined; otherwise a whole number >= 0, or throws. */
function wholeNumber(value, what) {
  const v = String(value).trim();
  if (v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`${what} must be a whole number (or empty for no limit).`);
  return Number(v);
}

function amount(value, what) {
  const v = String(value).trim();
  if (v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${what} must be an amount in US dollars, such as 25 or 12.50.`);
  return n;
}

function list(value) {
  return String(value).split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
}

function keyState(key) {
  if (f.isNum(key.revoked_at_ms)) return badge(`Revoked ${f.date(key.revoked_at_ms)}`, 'bad');
  if (f.isNum(key.expires_at_ms) && key.expires_at_ms <= Date.now()) return badge('Expired', 'warn');
  return badge('Active', 'ok');
}

export default function render(ctx) {
  const name = ctx.params[0];
  const writable = canWrite();
  const alert = alertRegion();
  const status = statusRegion();
  const settingsBox = h('div');
  const keysBox = h('div');
  const editBox = h('div');
  const secretBox = h('div', { 'aria-live': 'polite' });
  let project = null;
  let keys = [];
  let editing = null; // the id of the key whose edit form is open

  append(ctx.el, 
    h('a', { class: 'back', href: '#/projects' }, '← All projects'),
    pageHeading('project', `Project ${name}`),
    alert, status,
    writable ? null : h('p', { class: 'notice' }, `Your role (${getSession().role}) can view this project but not change it.`),
    h('h2', null, 'Settings'), settingsBox,
    h('h2', null, 'API keys'), keysBox, editBox, secretBox);

  function clearMessages() {
    showError(alert, null);
    showStatus(status, null);
  }

  // ---- settings ----
  function renderSettings() {
    const s = project.settings || {};
    const l = s.limits || {};
    const budget = l.budget || null;
    const rpm = h('input', { id: 'limit-rpm', type: 'number', min: '0', step: '1', inputmode: 'numeric', value: l.rpm ?? '' });
    const tpm = h('input', { id: 'limit-tpm', type: 'number', min: '0', step: '1', inputmode: 'numeric', value: l.tpm ?? '' });
    const conc = h('input', { id: 'limit-concurrent', type: 'number', min: '0', step: '1', inputmode: 'numeric', value: l.max_concurrent ?? '' });
    const usd = h('input', { id: 'budget-usd', type: 'number', min: '0', step: '0.01', inputmode: 'decimal', value: budget ? budget.usd : '' });
    const period = select({ id: 'budget-period' }, [{ value: 'month', label: 'Per month' }, { value: 'day', label: 'Per day' }], budget ? budget.period : 'month');
    const origins = h('textarea', { id: 'allowed-origins', rows: '4', spellcheck: 'false', autocapitalize: 'none' }, (s.allowed_origins || []).join('\n'));
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save settings');

    const form = h('form', { id: 'project-settings', class: 'panel', onsubmit: async (e) => {
      e.preventDefault();
      clearMessages();
      let body;
      try {
        const limits = { ...(project.settings.limits || {}) };
        limits.rpm = wholeNumber(rpm.value, 'Requests per minute');
        limits.tpm = wholeNumber(tpm.value, 'Tokens per minute');
        limits.max_concurrent = wholeNumber(conc.value, 'Requests at once');
        const usdValue = amount(usd.value, 'The budget');
        limits.budget = usdValue === undefined ? undefined : { usd: usdValue, period: period.value };
        // The PATCH body is the whole ProjectSettings object (fields at the
        // top level), so every other setting is sent back as it was.
        body = { ...project.settings, limits, allowed_origins: list(origins.value) };
      } catch (err) {
        showError(alert, err.message);
        return;
      }
      save.disabled = true;
      try {
        project = await patch(`/admin/v1/projects/${seg(name)}`, body);
        if (!ctx.alive()) return;
        forgetProjects();
        renderSettings();
        showStatus(status, 'Settings saved.');
      } catch (err) {
        if (ctx.alive()) showError(alert, err);
      } finally {
        save.disabled = false;
      }
    } },
    h('fieldset', { disabled: !writable },
      h('legend', null, 'Limits and budget'),
      h('div', { class: 'form-grid' },
        field('Requests per minute', rpm, 'Empty: no limit'),
        field('Tokens per minute', tpm, 'Empty: no limit'),
        field('Requests at once', conc, 'Empty: no limit'),
        field('Budget (USD)', usd, 'Empty: no budget'),
        field('Budget period', period))),
    h('fieldset', { disabled: !writable },
      h('legend', null, 'Allowed origins'),
      field('Web origins allowed to use publishable keys, one per line', origins, 'For example https://app.example.com or https://*.example.com', { wide: true })),
    h('p', { class: 'muted' }, `Created ${f.dateTime(project.created_at_ms)} · updated ${f.dateTime(project.updated_at_ms)} · id `, h('code', null, project.id)),
    writable ? h('div', { class: 'form-actions' }, save) : null);
    replace(settingsBox, form);
  }

  // ---- keys ----
  const keyLabel = (key) => key.name || key.prefix;

  function revokeControls(key) {
    const box = h('span', { class: 'revoke-controls' });
    const ask = () => {
      const confirm = h('button', { type: 'button', class: 'danger confirm', 'data-confirm-revoke': key.id, onclick: async () => {
        confirm.disabled = true;
        clearMessages();
        try {
          await post(`/admin/v1/keys/${seg(key.id)}/revoke`);
          if (!ctx.alive()) return;
          showStatus(status, `Key “${keyLabel(key)}” revoked.`);
          await loadKeys();
        } catch (err) {
          if (!ctx.alive()) return;
          showError(alert, err);
          initial();
        }
      } }, 'Confirm revoke');
      const cancel = h('button', { type: 'button', onclick: () => { initial(); box.querySelector('button').focus(); } }, 'Cancel');
      replace(box, h('span', { class: 'sr-only' }, `Revoke ${keyLabel(key)}? `), confirm, ' ', cancel);
      confirm.focus();
    };
    const initial = () => replace(box, h('button', { type: 'button', class: 'danger', 'data-revoke': key.id, 'aria-label': `Revoke key ${keyLabel(key)}`, onclick: ask }, 'Revoke'));
    initial();
    return box;
  }

  function actionsCell(key) {
    const cell = h('td', { class: 'nowrap' });
    if (!writable || f.isNum(key.revoked_at_ms)) return cell;
    const edit = h('button', {
      type: 'button', 'data-edit-key': key.id, 'aria-label': `Edit key ${keyLabel(key)}`,
      'aria-expanded': String(editing === key.id), 'aria-controls': 'edit-key',
      onclick: () => (editing === key.id ? closeEdit(true) : openEdit(key.id)),
    }, 'Edit');
    return append(cell, edit, ' ', revokeControls(key));
  }

  function keyRow(k) {
    const ks = k.settings || {};
    return h('tr', { 'data-key-id': k.id },
      td(k.name || h('span', { class: 'muted' }, '(unnamed)')),
      td(k.kind),
      td(h('code', null, k.prefix)),
      td(f.date(k.created_at_ms), { nowrap: true }),
      td(f.isNum(k.expires_at_ms) ? f.dateTime(k.expires_at_ms) : 'Never', { nowrap: true }),
      td(keyState(k)),
      td((ks.models || []).length ? ks.models.join(', ') : 'All'),
      td((ks.operations || []).length ? ks.operations.join(', ') : 'All'),
      td(limitsText(ks.limits)),
      td(budgetText(ks.limits && ks.limits.budget)),
      writable ? actionsCell(k) : null);
  }

  /** The key's row in the table, or null. */
  function rowOf(id) {
    return [...keysBox.querySelectorAll('tr[data-key-id]')].find((r) => r.getAttribute('data-key-id') === id) || null;
  }

  function editButtonOf(id) {
    const row = rowOf(id);
    return row ? row.querySelector('button[data-edit-key]') : null;
  }

  // ---- editing a key (one shared form, #edit-key, below the table) ----
  function closeEdit(refocus) {
    const was = editing;
    editing = null;
    clear(editBox);
    const button = was ? editButtonOf(was) : null;
    if (button) {
      button.setAttribute('aria-expanded', 'false');
      if (refocus) button.focus();
    }
  }

  function openEdit(id) {
    const key = keys.find((k) => k.id === id);
    if (!key) return;
    if (editing && editing !== id) {
      const other = editButtonOf(editing);
      if (other) other.setAttribute('aria-expanded', 'false');
    }
    editing = id;
    const button = editButtonOf(id);
    if (button) button.setAttribute('aria-expanded', 'true');

    const s = key.settings || {};
    const l = s.limits || {};
    const budget = l.budget || null;
    const text = (idPart, value) => h('input', { id: `edit-key-${idPart}`, name: idPart, type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', value });
    const whole = (idPart, value) => h('input', { id: `edit-key-${idPart}`, name: idPart, type: 'number', min: '0', step: '1', inputmode: 'numeric', value: value ?? '' });
    const models = text('models', (s.models || []).join(', '));
    const ops = text('operations', (s.operations || []).join(', '));
    const rpm = whole('rpm', l.rpm);
    const tpm = whole('tpm', l.tpm);
    const conc = whole('concurrent', l.max_concurrent);
    const usd = h('input', { id: 'edit-key-budget-usd', name: 'budget-usd', type: 'number', min: '0', step: '0.01', inputmode: 'decimal', value: budget ? budget.usd : '' });
    const period = select({ id: 'edit-key-budget-period', name: 'budget-period' }, [{ value: 'month', label: 'Per month' }, { value: 'day', label: 'Per day' }], budget ? budget.period : 'month');
    const problem = h('div', { id: 'edit-key-error', class: 'alert', role: 'alert' });
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save key');
    const cancel = h('button', { type: 'button', id: 'edit-key-cancel', onclick: () => closeEdit(true) }, 'Cancel');

    const form = h('form', {
      id: 'edit-key', class: 'panel', 'data-key-id': id, 'aria-labelledby': 'edit-key-title',
      onkeydown: (e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          closeEdit(true);
        }
      },
      onsubmit: async (e) => {
        e.preventDefault();
        clearMessages();
        showError(problem, null);
        let body;
        try {
          // The PATCH replaces every setting of the key: start from what it
          // has (its conversation bounds among them) and change the fields
          // of this form only. Empty fields are left out: no limit, all.
          const limits = { ...(s.limits || {}) };
          limits.rpm = wholeNumber(rpm.value, 'Requests per minute');
          limits.tpm = wholeNumber(tpm.value, 'Tokens per minute');
          limits.max_concurrent = wholeNumber(conc.value, 'Requests at once');
          const usdValue = amount(usd.value, 'The budget');
          limits.budget = usdValue === undefined ? undefined : { usd: usdValue, period: period.value };
          body = { ...s, limits, models: list(models.value), operations: list(ops.value) };
        } catch (err) {
          showError(problem, err.message);
          return;
        }
        save.disabled = true;
        try {
          const updated = await patch(`/admin/v1/keys/${seg(id)}`, body);
          if (!ctx.alive()) return;
          keys = keys.map((k) => (k.id === id ? updated : k));
          const row = rowOf(id);
          if (row) row.replaceWith(keyRow(updated));
          closeEdit(true);
          showStatus(status, `Key “${keyLabel(updated)}” updated.`);
        } catch (err) {
          if (ctx.alive()) showError(problem, err);
        } finally {
          save.disabled = false;
        }
      },
    },
    h('h3', { id: 'edit-key-title' }, `Edit key “${keyLabel(key)}”`),
    h('p', { class: 'muted' }, 'Saving replaces the key’s scopes and limits with these; empty fields mean all models, all operations, no limit.'),
    problem,
    h('div', { class: 'form-grid' },
      field('Models', models, 'Comma-separated, e.g. gpt-4o, gemini-*; empty: all'),
      field('Operations', ops, 'Comma-separated, e.g. chat.completions; empty: all'),
      field('Requests per minute', rpm, 'Empty: no limit'),
      field('Tokens per minute', tpm, 'Empty: no limit'),
      field('Requests at once', conc, 'Empty: no limit'),
      field('Budget (USD)', usd, 'Empty: no budget'),
      field('Budget period', period)),
    h('div', { class: 'form-actions' }, save, cancel));
    replace(editBox, form);
    models.focus();
  }

  const runKeys = loader(ctx, keysBox, alert);
  function loadKeys() {
    return runKeys(async (current) => {
      const res = await get(`/admin/v1/projects/${seg(name)}/keys`);
      if (!current()) return;
      keys = (res.data || []).slice().sort((a, b) => (b.created_at_ms || 0) - (a.created_at_ms || 0));
      replace(keysBox, keys.length === 0
        ? empty('This project has no keys yet.')
        : table(['Name', 'Kind', 'Prefix', 'Created', 'Expires', 'State', 'Models', 'Operations', 'Limits', 'Budget', writable ? 'Actions' : null].filter(Boolean),
          keys.map(keyRow), { label: 'API keys' }));
      // A key revoked (or gone) while its form was open: the form goes.
      if (editing && !editButtonOf(editing)) closeEdit(false);
    });
  }

  function showSecret(key, secret) {
    const input = h('input', { id: 'new-key-secret', type: 'text', readonly: true, value: secret, spellcheck: 'false', autocomplete: 'off' });
    const copied = h('span', { role: 'status', class: 'muted' });
    const copy = h('button', { type: 'button', id: 'copy-secret', onclick: async () => {
      try {
        if (!navigator.clipboard || !navigator.clipboard.writeText) throw new Error('no clipboard');
        await navigator.clipboard.writeText(secret);
        replace(copied, 'Copied to the clipboard.');
      } catch (e) {
        input.focus();
        input.select();
        replace(copied, 'Selected: press Ctrl+C (⌘C on a Mac) to copy.');
      }
    } }, 'Copy');
    const done = h('button', { type: 'button', onclick: () => { clear(secretBox); ctx.el.querySelector('#key-name')?.focus(); } }, 'I have stored it');
    replace(secretBox, h('section', { class: 'panel', 'aria-labelledby': 'new-key-title' },
      h('h3', { id: 'new-key-title' }, `New key “${key.name || key.prefix}”`),
      h('p', { class: 'warning' }, 'Copy this secret now. It will not be shown again: Airlock keeps only its digest.'),
      h('div', { class: 'field' }, h('label', { for: 'new-key-secret' }, 'Secret'),
        h('div', { class: 'secret-box' }, input, copy)),
      h('div', { class: 'form-actions' }, done, copied)));
    input.focus();
    input.select();
  }

  function createKeyForm() {
    const keyName = h('input', { id: 'key-name', type: 'text', autocomplete: 'off', maxlength: '128' });
    const kind = select({ id: 'key-kind' }, [
      { value: 'secret', label: 'Secret (servers)' },
      { value: 'publishable', label: 'Publishable (browsers, allowed origins only)' },
    ], 'secret');
    const models = h('input', { id: 'key-models', type: 'text', autocomplete: 'off', spellcheck: 'false' });
    const ops = h('input', { id: 'key-operations', type: 'text', autocomplete: 'off', spellcheck: 'false' });
    const rpm = h('input', { id: 'key-rpm', type: 'number', min: '0', step: '1', inputmode: 'numeric' });
    const tpm = h('input', { id: 'key-tpm', type: 'number', min: '0', step: '1', inputmode: 'numeric' });
    const usd = h('input', { id: 'key-budget-usd', type: 'number', min: '0', step: '0.01', inputmode: 'decimal' });
    const period = select({ id: 'key-budget-period' }, [{ value: 'month', label: 'Per month' }, { value: 'day', label: 'Per day' }], 'month');
    const expires = h('input', { id: 'key-expires-days', type: 'number', min: '1', step: '1', inputmode: 'numeric' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Create key');

    const form = h('form', { id: 'create-key', class: 'panel', onsubmit: async (e) => {
      e.preventDefault();
      clearMessages();
      const body = { kind: kind.value, name: keyName.value.trim() };
      try {
        const m = list(models.value);
        const o = list(ops.value);
        if (m.length) body.models = m;
        if (o.length) body.operations = o;
        const limits = {};
        const r = wholeNumber(rpm.value, 'Requests per minute');
        const t = wholeNumber(tpm.value, 'Tokens per minute');
        const u = amount(usd.value, 'The budget');
        if (r !== undefined) limits.rpm = r;
        if (t !== undefined) limits.tpm = t;
        if (u !== undefined) limits.budget = { usd: u, period: period.value };
        if (Object.keys(limits).length) body.limits = limits;
        const days = wholeNumber(expires.value, 'Expires in (days)');
        if (days === 0) throw new Error('Expires in (days) must be 1 or more, or empty for never.');
        if (days !== undefined) body.expires_in_secs = days * 86400;
      } catch (err) {
        showError(alert, err.message);
        return;
      }
      submit.disabled = true;
      try {
        const res = await post(`/admin/v1/projects/${seg(name)}/keys`, body);
        if (!ctx.alive()) return;
        form.reset();
        showSecret(res.key || {}, res.secret);
        await loadKeys();
      } catch (err) {
        if (ctx.alive()) showError(alert, err);
      } finally {
        submit.disabled = false;
      }
    } },
    h('h3', null, 'Create key'),
    h('div', { class: 'form-grid' },
      field('Name', keyName),
      field('Kind', kind),
      field('Models', models, 'Comma-separated, e.g. gpt-4o, gemini-*; empty: all'),
      field('Operations', ops, 'Comma-separated, e.g. chat.completions; empty: all'),
      field('Requests per minute', rpm, 'Optional'),
      field('Tokens per minute', tpm, 'Optional'),
      field('Budget (USD)', usd, 'Optional'),
      field('Budget period', period),
      field('Expires in (days)', expires, 'Optional; empty: never')),
    h('div', { class: 'form-actions' }, submit));
    return form;
  }

  async function load() {
    loading(settingsBox);
    try {
      project = await get(`/admin/v1/projects/${seg(name)}`);
      if (!ctx.alive()) return;
      project.settings = project.settings || {};
      loaded(settingsBox);
      renderSettings();
      if (writable) secretBox.before(createKeyForm());
      await loadKeys();
    } catch (err) {
      if (!ctx.alive()) return;
      loaded(settingsBox);
      replace(settingsBox, err.status === 404 ? empty(`There is no project named “${name}”.`) : null);
      replace(keysBox);
      showError(alert, err);
    }
  }

  load();
}
