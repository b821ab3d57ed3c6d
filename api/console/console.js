// The Parley moderation console: a moderator's page, signed in by a console
// link, that works the /v1/{app}/me routes of the server that serves it.
//
// Every value from the API is put into the page as text (createTextNode
// inside a <bdi>) or as the value of a harmless attribute: the page's
// Content-Security-Policy requires Trusted Types with no policy, so any
// string given to innerHTML would throw anyway. The <bdi> isolates each
// string's direction: a right-to-left override (U+202E) in a name, a note
// or a message reverses nothing outside that string.

const STORE = 'parley.console';
const PAGE = 20;

const $ = (id) => document.getElementById(id);

// h makes an element: attrs are set with setAttribute (class, id, for,
// aria-*, data-*, type) or as properties when they start with "on" (event
// handlers, functions only); children are nodes or strings (text).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'hidden' || k === 'disabled') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false || c === '') continue;
    if (c instanceof Node) {
      el.append(c);
      continue;
    }
    const b = document.createElement('bdi');
    b.append(document.createTextNode(String(c)));
    el.append(b);
  }
  return el;
}

// isolated wraps a string in FIRST STRONG ISOLATE ... POP DIRECTIONAL
// ISOLATE, for text that cannot hold elements (the document's title).
const isolated = (text) => `\u2068${text}\u2069`;

// ---- Session ----------------------------------------------------------

let session = null; // {app, token}
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

