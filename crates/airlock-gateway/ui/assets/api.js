// The admin API client: JSON in and out, the CSRF header on every change,
// 401 -> the sign-in page, and errors as messages a person can read.

let session = null; // {user, role, csrf_token, expires_at_ms}
let onUnauthorized = () => {};

export function getSession() {
  return session;
}

export function setSession(value) {
  session = value;
}

/** Whether the signed-in role may make changes. */
export function canWrite() {
  return !!session && session.role !== 'viewer';
}

export function isAdmin() {
  return !!session && session.role === 'admin';
}

/** Called with the error code ('no_session', 'session_expired', ...) on a 401. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export class ApiError extends Error {
  constructor(message, { status = 0, code = null, retryAfter = null, body = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.body = body;
  }
}

/** The message to show for an API error. */
function readable(status, code, message, retryAfter) {
  switch (code) {
    case 'invalid_credentials':
      return 'Wrong username or password.';
    case 'too_many_attempts':
      return retryAfter !== null
        ? `Too many sign-in attempts. Try again in ${retryAfter} s.`
        : 'Too many sign-in attempts. Try again in a little while.';
    case 'session_expired':
      return 'Your session has expired, sign in again.';
    case 'no_session':
      return 'Please sign in.';
    case 'forbidden_role':
      return `Your role (${session ? session.role : 'viewer'}) cannot make changes.`;
    case 'csrf_failed':
      return 'The page’s security token is out of date. Reload the page and try again.';
    default:
      break;
  }
  if (message) return message;
  if (status === 404) return 'Not found.';
  if (status === 403) return 'You are not allowed to do that.';
  if (status >= 500) return `The server had a problem (HTTP ${status}). Try again.`;
  return `The request failed (HTTP ${status}).`;
}

/**
 * api('GET', '/admin/v1/projects') -> parsed JSON (null for 204).
 * opts.auth === false: a 401 is returned as an error without leaving the page.
 */
export async function api(method, path, body, opts = {}) {
  const headers = { accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && session && session.csrf_token) {
    headers['x-csrf-token'] = session.csrf_token;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError('Could not reach the server. Check your connection and try again.');
  }
  if (res.status === 204) return null;
  const raw = await res.text();
  let data = null;
  if (raw) {
    try {
      data = JSON.parse(raw);
    } catch (e) {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && typeof data === 'object' && data.error ? data.error : {};
    const code = typeof err.code === 'string' ? err.code : null;
    const message = typeof err.message === 'string' ? err.message : null;
    const ra = res.headers.get('retry-after');
    const retryAfter = ra !== null && /^\d+$/.test(ra.trim()) ? Number(ra.trim()) : null;
    const error = new ApiError(readable(res.status, code, message, retryAfter), {
      status: res.status, code, retryAfter, body: data,
    });
    if (res.status === 401 && opts.auth !== false) {
      onUnauthorized(code);
    }
    throw error;
  }
  if (raw && data === null) {
    throw new ApiError('The server sent an answer that is not JSON.', { status: res.status });
  }
  return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body === undefined ? {} : body, opts);
export const patch = (path, body, opts) => api('PATCH', path, body, opts);
export const del = (path, opts) => api('DELETE', path, undefined, opts);

/** A query string from an object, skipping empty values. */
export function qs(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    search.set(k, String(v));
  }
  const s = search.toString();
  return s ? `?${s}` : '';
}

/** Path segment encoding. */
export const seg = (s) => encodeURIComponent(s);
