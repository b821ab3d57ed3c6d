// The console's session (the token a console link brought, kept in this
// tab's session storage) and its calls to the API as the moderator.

import { $, say } from './ui.js';

export const STORE = 'parley.console';
export const PAGE = 20;

// ---- Session ----------------------------------------------------------

export let session = null; // {app, token}
let generation = 0; // bumped at sign-out: late answers of an old session are dropped
let poller = null; // AbortController of the event stream

// takeLink moves a console link's app and token from the address bar into
// session storage at once, so the token is in no history entry, bookmark or
// screen share.
function takeLink() {
  const hash = location.hash.slice(1);
  if (!hash) return false;
  const params = new URLSearchParams(hash);
  const app = params.get('app');
  const token = params.get('token');
  if (app !== null || token !== null) {
    history.replaceState(null, '', location.pathname + location.search);
  }
  if (app && token) {
    sessionStorage.setItem(STORE, JSON.stringify({ app, token }));
  }
}

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    if (s && typeof s.app === 'string' && typeof s.token === 'string' && s.app && s.token) return s;
  } catch {
    // unreadable: treated as none
  }
  sessionStorage.removeItem(STORE);
  return null;
}

// openSession signs in with the console link in the address bar, if any,
// else with the one this tab kept; it returns the session, or null.
export function openSession() {
  takeLink();
  session = loadSession();
  return session;
}

// setPoller keeps the event stream's AbortController: the end of the
// session stops the stream.
export function setPoller(ctrl) {
  poller = ctrl;
}

// switchLink drops this session for the console link just put in the
// address bar (see console.js) and reloads the page with it.
export function switchLink() {
  generation++;
  if (poller) poller.abort();
  sessionStorage.clear();
  takeLink();
  location.reload();
}

// endSession drops the token and shows why: 'none' (never signed in),
// 'signedout', 'expired' (a 401), 'denied' (403 auth.denied).
export function endSession(why, detail) {
  generation++;
  session = null;
  if (poller) poller.abort();
  poller = null;
  sessionStorage.clear();
  showGate(why, detail);
}

const GATES = {
  none: ['Open the console with a console link',
    'This console signs you in only through a console link: a short-lived address made for one moderator. ' +
    'Nothing else is asked for here, and no password or key is ever typed into this page.'],
  signedout: ['You are signed out',
    'The console link\'s token is gone from this browser tab. Open the console with a console link to sign in again.'],
  expired: ['Your console link has expired: ask for a new one',
    'Console links last a short time (one hour unless made otherwise). Nothing you did was lost: get a new link ' +
    'in one of the two ways below and open it.'],
  denied: ['This account may not use the app',
    'The server refused this account (it may be banned or erased). Ask the person who runs your Parley server.'],
  unreachable: ['The server did not answer',
    'Your console link is kept in this tab: reload the page to try again in a moment.'],
  failed: ['The console could not sign you in',
    'The server did not accept the console link. Ask for a new one in one of the two ways below.'],
};

export function showGate(why, detail) {
  const [title, text] = GATES[why] || GATES.none;
  $('gate-title').textContent = title;
  $('gate-text').textContent = text;
  $('gate-detail').textContent = detail || '';
  $('gate-detail').hidden = !detail;
  $('gate').dataset.state = why;
  $('gate').hidden = false;
  $('app').hidden = true;
  $('session').hidden = true;
  $('who').textContent = '';
  for (const id of ['reports-list', 'users-list', 'restricted-list', 'audit-list']) $(id).replaceChildren();
  document.title = 'Parley moderation console';
  say('');
}

// ---- API --------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message || `The server answered ${status}.`);
    this.status = status;
    this.code = code || '';
    this.fields = fields && typeof fields === 'object' ? fields : {};
  }
}

// pageGone: a list answered 400 for a startingAfter that is no longer in
// it (the item was resolved, reactivated or erased meanwhile).
export const pageGone = (err) => err && err.status === 400 && typeof err.fields.startingAfter === 'string';

// api calls /v1/{app}/me{path} as the signed-in moderator. A 401 or a 403
// auth.denied ends the session; other errors are thrown for the caller.
export async function api(method, path, body, signal) {
  if (!session) throw new ApiError(0, 'signed_out', 'You are signed out.');
  const gen = generation;
  const headers = { Authorization: `Bearer ${session.token}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/v1/${encodeURIComponent(session.app)}/me${path}`, {
      method, headers, signal, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check the connection and try again.');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (gen !== generation) throw new ApiError(0, 'signed_out', 'You are signed out.');
  if (res.ok) return data || {};
  const err = new ApiError(res.status, data && data.errorCode, data && data.message, data && data.fields);
  if (res.status === 401) endSession('expired', err.message);
  else if (res.status === 403 && err.code === 'auth.denied') endSession('denied', err.message);
  throw err;
}

export const ended = (err) => !session || (err && (err.status === 401 || err.code === 'auth.denied' || err.code === 'signed_out'));