// endSession drops the token and shows why: 'none' (never signed in),
// 'signedout', 'expired' (a 401), 'denied' (403 auth.denied).
function endSession(why, detail) {
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

function showGate(why, detail) {
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
const pageGone = (err) => err && err.status === 400 && typeof err.fields.startingAfter === 'string';

// api calls /v1/{app}/me{path} as the signed-in moderator. A 401 or a 403
// auth.denied ends the session; other errors are thrown for the caller.
async function api(method, path, body, signal) {
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

const ended = (err) => !session || (err && (err.status === 401 || err.code === 'auth.denied' || err.code === 'signed_out'));

// ---- Status -----------------------------------------------------------

let statusTimer = 0;

// say shows a status in the bar that stays at the top of the window
// (sticky), wherever the moderator has scrolled to. text is a string or a
// list of strings and nodes (values from the API go in as their own items,
// so each is isolated).
function say(text, kind) {
  const el = $('status');
  clearTimeout(statusTimer);
  el.replaceChildren();
  append(el, [text]);
  const empty = !el.textContent;
  el.className = `status${kind ? ` ${kind}` : ''}`;
  el.hidden = empty;
  if (!empty && kind !== 'error') statusTimer = setTimeout(() => { el.hidden = true; el.replaceChildren(); }, 8000);
}

function sayError(err, what) {
  if (ended(err)) return;
  say([...[what].flat(), ': ', err.message, err.code ? ` (${err.code})` : ''], 'error');
  if (err.code === 'permission.denied') recheck();
}

// ---- Formatting ---------------------------------------------------------

const when = (ms) => (ms ? new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '');

const REASONS = {
  spam: 'Spam', harassment: 'Harassment', hate: 'Hate', sexual: 'Sexual content', violence: 'Violence', other: 'Other',
};
const ACTIONS = {
  dismiss: 'dismissed', delete_message: 'message deleted', silence: 'user silenced', ban: 'user banned',
};

// Names of users by id, looked up through /me/users?ids= and filled in
// where a span waits for them.
const names = new Map();
const waiting = new Map();

function person(id) {
  if (!id) return h('span', { class: 'person' }, 'the system');
  const name = h('span', { class: 'name' }, names.get(id) ?? '');
  const el = h('span', { class: 'person' }, name, ' ', h('span', { class: 'id' }, `(${id})`));
  if (!names.has(id)) {
    if (!waiting.has(id)) waiting.set(id, []);
    waiting.get(id).push(name);
  }
  return el;
}

async function fillNames() {
  const ids = [...waiting.keys()].filter((id) => !names.has(id)).slice(0, 100);
  if (ids.length === 0) return;
  try {
    const out = await api('GET', `/users?ids=${ids.map(encodeURIComponent).join(',')}`);
    for (const id of ids) names.set(id, out.data && out.data[id] ? out.data[id].name : '');
  } catch (err) {
    if (ended(err)) return;
    for (const id of ids) names.set(id, '');
  }
  for (const id of ids) {
    for (const span of waiting.get(id) || []) append(span, [names.get(id)]);
    waiting.delete(id);
  }
  if (waiting.size) fillNames();
}

// actor shows "key:…", "cli" or "user:<id>" as a person when it is one.
function actor(a) {
  if (typeof a === 'string' && a.startsWith('user:')) return person(a.slice(5));
  if (a === 'cli') return h('span', { class: 'person' }, 'the command line');
  if (typeof a === 'string' && a.startsWith('key:')) return h('span', { class: 'person' }, 'the backend ', h('span', { class: 'id' }, `(${a})`));
  return h('span', { class: 'person' }, a || '');
}

function stateBadge(state) {
  const label = state === 'banned' ? 'Banned' : state === 'silenced' ? 'Silenced' : 'Active';
  return h('span', { class: `badge state-${state || 'active'}` }, label);
}

// Ids for the elements of a card, unique on the page.
let fieldSeq = 0;
const nextId = (prefix) => `${prefix}-${++fieldSeq}`;

// A reason input with its label, unique per card; about names the
// element(s) that say what the card is about (aria-describedby), so that
// every card's "Reason (optional)" says whose reason it is.
function reasonField(about, cls) {
  const id = nextId('reason');
  const input = h('input', { type: 'text', id, maxlength: '1024', autocomplete: 'off', 'aria-describedby': about });
  return { input, el: h('div', { class: cls ? `reason ${cls}` : 'reason' }, h('label', { for: id }, 'Reason (optional)'), input) };
}

// button makes an action button whose accessible description is what its
// card is about: the visible label stays "Ban", a screen reader hears
// "Ban, Sam Spammer (sam)".
function button(label, cls, about, onclick, disabled) {
  return h('button', { type: 'button', class: cls, 'aria-describedby': about, onclick, disabled }, label);
}

// removeCard takes a card out of its list. When the keyboard focus was in
// it, or an action of the card is under way (its buttons are disabled, so
// the focus may have left them already; the event stream may tell of the
// resolution before the action's own answer), the focus moves to the next
// card, else the one before, else the list's heading, instead of falling
// to the page's body.
function removeCard(card, heading, focus) {
  const had = focus || acting.has(card) || card.contains(document.activeElement);
  const next = card.nextElementSibling || card.previousElementSibling;
  card.remove();
  if (!had) return;
  if (next) next.focus();
  else $(heading).focus();
}

// act runs an action from a card's buttons: they are disabled meanwhile.
const acting = new WeakSet();
async function act(card, run) {
  acting.add(card);
  const buttons = [...card.querySelectorAll('button')].filter((b) => !b.disabled);
  buttons.forEach((b) => { b.disabled = true; });
  card.setAttribute('aria-busy', 'true');
  try {
    await run();
  } finally {
    acting.delete(card);
    card.removeAttribute('aria-busy');
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// ---- Sections -----------------------------------------------------------

const sections = {};

// A section loads lazily when first shown; denied shows a 403
// permission.denied as a sentence instead of the list.
function section(name, load) {
  const el = $(name);
  const s = {
    name, el, loaded: false, load,
    denied(err) {
      const p = el.querySelector('.denied');
      p.textContent = `Your role does not allow this section: ${err.message}`;
      p.hidden = false;
      for (const c of el.querySelectorAll('.cards, .log, .more, .empty, .search')) c.hidden = true;
    },
    allowed() {
      el.querySelector('.denied').hidden = true;
      for (const c of el.querySelectorAll('.cards, .log, .search')) c.hidden = false;
    },
    async refresh() {
      s.loaded = true;
      try {
        await load(s);
      } catch (err) {
        if (err.code === 'permission.denied') s.denied(err);
        else sayError(err, `Could not load ${name}`);
      }
    },
  };
  sections[name] = s;
  return s;
}

// ---- What the role allows ------------------------------------------------

// The console learns the moderator's permissions from the answers of the
// lists they rule: 403 permission.denied on /moderation/users means no
// users.manage (Silence, Ban and Reactivate are hidden everywhere), on
// /moderation/reports no reports.review (the console opens on Users).
// Any other answer leaves the permission assumed: the section says more.
const perms = { reports: true, users: true };

async function allows(path) {
  try {
    await api('GET', path);
    return true;
  } catch (err) {
    if (err.code === 'permission.denied') return false;
    return true;
  }
}

async function probe() {
  const [reports, users] = await Promise.all([
    allows('/moderation/reports?status=open&limit=1'), allows('/moderation/users?limit=1')]);
  perms.reports = reports;
  perms.users = users;
  $('app').classList.toggle('no-manage', !users);
  $('app').classList.toggle('no-review', !reports);
}

// recheck follows an action refused with 403 permission.denied: the role
// may have changed while the page was open, so the console asks again
// what it may do and, when that changed, reloads the sections rather than
// leaving buttons that look as if they worked. (The same 403 also refuses
// acting on a manager: then nothing changed and nothing is reloaded.)
let rechecking = null;
function recheck() {
  if (rechecking || !session) return rechecking;
  rechecking = (async () => {
    try {
      const before = `${perms.reports} ${perms.users}`;
      await probe();
      if (`${perms.reports} ${perms.users}` === before) return;
      for (const s of Object.values(sections)) s.loaded = false;
      const current = Object.values(sections).find((s) => !s.el.hidden);
      if (current) await current.refresh();
    } finally {
      rechecking = null;
    }
  })();
  return rechecking;
}

function showTab(name) {
  if (!sections[name]) name = 'reports';
  sessionStorage.setItem(`${STORE}.tab`, name);
  for (const s of Object.values(sections)) {
    const on = s.name === name;
    s.el.hidden = !on;
    const tab = $(`tab-${s.name}`);
    if (on) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  if (!sections[name].loaded) sections[name].refresh();
}

// ---- Reports ------------------------------------------------------------

// The queue shows one card per target (a message or a user) with every
// open report of it: a resolution closes them all at once. order holds the
// ids of the reports loaded, in the server's order (oldest first): the next
// page starts after the last of them still open on the page.
const queue = { ids: new Map(), cards: new Map(), order: [], more: false, auto: false };

function targetKey(r) {
  const t = r.target;
  return t.type === 'message' && t.message ? `m:${t.conversationId}/${t.message.id}` : `u:${t.userId}`;
}

function reporterLine(r) {
  return h('li', { class: 'reporter', 'data-report': r.id },
    h('span', { class: `badge reason-${r.reason}` }, REASONS[r.reason] || r.reason), ' ',
    h('span', { class: 'meta' }, 'Reported by ', person(r.reporterId), ` · ${when(r.createdAt)}`),
    r.note ? h('p', { class: 'note-text' }, h('span', { class: 'label' }, 'Note: '), r.note) : null);
}

function reportCard(r) {
  const t = r.target;
  const key = targetKey(r);
  const about = nextId('about');
  const card = h('li', { class: 'card report', 'data-target': key, tabindex: '-1', 'aria-labelledby': about });
  const count = h('span', { class: 'badge count-badge' });
  const reporters = h('ul', { class: 'reporters', 'aria-label': 'Reports' });

  // about is the line that names the target: the buttons and the reason
  // field of the card are described by it.
  let subject;
  if (t.type === 'message' && t.message) {
    const m = t.message;
    const text = nextId('text');
    subject = h('div', { class: 'subject' },
      h('p', { class: 'label' }, 'Reported message'),
      h('blockquote', { class: 'message', id: text }, m.text || (m.attachment ? '(a file without text)' : '(no text)')),
      h('p', { class: 'meta', id: about }, 'Sent by ', person(t.userId || m.senderId), ' in conversation ',
        h('span', { class: 'id' }, t.conversationId || m.conversationId), m.createdAt ? ` · ${when(m.createdAt)}` : ''));
  } else {
    const u = t.user || { id: t.userId, name: '' };
    subject = h('div', { class: 'subject' },
      h('p', { class: 'label' }, 'Reported user'),
      h('p', { class: 'user-name', id: about }, h('span', { class: 'name' }, u.name), ' ', h('span', { class: 'id' }, `(${u.id || t.userId})`)));
  }
  const reason = reasonField(about);

  const resolve = (action) => act(card, async () => {
    const body = { action };
    const why = reason.input.value.trim();
    if (why) body.reason = why;
    const id = [...entry.ids][0];
    try {
      await api('POST', `/moderation/reports/${encodeURIComponent(id)}/resolve`, body);
      removeReports([...entry.ids], { focus: true });
      say(`Report resolved: ${ACTIONS[action]}.`);
    } catch (err) {
      sayError(err, 'The report was not resolved');
      if (err.code === 'conflict' || err.code === 'report.not_found') removeReports([id], { focus: true });
    }
  });

  append(card, [
    h('div', { class: 'card-head' }, h('span', { class: 'kind' }, t.type === 'message' ? 'Message' : 'User'), count),
    subject,
    reporters,
    reason.el,
    h('div', { class: 'actions' },
      button('Dismiss', 'secondary', about, () => resolve('dismiss')),
      t.type === 'message' ? button('Delete message', '', `${about} ${subject.querySelector('blockquote').id}`, () => resolve('delete_message')) : null,
      t.userId ? button('Silence', 'warn needs-manage', about, () => resolve('silence')) : null,
      t.userId ? button('Ban', 'danger needs-manage', about, () => resolve('ban')) : null)]);
  const entry = { card, count, reporters, ids: new Set() };
  queue.cards.set(key, entry);
  return entry;
}

function setCount(el, n) {
  el.textContent = n === 1 ? '1 open report' : `${n} open reports`;
}

// queueChanged updates the empty note, Load more and the tab's badge; when
// the last card went away and more reports may exist, it loads the queue
// again from the start, so a cleared page is never mistaken for a clear
// queue.
function queueChanged() {
  const n = queue.cards.size;
  $('reports-empty').hidden = n > 0 || queue.more;
  $('reports-more').hidden = !queue.more;
  $('reports-count').textContent = (n ? String(n) : '') + (queue.more ? '+' : '');
  if (n === 0 && queue.more && !queue.auto && sections.reports.loaded) {
    queue.auto = true;
    sections.reports.refresh().finally(() => { queue.auto = false; });
  }
}

// addReports puts reports on their target's card, made when needed.
function addReports(list, { fresh } = {}) {
  const ul = $('reports-list');
  for (const r of list) {
    if (queue.ids.has(r.id)) continue;
    const key = targetKey(r);
    let entry = queue.cards.get(key);
    if (!entry) {
      entry = reportCard(r);
      ul.append(entry.card);
    }
    queue.ids.set(r.id, key);
    // A live report beyond the loaded pages is not where the next page starts.
    if (!fresh || !queue.more) queue.order.push(r.id);
    entry.ids.add(r.id);
    entry.reporters.append(reporterLine(r));
    setCount(entry.count, Math.max(r.openReports || 0, entry.ids.size));
    if (fresh) entry.card.classList.add('fresh');
  }
  fillNames();
  queueChanged();
}

function removeReports(ids, { focus } = {}) {
  for (const id of ids) {
    const key = queue.ids.get(id);
    queue.ids.delete(id);
    const entry = key && queue.cards.get(key);
    if (!entry) continue;
    entry.ids.delete(id);
    for (const li of entry.reporters.querySelectorAll('li[data-report]')) {
      if (li.dataset.report === id) li.remove();
    }
    if (entry.ids.size === 0) {
      removeCard(entry.card, 'reports-title', focus);
      queue.cards.delete(key);
    } else {
      setCount(entry.count, entry.ids.size);
    }
  }
  queueChanged();
}

// lastShown is the id of the last loaded report still open on the page:
// the one the next page starts after.
function lastShown() {
  for (let i = queue.order.length - 1; i >= 0; i--) {
    if (queue.ids.has(queue.order[i])) return queue.order[i];
  }
  return '';
}

// Loads of the queue run one after another: a Load more never mixes with
// a reload from the start.
let queueLoads = Promise.resolve();
function loadReports(s, more) {
  const run = queueLoads.then(() => loadReportsNow(s, more));
  queueLoads = run.catch(() => {});
  return run;
}

async function loadReportsNow(s, more) {
  const q = new URLSearchParams({ status: 'open', limit: String(PAGE) });
  const after = more ? lastShown() : '';
  // Nothing loaded is left on the page (all resolved): start over.
  if (more && !after) return loadReportsNow(s, false);
  if (after) q.set('startingAfter', after);
  let out;
  try {
    out = await api('GET', `/moderation/reports?${q}`);
  } catch (err) {
    // The report paged after was resolved meanwhile: start over.
    if (after && pageGone(err)) return loadReportsNow(s, false);
    throw err;
  }
  s.allowed();
  if (!after) {
    $('reports-list').replaceChildren();
    queue.ids.clear();
    queue.cards.clear();
    queue.order = [];
    $('reports-live').textContent = '';
  }
  const data = out.data || [];
  queue.more = data.length === PAGE;
  addReports(data);
}

// A live report.created joins its target's card, or makes one at the end
// of the queue (oldest first) when the whole queue is on the page.
function reportCreated(r) {
  const s = sections.reports;
  if (!s.loaded || !r || r.status !== 'open') return;
  if (queue.more && !queue.cards.has(targetKey(r))) {
    $('reports-live').textContent = 'A new report arrived: it is further down the queue (Load more).';
    return;
  }
  addReports([r], { fresh: true });
  $('reports-live').replaceChildren();
  append($('reports-live'), ['A new report arrived: ', REASONS[r.reason] || r.reason, '.']);
}

// ---- Users --------------------------------------------------------------

const search = { q: '', page: 1 };

function moderationLine(u) {
  const m = u.moderation;
  if (!m) return null;
  return h('p', { class: 'meta' },
    u.moderationState === 'banned' ? 'Banned' : 'Silenced', ' by ', actor(m.by), ` since ${when(m.since)}`,
    m.expiresAt ? ` until ${when(m.expiresAt)}` : ', no expiry',
    m.reason ? h('span', { class: 'reason-text' }, ' · Reason: ', m.reason) : null);
}

const DONE = { ban: 'is banned', silence: 'is silenced', reactivate: 'is reactivated' };

// who is a user's name (or id) for a status sentence, as its own item.
const who = (u) => h('span', { class: 'name' }, u.name || u.id);

// userCard shows a search result. An action updates this card in place
// (the user is fetched again), so the results around it, page 2 and
// beyond included, stay where they are.
function userCard(u) {
  const about = nextId('about');
  const reason = reasonField(about, 'needs-manage');
  const card = h('li', { class: 'card user', 'data-user': u.id, tabindex: '-1', 'aria-labelledby': about });
  const run = (action, body) => act(card, async () => {
    try {
      await api('POST', `/users/${encodeURIComponent(u.id)}/${action}`, body);
    } catch (err) {
      sayError(err, [`Could not ${action} `, who(u)]);
      return;
    }
    say([who(u), ` ${DONE[action]}.`]);
    sections.restricted.loaded = false;
    sections.audit.loaded = false;
    try {
      const fresh = await api('GET', `/users/${encodeURIComponent(u.id)}`);
      if (!card.isConnected) return;
      const next = userCard(fresh);
      const focus = card.contains(document.activeElement) || document.activeElement === document.body;
      card.replaceWith(next);
      if (focus) next.focus();
    } catch (err) {
      sayError(err, ['Could not show ', who(u), ' again']);
    }
  });
  const restrict = (action) => () => {
    const why = reason.input.value.trim();
    return run(action, why ? { reason: why } : {});
  };
  // moderationState is shown only to holders of users.manage.
  const known = typeof u.moderationState === 'string';
  const state = u.moderationState || '';
  append(card, [
    h('div', { class: 'card-head' },
      h('span', { class: 'user-name', id: about }, h('span', { class: 'name' }, u.name), ' ', h('span', { class: 'id' }, `(${u.id})`)),
      known ? stateBadge(state) : null),
    u.role ? h('p', { class: 'meta' }, 'Role: ', u.role) : null,
    moderationLine(u),
    reason.el,
    h('div', { class: 'actions needs-manage' },
      button('Silence', 'warn', about, restrict('silence'), known && state !== ''),
      button('Ban', 'danger', about, restrict('ban'), known && state === 'banned'),
      button('Reactivate', 'secondary', about, () => run('reactivate', {}), known && state === '')),
  ]);
  return card;
}

async function loadUsers(s, more) {
  const q = search.q;
  if (!more) search.page = 1;
  if (q === '') {
    $('users-list').replaceChildren();
    $('users-empty').hidden = true;
    $('users-more').hidden = true;
    return;
  }
  const params = new URLSearchParams({ q, page: String(search.page) });
  const out = await api('GET', `/users/search?${params}`);
  s.allowed();
  const cards = (out.results || []).map((u) => userCard(u));
  if (more) $('users-list').append(...cards);
  else $('users-list').replaceChildren(...cards);
  $('users-empty').hidden = $('users-list').children.length > 0;
  $('users-more').hidden = Boolean(out.isLastPage);
}

// ---- Restricted ---------------------------------------------------------

const restricted = { more: false };

// lastCard is the id (data-<key>) of a list's last card: the one the next
// page starts after.
function lastCard(list, key) {
  const li = $(list).lastElementChild;
  return li ? li.dataset[key] || '' : '';
}

async function loadRestricted(s, more) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  const state = $('restricted-state').value;
  if (state) q.set('state', state);
  const after = more ? lastCard('restricted-list', 'user') : '';
  if (after) q.set('startingAfter', after);
  let out;
  try {
    out = await api('GET', `/moderation/users?${q}`);
  } catch (err) {
    // The user paged after was reactivated meanwhile: start over.
    if (after && pageGone(err)) return loadRestricted(s, false);
    throw err;
  }
  s.allowed();
  const data = out.data || [];
  const cards = data.map((u) => {
    const about = nextId('about');
    const card = h('li', { class: 'card user', 'data-user': u.id, tabindex: '-1', 'aria-labelledby': about });
    append(card, [
      h('div', { class: 'card-head' },
        h('span', { class: 'user-name', id: about }, h('span', { class: 'name' }, u.name), ' ', h('span', { class: 'id' }, `(${u.id})`)),
        stateBadge(u.moderationState)),
      moderationLine(u),
      h('div', { class: 'actions' },
        button('Reactivate', 'secondary needs-manage', about, () => act(card, async () => {
          try {
            await api('POST', `/users/${encodeURIComponent(u.id)}/reactivate`, {});
          } catch (err) {
            sayError(err, ['Could not reactivate ', who(u)]);
            return;
          }
          say([who(u), ' is reactivated.']);
          sections.audit.loaded = false;
          restrictedRemove(card);
        }))),
    ]);
    return card;
  });
  if (after) $('restricted-list').append(...cards);
  else $('restricted-list').replaceChildren(...cards);
  restricted.more = data.length === PAGE;
  fillNames();
  restrictedChanged(s);
}

function restrictedRemove(card) {
  removeCard(card, 'restricted-title', true);
  restrictedChanged(sections.restricted);
}

// When the last card went and more may exist, the list loads again.
function restrictedChanged(s) {
  const n = $('restricted-list').children.length;
  $('restricted-empty').hidden = n > 0 || restricted.more;
  $('restricted-more').hidden = !restricted.more;
  if (n === 0 && restricted.more) {
    restricted.more = false;
    s.refresh();
  }
}

// ---- Audit log ----------------------------------------------------------

const AUDIT = {
  ban: 'Ban', silence: 'Silence', reactivate: 'Reactivate', 'participant.remove': 'Removed from a conversation',
  'participant.update': 'Access changed', 'message.delete': 'Message deleted', block: 'Block', unblock: 'Unblock',
  erase: 'Erasure', 'report.resolve': 'Report resolved',
};

async function loadAudit(s, more) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  const after = more ? lastCard('audit-list', 'entry') : '';
  if (after) q.set('startingAfter', after);
  let out;
  try {
    out = await api('GET', `/moderation/log?${q}`);
  } catch (err) {
    if (after && pageGone(err)) return loadAudit(s, false);
    throw err;
  }
  s.allowed();
  const data = out.data || [];
  const items = data.map((e) => h('li', { class: 'entry', 'data-entry': e.id },
    h('div', { class: 'card-head' },
      h('span', { class: 'badge' }, AUDIT[e.action] || e.action),
      h('time', { class: 'muted', datetime: new Date(e.createdAt).toISOString() }, when(e.createdAt))),
    h('p', { class: 'meta' }, 'By ', actor(e.actor),
      e.userId ? [' · User ', person(e.userId)] : null,
      e.targetUserId ? [' · Other user ', person(e.targetUserId)] : null),
    e.conversationId || e.messageId ? h('p', { class: 'meta' },
      e.conversationId ? ['Conversation ', h('span', { class: 'id' }, e.conversationId)] : null,
      e.messageId ? [e.conversationId ? ' · ' : '', 'Message ', h('span', { class: 'id' }, e.messageId)] : null) : null,
    e.reason || e.expiresAt ? h('p', { class: 'meta' },
      e.reason ? ['Reason: ', e.reason] : null,
      e.expiresAt ? [e.reason ? ' · ' : '', `Until ${when(e.expiresAt)}`] : null) : null));
  if (after) $('audit-list').append(...items);
  else $('audit-list').replaceChildren(...items);
  fillNames();
  $('audit-empty').hidden = $('audit-list').children.length > 0;
  $('audit-more').hidden = data.length < PAGE;
}

// ---- Live events --------------------------------------------------------

function setLive(text, kind) {
  $('live').textContent = text;
  $('live').className = `live ${kind}`;
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

// stream keeps a long poll of /me/events running: report.created adds to
// the queue, report.resolved takes away. Errors retry with a growing
// pause; a 401 or 403 stops it (api has ended the session on 401 and
// auth.denied).
async function stream(ctrl, cursor) {
  let pause = 1000;
  while (!ctrl.signal.aborted) {
    try {
      const q = cursor ? `?since=${encodeURIComponent(cursor)}&wait=25` : '';
      const out = await api('GET', `/events${q}`, undefined, ctrl.signal);
      if (ctrl.signal.aborted) return;
      setLive('Live', 'on');
      pause = 1000;
      if (cursor) for (const e of out.data || []) event(e);
      cursor = out.cursor;
    } catch (err) {
      if (ctrl.signal.aborted || ended(err)) return;
      if (err.status === 403) {
        setLive('Not live', 'off');
        return;
      }
      if (err.status === 410) {
        // Too far behind: start over from now and reload the queue.
        cursor = '';
        sections.reports.refresh();
        continue;
      }
      setLive('Reconnecting…', 'off');
      await sleep(pause, ctrl.signal);
      pause = Math.min(pause * 2, 30000);
    }
  }
}

function event(e) {
  if (e.type === 'report.created') reportCreated(e.data && e.data.report);
  else if (e.type === 'report.resolved') removeReports((e.data && e.data.reportIds) || []);
}

// ---- Start --------------------------------------------------------------

async function start() {
  takeLink();
  session = loadSession();
  if (!session) {
    showGate('none');
    return;
  }
  $('gate').hidden = true;
  let me;
  try {
    me = await api('GET', '');
  } catch (err) {
    if (!session) return;
    if (err.status === 0 || err.status >= 500 || err.status === 429) {
      // Not the link's fault: keep it, so a reload tries again.
      showGate('unreachable', err.message);
      return;
    }
    endSession('failed', `${err.message}${err.code ? ` (${err.code})` : ''}`);
    return;
  }
  const u = me.user;
  names.set(u.id, u.name);
  $('who').replaceChildren(h('span', { class: 'name' }, u.name), ' ', h('span', { class: 'id' }, `(${u.id})`));
  $('session').hidden = false;
  $('app').hidden = false;
  document.title = `Parley moderation · ${isolated(u.name)}`;

  // The stream's cursor comes first, then the queue: a report made in
  // between arrives as an event, and duplicates are dropped by id.
  const ctrl = new AbortController();
  poller = ctrl;
  let cursor = '';
  try {
    cursor = (await api('GET', '/events', undefined, ctrl.signal)).cursor;
    setLive('Live', 'on');
  } catch (err) {
    if (ended(err)) return;
    setLive('Reconnecting…', 'off');
  }
  stream(ctrl, cursor);
  await probe();
  let first = sessionStorage.getItem(`${STORE}.tab`) || 'reports';
  if (first === 'reports' && !perms.reports) first = 'users';
  showTab(first);
}

section('reports', (s) => loadReports(s, false));
section('users', (s) => loadUsers(s, false));
section('restricted', (s) => loadRestricted(s, false));
section('audit', (s) => loadAudit(s, false));

for (const b of document.querySelectorAll('nav.tabs button')) {
  b.addEventListener('click', () => showTab(b.dataset.tab));
}

const more = (name, load) => async () => {
  try {
    await load(sections[name], true);
  } catch (err) {
    sayError(err, 'Could not load more');
  }
};
$('reports-more').addEventListener('click', more('reports', loadReports));
$('users-more').addEventListener('click', () => { search.page++; more('users', loadUsers)(); });
$('restricted-more').addEventListener('click', more('restricted', loadRestricted));
$('audit-more').addEventListener('click', more('audit', loadAudit));
$('reports-refresh').addEventListener('click', () => sections.reports.refresh());
$('restricted-refresh').addEventListener('click', () => sections.restricted.refresh());
$('restricted-state').addEventListener('change', () => sections.restricted.refresh());
$('audit-refresh').addEventListener('click', () => sections.audit.refresh());
$('users-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  search.q = $('users-q').value.trim();
  sections.users.refresh();
});
$('signout').addEventListener('click', () => {
  endSession('signedout');
  $('gate-title').focus();
});

// A console link opened in a tab already on the console changes only the
// fragment: take it and start over with it.
window.addEventListener('hashchange', () => {
  if (!new URLSearchParams(location.hash.slice(1)).has('token')) return;
  generation++;
  if (poller) poller.abort();
  sessionStorage.clear();
  takeLink();
  location.reload();
});

start().catch((err) => say(`The console failed to start: ${err.message}`, 'error'));
