// The shell (header, nav, main) and the hash router.

import { h, replace, clear } from './dom.js';
import { get, del, getSession, setSession, setUnauthorizedHandler, isAdmin } from './api.js';
import { pageHeading } from './ui.js';

import signin from './pages/signin.js';
import overview from './pages/overview.js';
import projects from './pages/projects.js';
import project from './pages/project.js';
import spend from './pages/spend.js';
import requests from './pages/requests.js';
import request from './pages/request.js';
import realtime from './pages/realtime.js';
import session from './pages/session.js';
import conversations from './pages/conversations.js';
import conversation from './pages/conversation.js';
import media from './pages/media.js';
import medium from './pages/medium.js';
import cache from './pages/cache.js';
import jobs from './pages/jobs.js';
import job from './pages/job.js';
import providers from './pages/providers.js';
import audit from './pages/audit.js';
import admins from './pages/admins.js';

const NAV = [
  { id: 'overview', label: 'Overview' },
  { id: 'projects', label: 'Projects' },
  { id: 'spend', label: 'Spend' },
  { id: 'requests', label: 'Requests' },
  { id: 'realtime', label: 'Realtime' },
  { id: 'conversations', label: 'Conversations' },
  { id: 'media', label: 'Media' },
  { id: 'cache', label: 'Cache' },
  { id: 'jobs', label: 'Jobs' },
  { id: 'providers', label: 'Providers' },
  { id: 'audit', label: 'Audit log' },
  { id: 'admins', label: 'Admins', adminOnly: true },
];

// route name -> its list page, its detail page (#/name/ID) and title
const ROUTES = {
  overview: { list: overview, detail: null, title: 'Overview' },
  projects: { list: projects, detail: project, title: 'Projects' },
  spend: { list: spend, detail: null, title: 'Spend' },
  requests: { list: requests, detail: request, title: 'Requests' },
  realtime: { list: realtime, detail: session, title: 'Realtime' },
  conversations: { list: conversations, detail: conversation, title: 'Conversations' },
  media: { list: media, detail: medium, title: 'Media' },
  cache: { list: cache, detail: null, title: 'Response cache' },
  jobs: { list: jobs, detail: job, title: 'Jobs' },
  providers: { list: providers, detail: null, title: 'Providers' },
  audit: { list: audit, detail: null, title: 'Audit log' },
  admins: { list: admins, detail: null, title: 'Admins' },
};

const app = document.getElementById('app');
let main = null;
let nav = null;
let cleanup = null;
let flash = null; // a message for the sign-in page
let returnTo = null; // where to go after signing in

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch (e) {
      return p;
    }
  });
  return { name: parts[0] || '', params: parts.slice(1), query: new URLSearchParams(query) };
}

function skipLink() {
  return h('a', {
    class: 'skip-link',
    href: '#content',
    onclick: (e) => {
      e.preventDefault();
      const target = document.querySelector('#content h1') || document.getElementById('content');
      if (target) target.focus();
    },
  }, 'Skip to content');
}

async function signOut() {
  try {
    await del('/admin/v1/session', { auth: false });
  } catch (e) {
    // Signed out either way.
  }
  setSession(null);
  flash = { message: 'You have signed out.', error: false };
  returnTo = null;
  location.hash = '#/signin';
}

/** Builds the shell for the current session (signed in or not). */
function renderShell() {
  const s = getSession();
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: s ? '#/overview' : '#/signin' },
      h('img', { src: '/ui/assets/favicon.svg', alt: '' }), 'Airlock'),
    s ? h('div', { class: 'who' },
      h('span', null, 'Signed in as ', h('span', { class: 'who-name', id: 'whoami' }, s.user)),
      h('span', { class: 'badge accent', id: 'whorole', title: 'Your role' }, s.role),
      h('button', { type: 'button', id: 'signout', onclick: signOut }, 'Sign out')) : null);

  main = h('main', { id: 'content', tabindex: '-1' });
  nav = null;
  if (s) {
    nav = h('nav', { class: 'mainnav', 'aria-label': 'Main' },
      h('ul', null, NAV.filter((n) => !n.adminOnly || isAdmin()).map((n) =>
        h('li', null, h('a', { href: `#/${n.id}`, 'data-nav': n.id }, n.label)))));
  }
  replace(app, skipLink(), header, h('div', { class: ['layout', !s && 'no-nav'] }, nav, main));
}

