// Shared page pieces: headings, alert/status regions, loading and empty
// states, a container's load-and-show flow, tables and clickable rows,
// labelled fields, selectors (project ones included).

import { h, replace, clear, uid } from './dom.js';
import { get, qs } from './api.js';

/** The page's h1: focus target after navigation, test hook data-page. */
export function pageHeading(page, title) {
  return h('h1', { 'data-page': page, tabindex: '-1' }, title);
}

/** A region for errors (role="alert"); empty when there is none. */
export function alertRegion() {
  return h('div', { class: 'alert', role: 'alert' });
}

/** A region for confirmations (role="status"). */
export function statusRegion() {
  return h('div', { class: 'status-msg', role: 'status' });
}

/** Shows an error (an Error or a string) in an alert region; null clears it. */
export function showError(region, error) {
  if (!error) {
    clear(region);
    return;
  }
  replace(region, typeof error === 'string' ? error : error.message || String(error));
}

export function showStatus(region, message) {
  replace(region, message || '');
}

/** Puts a container into its loading state. */
export function loading(container, label = 'Loading…') {
  container.setAttribute('aria-busy', 'true');
  replace(container, h('p', { class: 'loading' }, label));
}

/** Ends the loading state. */
export function loaded(container) {
  container.removeAttribute('aria-busy');
}

/**
 * Fills a container from an async function, fill(current): the container
 * is in its loading state meanwhile, then shows what fill returns (when it
 * returns undefined, the container is left as it is); on an error it is
 * emptied and the error shown in the alert region. A later call supersedes
 * one still running, and nothing is shown once the page is left:
 * current() says whether this call still counts. run.cancel() drops the
 * one running without starting another.
 */
export function loader(ctx, container, alert) {
  let generation = 0;
  const run = async (fill) => {
    const mine = ++generation;
    const current = () => ctx.alive() && mine === generation;
    loading(container);
    try {
      const children = await fill(current);
      if (current() && children !== undefined) replace(container, children);
    } catch (err) {
      if (!current()) return;
      replace(container);
      showError(alert, err);
    } finally {
      if (mine === generation) loaded(container);
    }
  };
  run.cancel = () => { generation += 1; };
  return run;
}

export function empty(message) {
  return h('p', { class: 'empty' }, message);
}

export function badge(label, kind) {
  return h('span', { class: ['badge', kind] }, label);
}

/** A cell; opts.num right-aligns it. */
export function td(content, opts = {}) {
  return h('td', { class: [opts.num && 'num', opts.nowrap && 'nowrap', opts.class] }, content);
}

/**
 * A horizontally scrolling table. columns: [{label, num}] or strings.
 */
export function table(columns, rows, opts = {}) {
  const head = h('tr', null, columns.map((c) => {
    const col = typeof c === 'string' ? { label: c } : c;
    return h('th', { scope: 'col', class: col.num ? 'num' : null }, col.label);
  }));
  const tbody = h('tbody', null, rows);
  const t = h('table', null, opts.caption ? h('caption', null, opts.caption) : null, h('thead', null, head), tbody);
  const wrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': opts.label || opts.caption || 'Table' }, t);
  wrap.tbody = tbody;
  return wrap;
}

/**
 * A table row that opens href when clicked anywhere but on a link or a
 * button in it (its first cell should hold a link to href, for keyboards).
 */
export function clickableRow(href, attrs, ...cells) {
  return h('tr', {
    ...attrs,
    class: 'clickable',
    onclick: (e) => {
      if (e.target.closest('a, button')) return;
      location.hash = href;
    },
  }, cells);
}

