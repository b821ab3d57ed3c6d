// The Parley moderation console: a moderator's page, signed in by a console
// link, that works the /v1/{app}/me routes of the server that serves it.
//
// Every value from the API is put into the page as text (createTextNode
// inside a <bdi>) or as the value of a harmless attribute: the page's
// Content-Security-Policy requires Trusted Types with no policy, so any
// string given to innerHTML would throw anyway. The <bdi> isolates each
// string's direction: a right-to-left override (U+202E) in a name, a note
// or a message reverses nothing outside that string.
//
// This is the module the page loads: it wires the page's controls to the
// others. session.js holds the token and calls the API; ui.js makes the
// elements (h, append) and the parts cards share; sections.js shows the
// sections and learns what the role allows; reports.js, users.js (with the
// restricted users and the audit log) fill them; live.js follows the event
// stream and starts the console. Only this module runs code as it loads;
// the others only declare, so they may import one another (ui.js and
// session.js do) in any order.

import { $, say, sayError } from './ui.js';
import { endSession, switchLink } from './session.js';
import { sections, section, showTab } from './sections.js';
import { loadReports } from './reports.js';
import { search, loadUsers, loadRestricted, loadAudit } from './users.js';
import { start } from './live.js';

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
  switchLink();
});

start().catch((err) => say(`The console failed to start: ${err.message}`, 'error'));
