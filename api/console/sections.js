// The console's sections (Reports, Users, Restricted, Audit log), which
// load when first shown, and what the moderator's role allows in them.

import { $, sayError } from './ui.js';
import { STORE, api, session } from './session.js';

// ---- Sections -----------------------------------------------------------

export const sections = {};

// A section loads lazily when first shown; denied shows a 403
// permission.denied as a sentence instead of the list.
export function section(name, load) {
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
// messages.moderate, which rules no list, is read from GET /me's
// permissions (without it Delete message is hidden).
export const perms = { reports: true, users: true, messages: true };

async function allows(path) {
  try {
    await api('GET', path);
    return true;
  } catch (err) {
    if (err.code === 'permission.denied') return false;
    return true;
  }
}

async function grants(perm) {
  try {
    const me = await api('GET', '');
    return !Array.isArray(me.permissions) || me.permissions.includes(perm);
  } catch {
    return true;
  }
}

export async function probe() {
  const [reports, users, messages] = await Promise.all([
    allows('/moderation/reports?status=open&limit=1'), allows('/moderation/users?limit=1'),
    grants('messages.moderate')]);
  perms.reports = reports;
  perms.users = users;
  perms.messages = messages;
  $('app').classList.toggle('no-manage', !users);
  $('app').classList.toggle('no-review', !reports);
  $('app').classList.toggle('no-delete', !messages);
}

// recheck follows an action refused with 403 permission.denied: the role
// may have changed while the page was open, so the console asks again
// what it may do and, when that changed, reloads the sections rather than
// leaving buttons that look as if they worked. (The same 403 also refuses
// acting on a manager: then nothing changed and nothing is reloaded.)
let rechecking = null;
export function recheck() {
  if (rechecking || !session) return rechecking;
  rechecking = (async () => {
    try {
      const before = `${perms.reports} ${perms.users} ${perms.messages}`;
      await probe();
      if (`${perms.reports} ${perms.users} ${perms.messages}` === before) return;
      for (const s of Object.values(sections)) s.loaded = false;
      const current = Object.values(sections).find((s) => !s.el.hidden);
      if (current) await current.refresh();
    } finally {
      rechecking = null;
    }
  })();
  return rechecking;
}

export function showTab(name) {
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
