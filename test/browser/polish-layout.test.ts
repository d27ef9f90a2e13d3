// Issue 20, items 4, 5 and 8, in real Chromium against the real services: the people panel on
// a phone, unread rooms on the drawer button, the sign-in screen's wording (first visit, server
// errors), the light theme and its toggle, and safe-area insets on a phone with a notch
// (Chromium's own inset emulation through CDP). Screenshots go to test-results/screenshots/.
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually, expectAttr, expectText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectConnected, expectJoinedHere, openClient, registerViaUi, type Client } from './page-client.js';
import { registerAndLogin, rest, startStack, wsClient, type Stack } from './stack.js';

const SHOTS = 'test-results/screenshots';
const PASSWORD = 'correct-horse-42';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

// The client's strings module, loaded as served (plain JavaScript, no type declarations).
const loadStrings = (): Promise<any> => import(new URL('../../frontend/js/strings.js', import.meta.url).href);

let stack: Stack;
let browser: Browser;
let wsUrls: string[];
let S: any;
const clients: Client[] = [];

async function client(name: string, viewport = DESKTOP): Promise<Client> {
  const c = await openClient(browser, stack.origin, name, wsUrls, viewport);
  clients.push(c);
  return c;
}

/** Relative luminance (0 black … 1 white) of the page background. */
const backgroundLuminance = (page: Page) =>
  page.evaluate(() => {
    const g = globalThis as any;
    const rgb = g.getComputedStyle(g.document.body).backgroundColor.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
    const lin = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
  });

/** What is drawn at the middle of the message list: inside the chat column or not. */
const chatVisibleAtCentre = (page: Page) =>
  page.evaluate(() => {
    const d = (globalThis as any).document;
    const r = d.getElementById('messages').getBoundingClientRect();
    const hit = d.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return !!hit && d.getElementById('chat').contains(hit);
  });

const box = async (page: Page, selector: string) => {
  const b = await page.locator(selector).first().boundingBox();
  if (!b) throw new Error(`${selector} is not rendered`);
  return b;
};