function markNav(name) {
  if (!nav) return;
  for (const a of nav.querySelectorAll('a[data-nav]')) {
    if (a.getAttribute('data-nav') === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function notFound(ctx) {
  ctx.el.append(pageHeading('notfound', 'Page not found'),
    h('p', null, 'There is no such page. ', h('a', { href: '#/overview' }, 'Go to the overview'), '.'));
}

let renderedSignedIn = null;
let firstRoute = true;

function route() {
  const { name, params, query } = parseHash();
  if (name === '' || !location.hash.startsWith('#/')) {
    if (location.hash && !location.hash.startsWith('#/')) return; // e.g. #content
    location.replace('#/overview');
    return;
  }
  const s = getSession();
  if (cleanup) {
    try {
      cleanup();
    } catch (e) {
      console.warn(e);
    }
    cleanup = null;
  }
  if (!s && name !== 'signin') {
    returnTo = location.hash;
    location.replace('#/signin');
    return;
  }
  if (s && name === 'signin') {
    location.replace('#/overview');
    return;
  }
  if (renderedSignedIn !== !!s || !main || !main.isConnected) {
    renderShell();
    renderedSignedIn = !!s;
  }

  let render;
  let title;
  if (name === 'signin') {
    render = signin;
    title = 'Sign in';
  } else if (ROUTES[name] && (params.length === 0 || ROUTES[name].detail)) {
    render = params.length ? ROUTES[name].detail : ROUTES[name].list;
    title = ROUTES[name].title;
  } else {
    render = notFound;
    title = 'Not found';
  }
  markNav(name);
  document.title = `${title} · Airlock`;

  const el = h('div', { class: 'page' });
  clear(main);
  main.appendChild(el);
  let alive = true;
  const ctx = {
    el,
    params,
    query,
    session: s,
    alive: () => alive && el.isConnected,
    signedIn: onSignedIn,
    takeFlash: () => {
      const f = flash;
      flash = null;
      return f;
    },
  };
  let pageCleanup = null;
  try {
    pageCleanup = render(ctx) || null;
  } catch (e) {
    console.error(e);
    el.append(h('div', { class: 'alert', role: 'alert' }, `This page failed to load: ${e.message}`));
  }
  cleanup = () => {
    alive = false;
    if (typeof pageCleanup === 'function') pageCleanup();
  };
  // After a navigation, focus goes to the new page's heading (screen readers
  // announce it; Tab continues from there). Not on the first load, so that
  // the skip link stays the first stop.
  const heading = el.querySelector('h1');
  if (heading && !firstRoute) heading.focus({ preventScroll: true });
  firstRoute = false;
  window.scrollTo(0, 0);
}

function onSignedIn(sessionValue) {
  setSession(sessionValue);
  const target = returnTo && !returnTo.startsWith('#/signin') ? returnTo : '#/overview';
  returnTo = null;
  renderedSignedIn = null;
  if (location.hash === target) route();
  else location.hash = target;
}

setUnauthorizedHandler((code) => {
  const wasSignedIn = !!getSession();
  setSession(null);
  if (code === 'session_expired' || wasSignedIn) {
    flash = { message: 'Your session has expired, sign in again.', error: true };
  }
  const current = location.hash;
  if (!current.startsWith('#/signin')) returnTo = current;
  if (current.startsWith('#/signin')) route();
  else location.hash = '#/signin';
});

async function boot() {
  replace(app, h('p', { class: 'loading', 'aria-busy': 'true' }, 'Loading…'));
  try {
    setSession(await get('/admin/v1/session', { auth: false }));
  } catch (e) {
    setSession(null);
    if (e.code === 'session_expired') flash = { message: 'Your session has expired, sign in again.', error: true };
    else if (e.status !== 401) flash = { message: e.message, error: true };
  }
  window.addEventListener('hashchange', route);
  route();
}

boot();