/** A labelled control: the control gets an id if it has none. */
export function field(label, control, hint, opts = {}) {
  if (!control.id) control.id = uid('field');
  let hintEl = null;
  if (hint) {
    hintEl = h('span', { class: 'hint', id: `${control.id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: ['field', opts.wide && 'wide'] }, h('label', { for: control.id }, label), control, hintEl);
}

/** <select> with options [{value, label}] or strings. */
export function select(attrs, options, current) {
  return h('select', attrs, options.map((o) => {
    const opt = typeof o === 'string' ? { value: o, label: o } : o;
    return h('option', { value: opt.value, selected: String(opt.value) === String(current ?? '') }, opt.label);
  }));
}

/**
 * A group of toggle buttons (aria-pressed). onChange(value) on click.
 */
export function segmented(label, options, current, onChange) {
  const group = h('div', { class: 'segmented', role: 'group', 'aria-label': label });
  const buttons = options.map((o) => {
    const opt = typeof o === 'string' ? { value: o, label: o } : o;
    const b = h('button', {
      type: 'button', 'aria-pressed': String(opt.value === current), 'data-value': opt.value,
      onclick: () => {
        for (const other of buttons) other.setAttribute('aria-pressed', String(other === b));
        onChange(opt.value);
      },
    }, opt.label);
    return b;
  });
  replace(group, buttons);
  return h('div', { class: 'field' }, h('span', { class: 'field-label', 'aria-hidden': 'true' }, label), group);
}

/** A definition list from [[term, value], ...]. */
export function dl(entries) {
  return h('dl', { class: 'fields' }, entries.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

let projectsCache = null;
let projectsCacheAt = 0;

/** The projects' names (cached for a short while). */
export async function projectNames() {
  if (projectsCache && Date.now() - projectsCacheAt < 30000) return projectsCache;
  const res = await get('/admin/v1/projects');
  projectsCache = (res.data || []).map((p) => p.name).sort((a, b) => a.localeCompare(b));
  projectsCacheAt = Date.now();
  return projectsCache;
}

export function forgetProjects() {
  projectsCache = null;
}

/**
 * A labelled project <select> ("All projects" first), filled asynchronously.
 */
export function projectSelect(id, current, onChange, allLabel = 'All projects') {
  const sel = select({ id, onchange: onChange ? (e) => onChange(e.target.value) : null }, [{ value: '', label: allLabel }], current);
  projectNames().then((names) => {
    for (const name of names) {
      sel.appendChild(h('option', { value: name, selected: name === current }, name));
    }
    if (current && !names.includes(current)) {
      sel.appendChild(h('option', { value: current, selected: true }, current));
    }
  }).catch(() => { /* the filter stays "All projects"; the page shows its own errors */ });
  return field('Project', sel);
}

/** A note for read-only roles. */
export function readOnlyNote(role) {
  return h('p', { class: 'notice' }, `Your role (${role}) can view but not change these settings.`);
}

/**
 * A labelled project <select> for pages that show one project's data: the
 * first project is picked when none is (or the one asked for is gone).
 * onChange(name) runs once the names are in, and on every change.
 */
export function projectPicker(id, current, onChange) {
  const sel = select({ id, disabled: true, onchange: () => onChange(sel.value) }, [{ value: '', label: 'Loading projects…' }], '');
  const wrap = field('Project', sel);
  wrap.ready = projectNames().then((names) => {
    replace(sel, names.map((name) => h('option', { value: name, selected: name === current }, name)));
    if (!names.length) {
      sel.appendChild(h('option', { value: '' }, 'No projects yet'));
      onChange('');
      return;
    }
    sel.disabled = false;
    sel.removeAttribute('disabled');
    const chosen = names.includes(current) ? current : names[0];
    sel.value = chosen;
    onChange(chosen);
  }, (err) => {
    replace(sel, h('option', { value: '' }, 'Projects could not be loaded'));
    onChange(null, err);
  });
  return wrap;
}

/**
 * The project picker of a page listing one project's things at
 * #/ROUTE?project=NAME: the project comes from the address, else the
 * page's state; each pick is kept in state.project and the address, then
 * load() runs. When the projects cannot be loaded, results is emptied and
 * the error shown.
 */
export function routedProjectPicker(ctx, { id, route, state, alert, results }, load) {
  const wanted = ctx.query.get('project') || state.project;
  return projectPicker(id, wanted, (name, err) => {
    if (err) {
      loaded(results);
      replace(results);
      showError(alert, err);
      return;
    }
    state.project = name || '';
    history.replaceState(null, '', `#/${route}${qs({ project: state.project })}`);
    load();
  });
}

/** A progress bar for done/failed out of total (role="progressbar"). */
export function progressBar(done, failed, total, label) {
  const d = Number(done) || 0;
  const x = Number(failed) || 0;
  const t = Number(total) || 0;
  const ended = t > 0 ? Math.min(100, ((d + x) / t) * 100) : 0;
  const doneFill = h('div', { class: 'progress-done' });
  const failedFill = h('div', { class: 'progress-failed' });
  doneFill.style.width = `${t > 0 ? Math.min(100, (d / t) * 100) : 0}%`;
  failedFill.style.width = `${t > 0 ? Math.min(100 - (d / t) * 100, (x / t) * 100) : 0}%`;
  const text = `${d.toLocaleString()} done, ${x.toLocaleString()} failed of ${t.toLocaleString()}`;
  return h('div', { class: 'progress-cell' },
    h('div', {
      class: 'progress', role: 'progressbar', 'aria-label': label || 'Progress',
      'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.round(ended)), 'aria-valuetext': text,
    }, doneFill, failedFill),
    h('span', { class: 'progress-text' }, `${d.toLocaleString()} / ${x.toLocaleString()} / ${t.toLocaleString()}`));
}