describe('issue 20: phone layout, wording, theme and safe areas', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    mkdirSync(SHOTS, { recursive: true });
    S = (await loadStrings()).STRINGS;
    stack = await startStack();
    wsUrls = [`ws://127.0.0.1:${stack.chatA.port}/ws`, `ws://127.0.0.1:${stack.chatB.port}/ws`];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) expect(c.problems, `${c.name}: console errors, page errors, CSP violations`).toEqual([]);
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('greets a first-time visitor without "Welcome back!", and a returning one with it', async () => {
    const dana = await client('dana');
    const tagline = dana.page.locator('#auth-tagline');
    await dana.page.locator('#auth').waitFor({ state: 'visible' });
    await expectText(tagline, S.auth.taglineFirst);
    expect(await tagline.textContent()).not.toMatch(/welcome back/i);

    await registerViaUi(dana, 'dana', PASSWORD);
    await dana.page.getByRole('button', { name: 'Sign out' }).click();
    await dana.page.locator('#auth').waitFor({ state: 'visible' });
    await expectText(tagline, S.auth.taglineReturning);
    expect(S.auth.taglineReturning).toMatch(/welcome back/i);
    // Still a returning visitor after a reload of the sign-in page.
    await dana.page.reload();
    await expectText(tagline, S.auth.taglineReturning);
  });

  it('words server errors as a product would, from the one strings module, never as developer text', async () => {
    await registerAndLogin(stack.users.baseUrl, 'erin', PASSWORD);
    const c = await client('visitor');
    const p = c.page;
    const error = p.locator('#auth-error');
    const submit = async (tab: 'Create account' | 'Sign in', username: string, password: string) => {
      await p.getByRole('tab', { name: tab }).click();
      await p.getByLabel('Username').fill(username);
      await p.getByLabel('Password').fill(password);
      await p.locator('#auth-submit').click();
    };
    const serverSays = async (path: string, username: string, password: string) =>
      (await rest<{ error: { message: string } }>(stack.users.baseUrl, 'POST', path, { username, password })).body.error.message;

    await submit('Create account', 'no spaces!', PASSWORD);
    await expectText(error, S.errors.invalid_username);
    expect(await serverSays('/api/auth/register', 'no spaces!', PASSWORD)).toMatch(/must be a string/); // what it replaces

    await submit('Create account', 'frank', 'short');
    await expectText(error, S.errors.invalid_password);
    expect(await serverSays('/api/auth/register', 'frank', 'short')).toMatch(/must be a string of 8–128/);

    await submit('Create account', 'erin', PASSWORD);
    await expectText(error, S.errors.username_taken);

    await submit('Sign in', 'erin', 'wrong-password-1');
    await expectText(error, S.errors.invalid_credentials);

    // Every wording starts with a capital and ends like a sentence; a server-given wait is said
    // once, in words; an unknown code never shows the server's text.
    for (const [code, text] of Object.entries(S.errors)) expect(text, code).toMatch(/^[A-Z].*[.!]$/);
    const { errorText } = await loadStrings();
    expect(errorText({ code: 'too_many_attempts', message: 'too many failed logins; try again in 30 s', retryAfterSec: 30 })).toBe('Too many attempts. Try again in 30 seconds.');
    expect(errorText({ code: 'no_such_code', message: 'internal detail' })).toBe(S.errors.fallback);
    expect(errorText({ code: 'http_502', status: 502, message: 'Request failed (502)' })).toBe(S.errors.internal);
    await shot(p, 'auth-error.png');
  });

  it('on a phone, a people panel left open on desktop does not cover the chat; it comes back on desktop', async () => {
    const c = await client('gina');
    await registerViaUi(c, 'gina', PASSWORD);
    const p = c.page;
    await p.locator('#members').waitFor({ state: 'visible' }); // open by default on a wide screen
    await expectAttr(p.locator('#members-toggle'), 'aria-expanded', 'true');

    await p.setViewportSize(PHONE);
    await p.locator('#members').waitFor({ state: 'hidden' });
    await expectAttr(p.locator('#members-toggle'), 'aria-expanded', 'false');
    expect(await chatVisibleAtCentre(p)).toBe(true);

    // Asked for on the phone, it opens over the chat, and Escape closes it.
    await p.locator('#members-toggle').click();
    await p.locator('#members').waitFor({ state: 'visible' });
    await p.keyboard.press('Escape');
    await p.locator('#members').waitFor({ state: 'hidden' });

    // Back on a wide screen the desktop choice (open) returns.
    await p.setViewportSize(DESKTOP);
    await p.locator('#members').waitFor({ state: 'visible' });
  });

  it('the drawer button on a phone shows that another room has unread messages', async () => {
    const seed = await registerAndLogin(stack.users.baseUrl, 'hank', PASSWORD);
    const ws = await wsClient(wsUrls[0]!, seed.token, stack.origin);
    await ws.join('side');
    const c = await client('ivy', PHONE);
    await registerViaUi(c, 'ivy', PASSWORD);
    const p = c.page;
    const button = p.locator('#sidebar-open');
    const badge = p.locator('#sidebar-unread');

    // Join #side through the drawer, then go back to #general.
    await button.click();
    await p.locator('#join-input').fill('side');
    await p.locator('#join-input').press('Enter');
    await expectText(p.locator('#room-title'), '# side');
    await expectJoinedHere(c, 'side');
    await button.click();
    await p.locator('#room-list .room-btn', { hasText: 'general' }).click();
    await expectText(p.locator('#room-title'), '# general');
    await expect(badge.isVisible()).resolves.toBe(false);

    await ws.send('side', 'anyone here?', 'seed-unread-1');
    await badge.waitFor({ state: 'visible' });
    await expectText(badge, '1');
    await expectAttr(button, 'aria-label', S.drawer.openWithUnread(1));
    await shot(p, 'drawer-unread-phone.png');

    // Reading the room clears it.
    await button.click();
    await p.locator('#room-list .room-btn', { hasText: 'side' }).click();
    await expectText(p.locator('#room-title'), '# side');
    await badge.waitFor({ state: 'hidden' });
    await expectAttr(button, 'aria-label', S.drawer.open);
    ws.close();
  });

  it('follows prefers-color-scheme, and a toggle overrides it and persists across reloads', async () => {
    const c = await client('jack');
    const p = c.page;
    await p.emulateMedia({ colorScheme: 'light' });
    await p.reload();
    await p.locator('#auth').waitFor({ state: 'visible' });
    await expectAttr(p.locator('html'), 'data-theme', 'light');
    expect(await backgroundLuminance(p)).toBeGreaterThan(0.7);

    // The system switching to dark is followed live.
    await p.emulateMedia({ colorScheme: 'dark' });
    await expectAttr(p.locator('html'), 'data-theme', 'dark');
    expect(await backgroundLuminance(p)).toBeLessThan(0.05);

    await registerViaUi(c, 'jack', PASSWORD);
    const toggle = p.locator('#theme-toggle');
    await expectAttr(toggle, 'aria-pressed', 'false');
    await toggle.click();
    await expectAttr(p.locator('html'), 'data-theme', 'light');
    await expectAttr(toggle, 'aria-pressed', 'true');
    await eventually(() => backgroundLuminance(p), (l) => l > 0.7, 'a light background');
    await shot(p, 'light-desktop.png');

    // The choice outlives a reload, against the dark system preference.
    await p.reload();
    await expectConnected(c);
    await expectAttr(p.locator('html'), 'data-theme', 'light');
    expect(await backgroundLuminance(p)).toBeGreaterThan(0.7);

    // Toggling back to what the system prefers follows the system again.
    await p.locator('#theme-toggle').click();
    await expectAttr(p.locator('html'), 'data-theme', 'dark');
    await p.emulateMedia({ colorScheme: 'light' });
    await expectAttr(p.locator('html'), 'data-theme', 'light');
  });

  it('keeps content out of the notch and the home indicator (env(safe-area-inset-*))', async () => {
    const c = await client('kate', PHONE);
    const p = c.page;
    const cdp = await c.context.newCDPSession(p);
    await cdp.send('Emulation.setSafeAreaInsetsOverride', { insets: { top: 47, bottom: 34, left: 0, right: 0 } });
    await registerViaUi(c, 'kate', PASSWORD);

    // Portrait: header below the notch, composer above the home indicator.
    expect((await box(p, '#room-title')).y).toBeGreaterThanOrEqual(47);
    expect((await box(p, '#sidebar-open')).y).toBeGreaterThanOrEqual(47);
    const send = await box(p, '#composer-send');
    expect(send.y + send.height).toBeLessThanOrEqual(PHONE.height - 34);
    await p.locator('#sidebar-open').click();
    expect((await box(p, '.sidebar-title')).y).toBeGreaterThanOrEqual(47);
    const logout = await box(p, '#logout');
    expect(logout.y + logout.height).toBeLessThanOrEqual(PHONE.height - 34);
    await p.keyboard.press('Escape');
    await shot(p, 'safe-area-portrait.png');

    // Landscape: the notch is on a side.
    await cdp.send('Emulation.setSafeAreaInsetsOverride', { insets: { top: 0, bottom: 21, left: 47, right: 47 } });
    await p.setViewportSize({ width: 844, height: 390 });
    expect((await box(p, '.sidebar-title')).x).toBeGreaterThanOrEqual(47);
    const sendWide = await box(p, '#composer-send');
    expect(sendWide.x + sendWide.width).toBeLessThanOrEqual(844 - 47);
    expect(sendWide.y + sendWide.height).toBeLessThanOrEqual(390 - 21);
    await shot(p, 'safe-area-landscape.png');
  });
});

async function shot(page: Page, name: string) {
  await page.screenshot({ path: `${SHOTS}/${name}` });
}
