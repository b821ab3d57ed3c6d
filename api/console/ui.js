// The console's helpers for the page: making elements from text (never
// from HTML), the status bar, names and dates, and the parts every card
// shares (reason field, buttons, removal, actions under way).

import { api, ended } from './session.js';
import { recheck } from './sections.js';

export const $ = (id) => document.getElementById(id);

// h makes an element: attrs are set with setAttribute (class, id, for,
// aria-*, data-*, type) or as properties when they start with "on" (event
// handlers, functions only); children are nodes or strings (text).
export function h(tag, attrs, ...children) {
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

export function append(el, children) {
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
export const isolated = (text) => `\u2068${text}\u2069`;

// ---- Status -----------------------------------------------------------

let statusTimer = 0;

// say shows a status in the bar that stays at the top of the window
// (sticky), wherever the moderator has scrolled to. text is a string or a
// list of strings and nodes (values from the API go in as their own items,
// so each is isolated).
export function say(text, kind) {
  const el = $('status');
  clearTimeout(statusTimer);
  el.replaceChildren();
  append(el, [text]);
  const empty = !el.textContent;
  el.className = `status${kind ? ` ${kind}` : ''}`;
  el.hidden = empty;
  if (!empty && kind !== 'error') statusTimer = setTimeout(() => { el.hidden = true; el.replaceChildren(); }, 8000);
}

export function sayError(err, what) {
  if (ended(err)) return;
  say([...[what].flat(), ': ', err.message, err.code ? ` (${err.code})` : ''], 'error');
  if (err.code === 'permission.denied') recheck();
}

// ---- Formatting ---------------------------------------------------------

export const when = (ms) => (ms ? new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '');



// Names of users by id, looked up through /me/users?ids= and filled in
// where a span waits for them.
export const names = new Map();
const waiting = new Map();

export function person(id) {
  if (!id) return h('span', { class: 'person' }, 'the system');
  const name = h('span', { class: 'name' }, names.get(id) ?? '');
  const el = h('span', { class: 'person' }, name, ' ', h('span', { class: 'id' }, `(${id})`));
  if (!names.has(id)) {
    if (!waiting.has(id)) waiting.set(id, []);
    waiting.get(id).push(name);
  }
  return el;
}

export async function fillNames() {
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
export function actor(a) {
  if (typeof a === 'string' && a.startsWith('user:')) return person(a.slice(5));
  if (a === 'cli') return h('span', { class: 'person' }, 'the command line');
  if (typeof a === 'string' && a.startsWith('key:')) return h('span', { class: 'person' }, 'the backend ', h('span', { class: 'id' }, `(${a})`));
  return h('span', { class: 'person' }, a || '');
}

export function stateBadge(state) {
  const label = state === 'banned' ? 'Banned' : state === 'silenced' ? 'Silenced' : 'Active';
  return h('span', { class: `badge state-${state || 'active'}` }, label);
}

// Ids for the elements of a card, unique on the page.
let fieldSeq = 0;
export const nextId = (prefix) => `${prefix}-${++fieldSeq}`;

// A reason input with its label, unique per card; about names the
// element(s) that say what the card is about (aria-describedby), so that
// every card's "Reason (optional)" says whose reason it is.
export function reasonField(about, cls) {
  const id = nextId('reason');
  const input = h('input', { type: 'text', id, maxlength: '1024', autocomplete: 'off', 'aria-describedby': about });
  return { input, el: h('div', { class: cls ? `reason ${cls}` : 'reason' }, h('label', { for: id }, 'Reason (optional)'), input) };
}

// button makes an action button whose accessible description is what its
// card is about: the visible label stays "Ban", a screen reader hears
// "Ban, Sam Spammer (sam)".
export function button(label, cls, about, onclick, disabled) {
  return h('button', { type: 'button', class: cls, 'aria-describedby': about, onclick, disabled }, label);
}

// removeCard takes a card out of its list. When the keyboard focus was in
// it, or an action of the card is under way (its buttons are disabled, so
// the focus may have left them already; the event stream may tell of the
// resolution before the action's own answer), the focus moves to the next
// card, else the one before, else the list's heading, instead of falling
// to the page's body.
export function removeCard(card, heading, focus) {
  const had = focus || acting.has(card) || card.contains(document.activeElement);
  const next = card.nextElementSibling || card.previousElementSibling;
  card.remove();
  if (!had) return;
  if (next) next.focus();
  else $(heading).focus();
}

// act runs an action from a card's buttons: they are disabled meanwhile.
const acting = new WeakSet();
export async function act(card, run) {
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
