// The moderation console in a real browser: launched by
// api/console_browser_test.go, which seeds the server and passes what the
// script needs in PARLEY_* environment variables. Exits non-zero on the
// first failed check; screenshots go to PARLEY_ARTIFACTS.

import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this script through go test -run TestConsoleBrowser ./api`);
  return v;
};

const URL_ = env('PARLEY_CONSOLE_URL');
const EXPIRED = env('PARLEY_EXPIRED_URL');
const SERVER = env('PARLEY_SERVER');
const ARTIFACTS = env('PARLEY_ARTIFACTS');
const SCRIPT_TEXT = env('PARLEY_SCRIPT_TEXT');
const IMG_NAME = env('PARLEY_IMG_NAME');
const LIVE_TEXT = env('PARLEY_LIVE_TEXT');
const MODERATOR = env('PARLEY_MODERATOR');
mkdirSync(ARTIFACTS, { recursive: true });
rmSync(join(ARTIFACTS, 'failure.png'), { force: true });

const SECTIONS = [['reports', 'Reports'], ['users', 'Users'], ['restricted', 'Restricted'], ['audit', 'Audit log']];

let step = 'start';
const log = (msg) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${msg}`);
function check(ok, msg) {
  if (!ok) throw new Error(`check failed: ${msg}`);
  log(`ok: ${msg}`);
}

const profile = mkdtempSync(join(tmpdir(), 'parley-console-chromium-'));
// A fresh profile (playwright-core passes it as --user-data-dir).
const context = await chromium.launchPersistentContext(profile, {
  executablePath: env('PARLEY_CHROMIUM'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 860 },
  deviceScaleFactor: 1,
});

// Everything the browser complains about, with the step it happened in.
const problems = [];
const dialogs = [];
let allowed = () => false; // console errors a step expects (the expired link's 401)

