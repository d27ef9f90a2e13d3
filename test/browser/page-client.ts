// One signed-in browser user for the browser tests: a Chromium context whose config.json names
// its own replica order (each URL through a TCP proxy the test controls), with every WebSocket
// frame it sends and receives recorded, and console errors, page errors and dialogs collected
// as problems (a test ends by asserting there were none).
import type { Browser, BrowserContext, Page, WebSocket as PwSocket } from 'playwright-core';
import { waitFor } from './stack.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Client {
  name: string;
  context: BrowserContext;
  page: Page;
  hellos: string[]; // replica of every hello, in order
  received: any[];
  sent: any[];
  dialogs: string[];
  problems: string[]; // console errors, page errors, CSP violations
}

export async function openClient(
  browser: Browser,
  origin: string,
  name: string,
  wsUrls: string[],
  viewport = { width: 1280, height: 800 },
  { hasTouch = false } = {},
): Promise<Client> {
  const context = await browser.newContext({ viewport, hasTouch });
  // A short heartbeat makes dead-connection checks quick.
  await context.route('**/config.json', (route) => route.fulfill({ json: { wsUrls, pingIntervalMs: 2000, pongTimeoutMs: 5000 } }));
  const page = await context.newPage();
  const c: Client = { name, context, page, hellos: [], received: [], sent: [], dialogs: [], problems: [] };
  page.on('dialog', (d) => {
    c.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|WebSocket connection to/.test(m.text())) c.problems.push(m.text());
  });
  page.on('pageerror', (e) => c.problems.push(String(e)));
  page.on('websocket', (ws: PwSocket) => {
    ws.on('framereceived', ({ payload }) => {
      const f = JSON.parse(String(payload));
      c.received.push(f);
      if (f.type === 'hello') c.hellos.push(f.replica);
    });
    ws.on('framesent', ({ payload }) => c.sent.push(JSON.parse(String(payload))));
  });
  await page.goto(origin + '/');
  return c;
}

export async function expectConnected(c: Client, timeout = 20_000) {
  await c.page.locator('#app').waitFor({ state: 'visible', timeout });
  await c.page.locator('#conn[data-state="connected"]').waitFor({ timeout });
}

export async function registerViaUi(c: Client, username: string, password: string) {
  const p = c.page;
  await p.getByRole('tab', { name: 'Create account' }).click();
  await p.getByLabel('Username').fill(username);
  await p.getByLabel('Password').fill(password);
  await p.locator('#auth-submit').click();
  await expectConnected(c);
}

/** Connected AND `room` joined on the current connection (frames typed now leave on it). */
export async function expectJoinedHere(c: Client, room: string) {
  await expectConnected(c);
  await waitFor(
    () => {
      const hello = c.received.map((f) => f.type).lastIndexOf('hello');
      return hello >= 0 && c.received.slice(hello).some((f) => f.type === 'joined' && f.room === room);
    },
    { timeoutMs: 20_000, what: `${c.name} joined ${room} on its current connection` },
  );
}

export async function sendViaUi(c: Client, text: string) {
  const box = c.page.locator('#composer-input');
  await box.fill(text);
  await box.press('Enter');
}

/** The timeline's element of the (delivered) message with exactly this text. */
export const timelineMessage = (c: Client, text: string) =>
  c.page.locator('#message-list .msg[data-id]').filter({ has: c.page.locator('.msg-text', { hasText: new RegExp(`^${escapeRe(text)}$`) }) });

export const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
