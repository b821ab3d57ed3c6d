// The report queue: one card per reported message or user, kept current
// by the event stream (see live.js).

import { $, h, append, say, sayError, when, person, fillNames, nextId, reasonField, button, removeCard, act } from './ui.js';
import { PAGE, api, pageGone } from './session.js';
import { sections } from './sections.js';

const REASONS = {
  spam: 'Spam', harassment: 'Harassment', hate: 'Hate', sexual: 'Sexual content', violence: 'Violence', other: 'Other',
};
const ACTIONS = {
  dismiss: 'dismissed', delete_message: 'message deleted', silence: 'user silenced', ban: 'user banned',
};

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
      t.type === 'message' ? button('Delete message', 'needs-delete', `${about} ${subject.querySelector('blockquote').id}`, () => resolve('delete_message')) : null,
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

export function removeReports(ids, { focus } = {}) {
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
export function loadReports(s, more) {
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
export function reportCreated(r) {
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
