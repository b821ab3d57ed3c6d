// The user search, the list of restricted users and the audit log.

import { $, h, append, say, sayError, when, person, fillNames, actor, stateBadge, nextId, reasonField, button, removeCard, act } from './ui.js';
import { PAGE, api, pageGone } from './session.js';
import { sections } from './sections.js';

// ---- Users --------------------------------------------------------------

export const search = { q: '', page: 1 };

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

export async function loadUsers(s, more) {
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

export async function loadRestricted(s, more) {
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

export async function loadAudit(s, more) {
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