let exitCode = 0;
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = `${m.text()} ${m.location()?.url || ''}`;
    if (allowed(text)) log(`expected console error in ${step}: ${text}`);
    else problems.push(`console error in ${step}: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`page error in ${step}: ${err.message}`));
  page.on('dialog', async (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss();
  });
  // No request may leave for another host.
  page.on('request', (r) => {
    if (!r.url().startsWith(SERVER) && !r.url().startsWith('data:')) problems.push(`request to another host in ${step}: ${r.url()}`);
  });

  const shot = async (name, fullPage = true) => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
  };
  const tab = (label) => page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: label });
  const reportCard = (text) => page.locator('#reports-list > li').filter({ hasText: text });

  step = 'sign-in';
  await page.goto(URL_);
  await page.locator('#who').getByText(MODERATOR).waitFor();
  check(!page.url().includes('token') && !page.url().includes('#'), `the token left the address bar (${page.url()})`);
  await page.locator('#reports-list > li').first().waitFor();
  const stored = await page.evaluate(() => sessionStorage.getItem('parley.console'));
  check(stored && stored.includes('"token"'), 'the token is in session storage');

  step = 'reload';
  await page.reload();
  await page.locator('#who').getByText(MODERATOR).waitFor();
  await page.locator('#reports-list > li').first().waitFor();
  check(true, 'a reload keeps the moderator signed in');

  step = 'hostile strings';
  const scriptCard = reportCard(SCRIPT_TEXT);
  await scriptCard.waitFor();
  check(await scriptCard.locator('blockquote').textContent() === SCRIPT_TEXT, 'the message <script> shows as its literal text');
  await page.locator('#reports-list').getByText(IMG_NAME, { exact: true }).first().waitFor();
  check(true, 'the user name <img onerror> shows as its literal text');
  const injected = await page.evaluate(() => ({
    scripts: document.querySelectorAll('main script, header script').length,
    images: document.querySelectorAll('img').length,
  }));
  check(injected.scripts === 0 && injected.images === 0, `no script or img element came from the data (${JSON.stringify(injected)})`);
  check(await page.locator('#reports-list > li').count() === 3, 'the queue holds the 3 open reports');
  check(await page.locator('#reports-list').getByRole('button', { name: 'Ban' }).count() === 3,
    'a moderator with users.manage sees Ban on every report card');
  check(await reportCard('buynowbuynow').locator('.count-badge').textContent() === '2 open reports',
    'a message reported twice shows 2 open reports');
  await shot('desktop-reports');

  step = 'live report';
  await page.evaluate(() => { window.parleyNoReload = true; });
  const res = await fetch(SERVER + env('PARLEY_LIVE_REPORT_PATH'), {
    method: 'POST',
    headers: { Authorization: `Bearer ${env('PARLEY_LIVE_REPORT_TOKEN')}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ reason: 'violence', note: 'A threat, reported while the console is open' }),
  });
  check(res.ok, `bob reports a message while the console is open (${res.status})`);
  await reportCard(LIVE_TEXT).waitFor({ timeout: 30000 });
  check(await page.evaluate(() => window.parleyNoReload === true), 'the new report appeared without a reload');
  check(await page.locator('#reports-list > li').count() === 4, 'the queue holds 4 reports');

  // The README's picture: the queue at a modest size.
  await page.setViewportSize({ width: 820, height: 620 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(ARTIFACTS, 'console-queue.png') });
  await page.setViewportSize({ width: 1280, height: 860 });

  // The moderator's work is done in a phone-sized window.
  await page.setViewportSize({ width: 375, height: 740 });

  step = 'delete message';
  await scriptCard.getByRole('button', { name: 'Delete message' }).click();
  await scriptCard.waitFor({ state: 'detached' });
  await page.locator('#status').getByText('Report resolved: message deleted.').waitFor();
  check(await page.locator('#reports-list > li').count() === 3, 'Delete message took the report out of the queue');

  step = 'search and ban';
  await tab('Users').click();
  await page.getByLabel('Search users by name').fill(env('PARLEY_BAN_QUERY'));
  await page.getByLabel('Search users by name').press('Enter');
  const samCard = page.locator('#users-list > li').filter({ hasText: env('PARLEY_BAN_NAME') });
  await samCard.waitFor();
  check(await samCard.locator('.badge').textContent() === 'Active', 'the search shows the user as active');
  await samCard.getByRole('button', { name: 'Ban' }).click();
  await samCard.locator('.badge', { hasText: 'Banned' }).waitFor();
  check(true, 'Ban bans the user found with the search box');
  check(await samCard.getByRole('button', { name: 'Reactivate' }).isEnabled(), 'a banned user can be reactivated');
  await page.setViewportSize({ width: 1280, height: 860 });
  await shot('desktop-users');

  step = 'restricted';
  await tab('Restricted').click();
  await page.locator('#restricted-list > li').filter({ hasText: env('PARLEY_BAN_NAME') }).waitFor();
  check(true, 'the banned user is listed as restricted');
  await shot('desktop-restricted');

  step = 'audit';
  await tab('Audit log').click();
  await page.locator('#audit-list > li').first().waitFor();
  const first = await page.locator('#audit-list > li .badge').first().textContent();
  check(first === 'Ban', `the audit log is newest first (first entry: ${first})`);
  await page.locator('#audit-list').getByText('Report resolved').waitFor();
  await shot('desktop-audit');

  step = 'keyboard';
  await tab('Reports').focus();
  await page.keyboard.press('Enter');
  await page.locator('#reports').waitFor();
  const focusRing = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check(focusRing !== 'none', `the focused tab shows a focus ring (${focusRing})`);

  step = '375 px';
  await page.setViewportSize({ width: 375, height: 740 });
  for (const [id, label] of SECTIONS) {
    await tab(label).click();
    await page.locator(`#${id}`).waitFor();
    if (id === 'users') await page.locator('#users-list > li').first().waitFor();
    else await page.locator(`#${id} .cards > li, #${id} .log > li`).first().waitFor();
    const { scroll, inner } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
    }));
    check(scroll <= inner, `${label} at 375 px: scrollWidth ${scroll} <= innerWidth ${inner}`);
    await shot(`phone-${id}`);
  }

  step = 'sign out';
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
  check(await page.evaluate(() => sessionStorage.length) === 0, 'sign out clears session storage');
  await page.reload();
  await page.getByRole('heading', { name: 'Open the console with a console link' }).waitFor();
  check(await page.locator('#app').isHidden(), 'after sign out a reload shows the signed-out page');
  await shot('phone-signed-out');

  step = 'reviewer';
  // rex may review reports but not manage users: the sections that need
  // users.manage say so (their 403s are the console errors expected here).
  allowed = (text) => /status of 403/.test(text);
  await page.goto(env('PARLEY_REVIEWER_URL'));
  await page.locator('#who').getByText('Rex Reviewer').waitFor();
  await tab('Restricted').click();
  await page.locator('#restricted .denied').getByText('Your role does not allow this section').waitFor();
  check(await page.locator('#restricted-list').isHidden(), 'Restricted tells a reviewer their role does not allow it');
  await tab('Audit log').click();
  await page.locator('#audit .denied').getByText('Your role does not allow this section').waitFor();
  check(true, 'so does the audit log');
  await shot('phone-reviewer-audit-denied');
  await tab('Reports').click();
  await page.locator('#reports-list > li').first().waitFor();
  check(await page.locator('#reports-list > li').count() === 3, 'the reviewer works the same queue');
  check(await page.locator('#reports-list').getByRole('button', { name: 'Dismiss' }).count() === 3, 'the reviewer may Dismiss');
  for (const name of ['Silence', 'Ban']) {
    check(await page.locator('#reports-list').getByRole('button', { name }).count() === 0,
      `the reviewer (no users.manage) sees no ${name} on the report cards`);
  }
  check(await page.locator('#reports-list').getByRole('button', { name: 'Delete message' }).count() === 0,
    'the reviewer (no messages.moderate) sees no Delete message on the report cards');
  await shot('phone-reviewer-reports');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'You are signed out' }).waitFor();

  step = 'manager';
  // una may manage users but not review reports: the console opens on Users.
  await page.goto(env('PARLEY_MANAGER_URL'));
  await page.locator('#who').getByText('Una Manager').waitFor();
  await page.locator('#users').waitFor();
  check(await tab('Users').getAttribute('aria-current') === 'page', 'a users.manage-only moderator lands on the Users tab');
  check(await page.locator('#reports').isHidden(), 'and not on the report queue they may not review');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
  allowed = () => false;

  step = 'expired link';
  allowed = (text) => /status of 401/.test(text);
  await page.goto(EXPIRED);
  await page.getByRole('heading', { name: 'Your console link has expired: ask for a new one' }).waitFor();
  check(!page.url().includes('token'), 'the expired token left the address bar');
  check(await page.evaluate(() => sessionStorage.length) === 0, 'the expired token is dropped');
  check(await page.locator('#app').isHidden(), 'an expired link shows no broken console');
  await shot('phone-expired');
  allowed = () => false;

  step = 'paging: first page';
  // pat's app: 46 open reports (a user, then 45 messages), pages of 20,
  // cleared in a phone-sized window.
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto(env('PARLEY_PAGING_URL'));
  await page.locator('#who').getByText('Pat Pager').waitFor();
  const cards = page.locator('#reports-list > li');
  await cards.nth(19).waitFor();
  check(await cards.count() === 20, 'the first page shows 20 reports');
  check(await page.locator('#reports-count').textContent() === '20+', 'the tab says 20+');
  const statusError = () => page.evaluate(() => {
    const el = document.querySelector('#status.error');
    return el && !el.hidden ? el.textContent : '';
  });

  step = 'right-to-left override';
  const rtlCard = page.locator('#reports-list > li[data-target="u:rtl"]');
  await rtlCard.waitFor();
  const bidi = await rtlCard.locator('.user-name').evaluate((holder) => {
    // The text node holding U+202E, and the element that isolates it.
    const walker = document.createTreeWalker(holder, NodeFilter.SHOW_TEXT);
    let text = null;
    while (walker.nextNode()) if (walker.currentNode.data.includes('\u202e')) text = walker.currentNode;
    if (!text) return { error: 'no text node with U+202E' };
    let isolate = null;
    for (let el = text.parentElement; el && el !== holder; el = el.parentElement) {
      if (getComputedStyle(el).unicodeBidi === 'isolate') { isolate = el; break; }
    }
    const id = holder.querySelector('.id');
    // Where the browser drew "(" and ")" of "(rtl)": left to right unless reversed.
    const idText = [...id.childNodes].flatMap((n) => (n.nodeType === 3 ? [n] : [...n.childNodes])).find((n) => n.nodeType === 3);
    const at = (i) => {
      const r = document.createRange();
      r.setStart(idText, i);
      r.setEnd(idText, i + 1);
      return r.getBoundingClientRect().left;
    };
    return {
      tag: isolate ? isolate.tagName : '',
      idOutside: Boolean(isolate) && !isolate.contains(id),
      open: at(0),
      close: at(idText.data.length - 1),
      idText: idText.data,
    };
  });
  check(bidi.tag !== '' && bidi.idOutside,
    `the name with U+202E is isolated (${bidi.tag || bidi.error || 'no isolating element'}), the id after it is outside`);
  check(bidi.idText === '(rtl)' && bidi.open < bidi.close,
    `"(rtl)" after the name is drawn left to right ("(" at ${bidi.open}, ")" at ${bidi.close})`);
  await rtlCard.screenshot({ path: join(ARTIFACTS, 'rtl-name.png') });

  step = 'button context';
  const describe = (loc) => loc.evaluate((el) => (el.getAttribute('aria-describedby') || '').split(/\s+/)
    .map((id) => (id && document.getElementById(id) ? document.getElementById(id).textContent : '')).join(' ').trim());
  const rtlBan = await describe(rtlCard.getByRole('button', { name: 'Ban' }));
  check(rtlBan.includes('(rtl)'), `Ban on the reported user's card names that user (${rtlBan})`);
  check((await describe(rtlCard.getByLabel('Reason (optional)'))).includes('(rtl)'), 'so does its Reason (optional)');
  const spamCard = cards.filter({ hasText: 'Spam number 1' }).first();
  await spamCard.locator('.name', { hasText: 'Spam Bot' }).waitFor();
  const del = await describe(spamCard.getByRole('button', { name: 'Delete message' }));
  check(del.includes('Spam Bot') && del.includes('Spam number 1'), `Delete message names the sender and the message (${del})`);
  const unnamed = await page.locator('#reports-list button, #reports-list input').evaluateAll((els) => els
    .filter((el) => !(el.getAttribute('aria-describedby') || '').split(/\s+/).some((id) => id && document.getElementById(id)))
    .map((el) => el.textContent || el.id));
  check(unnamed.length === 0, `every button and field of the queue is described by its card (${unnamed.join(', ')})`);

  step = 'paging: resolve the last card of the page';
  const last = cards.nth(19);
  const lastKey = await last.getAttribute('data-target');
  await last.getByRole('button', { name: 'Dismiss' }).click();
  await page.locator(`#reports-list > li[data-target="${lastKey}"]`).waitFor({ state: 'detached' });
  await page.locator('#status').getByText('Report resolved: dismissed.').waitFor();
  const seen = await page.evaluate(() => {
    const r = document.getElementById('status').getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, inner: window.innerHeight, scrolled: window.scrollY };
  });
  check(seen.scrolled > 0 && seen.top >= 0 && seen.bottom <= seen.inner,
    `the status is in view where the moderator acted (scrolled ${seen.scrolled}, status at ${seen.top}-${seen.bottom} of ${seen.inner})`);
  check(await page.evaluate(() => document.activeElement.matches('#reports-list > li')),
    'the focus moved to a card, not to the page body');
  await shot('paging-dismissed-last');
  await page.getByRole('button', { name: 'Load more' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#reports-list > li').length === 39
    || document.querySelector('#status.error:not([hidden])'));
  check(await statusError() === '', 'Load more after a resolved last card shows no error');
  check(await cards.count() === 39, 'Load more shows the next 20 reports');

  step = 'paging: last card resolved by another moderator';
  const otherLast = cards.nth(38);
  const otherKey = await otherLast.getAttribute('data-target');
  const reportId = await otherLast.locator('li[data-report]').first().getAttribute('data-report');
  const resolved = await fetch(`${SERVER}/v1/${env('PARLEY_PAGING_APP')}/me/moderation/reports/${reportId}/resolve`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${env('PARLEY_PAGING_OTHER_TOKEN')}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ action: 'dismiss' }),
  });
  check(resolved.ok, `max resolves the last card on pat's page (${resolved.status})`);
  await page.locator(`#reports-list > li[data-target="${otherKey}"]`).waitFor({ state: 'detached', timeout: 30000 });
  await page.getByRole('button', { name: 'Load more' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#reports-list > li').length === 44
    || document.querySelector('#status.error:not([hidden])'));
  check(await statusError() === '', 'Load more after a report resolved elsewhere shows no error');
  check(await cards.count() === 44, 'the rest of the queue is on the page (44 open reports)');
  check(await page.locator('#reports-more').isHidden(), 'and Load more is gone');
  check(await page.locator('#reports-count').textContent() === '44', 'the tab counts 44');

  step = 'paging: clear the first page';
  await page.locator('#reports-refresh').click();
  await page.waitForFunction(() => document.querySelectorAll('#reports-list > li').length === 20);
  for (let i = 0; i < 20; i++) {
    const first = cards.first();
    const key = await first.getAttribute('data-target');
    const next = i < 19 ? await cards.nth(1).getAttribute('data-target') : '';
    await first.getByRole('button', { name: 'Dismiss' }).click();
    await page.locator(`#reports-list > li[data-target="${key}"]`).waitFor({ state: 'detached' });
    if (next) {
      const focused = await page.evaluate(() => document.activeElement.getAttribute('data-target'));
      check(focused === next, `after Dismiss ${i + 1} the focus is on the next card (${focused})`);
    }
  }
  // 44 - 20 = 24 remain: the page loads the next 20 by itself.
  await page.waitForFunction(() => document.querySelectorAll('#reports-list > li').length > 0
    || document.querySelector('#status.error:not([hidden])'), undefined, { timeout: 15000 });
  check(await statusError() === '', 'clearing the page shows no error');
  await page.waitForFunction(() => document.querySelectorAll('#reports-list > li').length === 20);
  check(true, 'a cleared page loads the next reports by itself');
  check(await page.locator('#reports-count').textContent() === '20+', 'the tab says 20+ again, not blank');
  check(await page.evaluate(() => document.activeElement.id === 'reports-title' || document.activeElement.matches('#reports-list > li')),
    'the focus is on the queue, not on the page body');
  await shot('paging-cleared');

  step = 'search page 2';
  await tab('Users').click();
  await page.getByLabel('Search users by name').fill('Fan');
  await page.getByLabel('Search users by name').press('Enter');
  const fans = page.locator('#users-list > li');
  await fans.nth(4).waitFor();
  check(await fans.count() === 5, 'the search shows its first page of 5');
  await page.getByRole('button', { name: 'More results' }).click();
  await fans.nth(7).waitFor();
  const firstFan = await fans.first().getAttribute('data-user');
  const target = fans.nth(6);
  const targetId = await target.getAttribute('data-user');
  await target.getByRole('button', { name: 'Ban' }).click();
  const banned = page.locator(`#users-list > li[data-user="${targetId}"]`);
  await banned.locator('.badge', { hasText: 'Banned' }).waitFor();
  check(await fans.count() === 8, 'banning a user on page 2 keeps all 8 results');
  check(await fans.first().getAttribute('data-user') === firstFan && await fans.nth(6).getAttribute('data-user') === targetId,
    'in the same order');
  check(await page.evaluate((id) => document.activeElement.dataset.user === id, targetId), 'the focus stays on the updated card');
  await shot('search-page-2');

  step = 'role taken away';
  // pat loses users.manage while the page is open: the next Silence is
  // refused, and the console takes the buttons away.
  allowed = (text) => /status of 403/.test(text);
  const patched = await fetch(`${SERVER}/v1/${env('PARLEY_PAGING_APP')}/settings`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${env('PARLEY_PAGING_SECRET')}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ roles: { moderator: ['reports.review'] } }),
  });
  check(patched.ok, `the backend takes users.manage from pat's role (${patched.status})`);
  await fans.first().getByRole('button', { name: 'Silence' }).click();
  await page.locator('#status.error').getByText('permission.denied').waitFor();
  await page.locator('#app.no-manage').waitFor({ state: 'attached' });
  await fans.first().waitFor();
  for (const name of ['Silence', 'Ban', 'Reactivate']) {
    check(await page.locator('#users-list').getByRole('button', { name }).count() === 0, `after the 403 no ${name} is left`);
  }
  await tab('Reports').click();
  await cards.first().waitFor();
  check(await page.locator('#reports-list').getByRole('button', { name: 'Ban' }).count() === 0, 'nor Ban on the report cards');
  await shot('role-taken-away');
  allowed = () => false;

  step = 'end';
  check(dialogs.length === 0, `no dialog fired (${dialogs.join('; ')})`);
  check(problems.length === 0, `the browser logged no errors${problems.length ? `:\n  ${problems.join('\n  ')}` : ''}`);
} catch (err) {
  exitCode = 1;
  console.error(`FAILED in step "${step}": ${err.stack || err}`);
  if (problems.length) console.error(`browser problems:\n  ${problems.join('\n  ')}`);
  if (dialogs.length) console.error(`dialogs: ${dialogs.join('; ')}`);
  try {
    const pages = context.pages();
    if (pages[0]) await pages[0].screenshot({ path: join(ARTIFACTS, 'failure.png'), fullPage: true });
  } catch {
    // no screenshot
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(exitCode);
