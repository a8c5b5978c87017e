// The web UI end to end in a real browser: Debian's Chromium driven by
// playwright-core, against a daemon on loopback with the Docker backend.
// e2e/web_test.go starts the daemon and runs this with:
//
//   WEB_URL    the web UI, e.g. http://127.0.0.1:41234/
//   IMAGE      the test agent's image
//   SESSION    the session name to create
//   ARTIFACTS  where screenshots go
//   NOT_A_REPO a directory that is not a git repository (the daemon refuses it)
//
// It prints one line per step and exits non-zero on the first failure. Waits
// are bounded only so a broken run ends; nothing is timed.
import { chromium } from 'playwright-core';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { WEB_URL, IMAGE, SESSION, ARTIFACTS, NOT_A_REPO } = process.env;
if (!WEB_URL || !IMAGE || !SESSION || !ARTIFACTS || !NOT_A_REPO) {
  console.error('set WEB_URL, IMAGE, SESSION, ARTIFACTS and NOT_A_REPO');
  process.exit(2);
}
const WAIT = 90_000;
await mkdir(ARTIFACTS, { recursive: true });
const profile = await mkdtemp(join(tmpdir(), 'clauderon-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
    '--disable-component-update', '--no-first-run', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
ctx.setDefaultTimeout(WAIT);
const consoleErrors = [];
const step = (s) => console.log(`step: ${s}`);
const shot = async (page, name) => {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  console.log(`screenshot: ${name}.png`);
};

/** termLines returns the terminal's rows as text. */
const termLines = (page) => page.$$eval('#terminal .xterm-rows > div', (rows) => rows.map((r) => (r.textContent || '').replace(/\u00a0/g, ' ').trimEnd()));
/** waitLine waits until a terminal row matches re (a row of its own, not the echoed input). */
const waitLine = async (page, re) => {
  await page.waitForFunction((src) => {
    const re = new RegExp(src);
    return [...document.querySelectorAll('#terminal .xterm-rows > div')].some((r) => re.test((r.textContent || '').replace(/\u00a0/g, ' ').trimEnd()));
  }, re.source, { timeout: WAIT });
};
const typeLine = async (page, text) => {
  await page.locator('#terminal .xterm-helper-textarea').focus();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
};

let failed = false;
try {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  // The daemon's refusal of the bad repository is a 400 the browser logs;
  // it is expected. Any other error in the console fails the test.
  const expected = /^Failed to load resource: the server responded with a status of 400/;
  page.on('console', (m) => { if (m.type() === 'error' && !expected.test(m.text())) consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  step('the list loads live');
  await page.goto(WEB_URL);
  await page.locator('#live.live').waitFor();
  await page.locator('h1', { hasText: 'Sessions' }).waitFor();
  await shot(page, '01-list-empty');

  step('the form shows validation errors in place');
  await page.click('a[data-nav=new]');
  await page.locator('#f-name').fill('Bad Name');
  await page.locator('#err-name', { hasText: 'lower-case' }).waitFor();
  await page.locator('#f-name').fill(SESSION);
  await page.locator('#f-image').fill(IMAGE);
  await page.locator('#f-repo').fill(NOT_A_REPO); // the daemon refuses it
  await page.locator('#f-allow').fill('registry.npmjs.org');
  await page.click('#create-submit');
  await page.locator('#err-repo', { hasText: 'not a git repository' }).waitFor();
  await shot(page, '02-create-error');

  step('create an interactive session from the form');
  await page.locator('#f-repo').fill('');
  await page.click('#create-submit');
  await page.waitForURL(new RegExp(`#/s/${SESSION}$`));
  await page.locator('#term-status', { hasText: 'attached' }).waitFor();

  step('type into the terminal and see the agent answer');
  await typeLine(page, '/echo browser-ok-4711');
  await waitLine(page, /^(> )?browser-ok-4711$/);
  await typeLine(page, '/size');
  await waitLine(page, /^(> )?size \d+x\d+$/);
  // The agent may start after the first line is typed: its prompt then
  // precedes the answer on the same row, hence the optional "> ".
  const size = (await termLines(page)).find((l) => /^(> )?size \d+x\d+$/.test(l))?.replace(/^> /, '');
  if (size === 'size 80x24') throw new Error('the terminal kept 80x24: the resize never reached the session');
  await typeLine(page, 'hello from the browser');
  await waitLine(page, /^(> )?fake-provider says: hello from the browser$/);
  step(`terminal ${size}`);

  step('the audit trail shows the request with the credential injected');
  await page.locator('#audit-rows tr', { hasText: 'api.anthropic.com' }).first().waitFor();
  await page.locator('#audit-rows tr', { hasText: 'injected' }).first().waitFor();
  await shot(page, '03-session-terminal');

  step('the allowed hosts typed in the form reached the daemon');
  await page.locator('.info dd', { hasText: 'registry.npmjs.org' }).waitFor();

  step('switch to read-only: the next POST to the provider is refused at once');
  await page.locator('#access-mode', { hasText: 'read-write' }).waitFor();
  await page.locator('#act-access', { hasText: 'Make read-only' }).click();
  await page.locator('#access-mode', { hasText: 'read-only' }).waitFor();
  await page.locator('#action-note', { hasText: 'is now read-only' }).waitFor();
  await typeLine(page, 'hello while read-only');
  await waitLine(page, /^(> )?error: /);
  await page.locator('#audit-rows tr.denied', { hasText: 'is read-only' }).first().waitFor();
  await shot(page, '03b-session-read-only');

  step('switch back to read-write: the provider answers again');
  await page.locator('#act-access', { hasText: 'Make read-write' }).click();
  await page.locator('#access-mode', { hasText: 'read-write' }).waitFor();
  await typeLine(page, 'hello after read-write');
  await waitLine(page, /^(> )?fake-provider says: hello after read-write$/);

  step('reconnect keeps the session');
  await page.click('#term-reconnect');
  await page.locator('#term-status', { hasText: 'attached' }).waitFor();
  await typeLine(page, '/echo after-reconnect-99');
  await waitLine(page, /^(> )?after-reconnect-99$/);

  step('archive it, unarchive it and start it again');
  await page.click('#act-archive');
  await page.locator('dialog#confirm[open]').waitFor();
  await page.click('#confirm-ok');
  await page.locator('.toolbar .badge', { hasText: 'archived' }).waitFor();
  await page.click('#act-unarchive');
  await page.locator('.toolbar .badge', { hasText: 'exited' }).waitFor();
  await page.click('#act-start');
  await page.locator('.toolbar .badge', { hasText: 'running' }).waitFor();
  await page.locator('#term-status', { hasText: 'attached' }).waitFor();
  await typeLine(page, '/echo after-start-7');
  await waitLine(page, /^(> )?after-start-7$/);

  step('the session is in the list, running');
  await page.click('a[data-nav=list]');
  const row = page.locator(`#session-list a.row[data-session="${SESSION}"]`);
  await row.locator('.badge', { hasText: 'running' }).waitFor();
  await page.locator('#filter').fill('no-such-session');
  await page.locator('#session-list', { hasText: 'No session matches' }).waitFor();
  await page.locator('#filter').fill(SESSION.slice(0, 4));
  await row.waitFor();

  step('reconcile from the list');
  await page.click('#reconcile');
  await page.locator('#reconcile-note', { hasText: 'All sessions match their containers.' }).waitFor();
  await shot(page, '04-list');

  step('on a phone-sized screen');
  const phone = await ctx.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(WEB_URL);
  await phone.locator(`#session-list a.row[data-session="${SESSION}"]`).waitFor();
  await shot(phone, '05-phone-list');
  await phone.locator(`#session-list a.row[data-session="${SESSION}"]`).click();
  await phone.locator('#term-status', { hasText: 'attached' }).waitFor();
  await typeLine(phone, '/echo from-the-phone');
  await waitLine(phone, /^(> )?from-the-phone$/);
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  if (width > 390) throw new Error(`the phone page scrolls sideways: ${width}px wide`);
  await shot(phone, '06-phone-terminal');
  await phone.close();

  step('mint a proxy token for a container started by hand');
  const hand = `${SESSION}-hand`;
  await page.click('a[data-nav=proxy-env]');
  await page.locator('#pe-name').fill(hand);
  await page.click('#pe-submit');
  await page.locator('#pe-once', { hasText: 'only time the token is shown' }).waitFor();
  const token = ((await page.locator('#pe-token').textContent()) ?? '').trim();
  const args = (await page.locator('#pe-args').textContent()) ?? '';
  if (token.length < 16) throw new Error(`the minted token looks wrong: ${JSON.stringify(token)}`);
  for (const want of ['docker run -it --rm', '--add-host', `HTTPS_PROXY=http://${hand}:${token}@`,
    'NODE_EXTRA_CA_CERTS=/etc/clauderon/proxy-ca.pem', ':/etc/clauderon/proxy-ca.pem:ro']) {
    if (!args.includes(want)) throw new Error(`the docker run arguments lack ${want}:\n${args}`);
  }
  await shot(page, '09-proxy-env');

  step('the token is listed, has no terminal, and is shown only once');
  await page.click('a[data-nav=list]');
  const handRow = page.locator(`#session-list a.row[data-session="${hand}"]`);
  await handRow.locator('[data-label=mode]', { hasText: 'by hand' }).waitFor();
  await page.click('a[data-nav=proxy-env]');
  await page.locator('#pe-name').waitFor();
  if (await page.locator('#pe-token').count()) throw new Error('the token is still shown after leaving the page');
  await page.click('a[data-nav=list]');
  await handRow.click();
  await page.locator('#live-panel', { hasText: 'started by hand' }).waitFor();
  if (await page.locator('#terminal').count()) throw new Error('a proxy token got a terminal');
  if (await page.locator('#act-stop, #act-start').count()) throw new Error('a proxy token offers stop or start');
  await shot(page, '10-manual-session');
  await page.locator('#act-delete').click();
  await page.locator('dialog#confirm[open]').waitFor();
  await page.click('#confirm-ok');
  await page.waitForURL(/#\/$/);
  await handRow.waitFor({ state: 'detached' });

  step('delete it, with confirmation');
  await row.click();
  await page.locator('#act-delete').click();
  await page.locator('dialog#confirm[open]').waitFor();
  await shot(page, '07-confirm-delete');
  await page.click('#confirm-ok');
  await page.waitForURL(/#\/$/);
  await row.waitFor({ state: 'detached' });
  await page.locator('#show-archived').check();
  if (await row.count()) throw new Error('the deleted session is still listed');
  await shot(page, '08-list-after-delete');

  if (consoleErrors.length) throw new Error(`the page logged errors:\n${consoleErrors.join('\n')}`);
  console.log('browser test passed');
} catch (e) {
  failed = true;
  console.error(`FAILED: ${e && e.stack ? e.stack : e}`);
  for (const p of ctx.pages()) {
    await p.screenshot({ path: join(ARTIFACTS, `failure-${ctx.pages().indexOf(p)}.png`), fullPage: true }).catch(() => {});
  }
  if (consoleErrors.length) console.error(`page errors:\n${consoleErrors.join('\n')}`);
} finally {
  await ctx.close();
  await rm(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
