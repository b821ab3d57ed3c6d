// The event stream that keeps the report queue live, and the start of
// the console once the page has loaded.

import { $, h, isolated, names } from './ui.js';
import { STORE, api, ended, session, openSession, setPoller, endSession, showGate } from './session.js';
import { sections, perms, probe, showTab } from './sections.js';
import { reportCreated, removeReports } from './reports.js';

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

export async function start() {
  if (!openSession()) {
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
  setPoller(ctrl);
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
