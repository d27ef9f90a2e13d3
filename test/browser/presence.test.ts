// Presence status in the browser client (issue 15), in real Chromium against the real stack
// (users service, two chat replicas, Redis): bob sees alice online in the member list, on their
// DM's sidebar row and in the DM's header; alice's page left idle sends `away` (her config says
// after AWAY_SEC) and her header says so; bob's member list shows it when it is re-read (opened
// again), and online again once alice moves her mouse; alice closes her page and bob sees her
// offline, "last seen just now", in the member list and the DM header. The tests run in order
// and share the users.
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { eventually, expectAttr, expectText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectConnected, expectJoinedHere, openClient, registerViaUi, sendViaUi, type Client } from './page-client.js';
import { startStack, type Stack } from './stack.js';

const PASSWORD = 'correct-horse-42';
const SHOTS = 'test-results/screenshots';
/** alice's awayAfterSec once she is made idle (the server's minimum is 10; the client takes any). */
const AWAY_SEC = 3;

let stack: Stack;
let browser: Browser;
let a = '';
let b = '';
const clients: Client[] = [];

const memberRow = (c: Client, name: string) => c.page.locator('#member-list .member', { has: c.page.locator('.member-name', { hasText: new RegExp(`^${name}$`) }) });
const dmRow = (c: Client, name: string) => c.page.locator('#dm-list .room-btn[data-kind="dm"]', { hasText: name });
const statuses = (c: Client, from = 0) => c.sent.slice(from).filter((f) => f.type === 'status').map((f) => f.status);

/** The member list opened again: it re-reads the room's members, with their statuses. */
async function reopenMembers(c: Client) {
  const toggle = c.page.locator('#members-toggle');
  if ((await toggle.getAttribute('aria-expanded')) === 'true') await toggle.click();
  await toggle.click();
  await c.page.locator('#members').waitFor({ state: 'visible' });
}

/** Re-reads bob's member list until alice's row says `status` (each read is a new REST answer). */
async function expectMemberStatus(c: Client, name: string, status: string, between: () => Promise<void> = async () => {}) {
  await eventually(
    async () => {
      await between();
      const answered = c.page.waitForResponse((r) => /^\/api\/rooms\/[^/]+\/members$/.test(new URL(r.url()).pathname));
      await reopenMembers(c);
      await answered;
      return memberRow(c, name).getAttribute('data-status');
    },
    (v) => v === status,
    `${name} shown ${status} to ${c.name}`,
  );
}

describe('presence status in the browser', { timeout: 120_000 }, () => {
  let alice: Client;
  let bob: Client;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    mkdirSync(SHOTS, { recursive: true });
    stack = await startStack();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    a = `ws://127.0.0.1:${stack.chatA.port}/ws`;
    b = `ws://127.0.0.1:${stack.chatB.port}/ws`;
    // bob on chat-b, alice on chat-a: what bob sees of her crosses replicas and Redis.
    bob = await openClient(browser, stack.origin, 'bob', [b, a]);
    alice = await openClient(browser, stack.origin, 'alice', [a, b]);
    clients.push(bob, alice);
    for (const c of [bob, alice]) {
      await registerViaUi(c, c.name, PASSWORD);
      await expectJoinedHere(c, 'general');
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('bob sees alice online in the member list, on their DM row and in the DM header; alice sees herself online', async () => {
    const row = memberRow(bob, 'alice');
    await expectAttr(row, 'data-status', 'online');
    await expectAttr(row.locator('.presence-dot'), 'title', 'online');
    await expectText(row.locator('.member-main .sr-only'), ', online');
    await expectText(bob.page.locator('#members-heading-count'), '— 2 of 2 online');
    await expectText(alice.page.locator('#my-presence-text'), 'online');
    await expectAttr(alice.page.locator('#my-presence'), 'title', 'Your status: online');

    await bob.page.locator('#dm-input').fill('alice');
    await bob.page.locator('#dm-results button', { hasText: 'alice' }).click();
    await sendViaUi(bob, 'hi alice');
    await expectText(bob.page.locator('#room-sub .room-peer-status'), 'online');
    await expectAttr(bob.page.locator('#room-sub .presence-dot'), 'data-status', 'online');
    const dot = dmRow(bob, 'alice').locator('.presence-dot');
    await expectAttr(dot, 'data-status', 'online');
    await expectAttr(dot, 'title', 'online');
    await expectText(dmRow(bob, 'alice').locator('.room-name .sr-only'), ', online');
    await bob.page.screenshot({ path: `${SHOTS}/presence-dm-online.png` });
    await bob.page.locator('.room-btn[data-room="general"]').click();
  });

  it('alice left idle sends away once and her header says so; bob sees her away when his list is re-read, online again when she moves', async () => {
    // alice's config now says AWAY_SEC; the reload starts her page (and its idle clock) afresh.
    await alice.context.route('**/config.json', (route) => route.fulfill({ json: { wsUrls: [a, b], pingIntervalMs: 2000, pongTimeoutMs: 5000, awayAfterSec: AWAY_SEC } }));
    const from = alice.sent.length;
    await alice.page.reload();
    await expectConnected(alice);
    await eventually(async () => statuses(alice, from), (s) => s.includes('away'), 'alice sends away', (AWAY_SEC + 10) * 1000);
    // After the reconnect's own status, exactly one `away` for the idle period.
    expect(statuses(alice, from).filter((s) => s === 'away')).toEqual(['away']);
    await expectText(alice.page.locator('#my-presence-text'), 'away (auto)');
    await expectAttr(alice.page.locator('#my-presence-dot'), 'data-status', 'away');

    await expectMemberStatus(bob, 'alice', 'away');
    const row = memberRow(bob, 'alice');
    await expectText(row.locator('.member-status'), 'away');
    await expectAttr(row.locator('.presence-dot'), 'title', 'away');
    await bob.page.screenshot({ path: `${SHOTS}/presence-member-away.png` });

    // She moves her mouse (again before every read: she would go away again after AWAY_SEC).
    let x = 10;
    const move = async () => {
      x = x === 10 ? 200 : 10;
      await alice.page.mouse.move(x, 300);
    };
    await expectMemberStatus(bob, 'alice', 'online', move);
    const back = statuses(alice, from);
    expect(back.slice(back.indexOf('away'))).toContain('online');
    await expectText(alice.page.locator('#my-presence-text'), 'online');
  });

  it('alice closes her page: bob sees her offline, "last seen just now", in the member list and the DM header', async () => {
    await alice.page.close();
    const row = memberRow(bob, 'alice');
    // At once from the presence leave, and the same from a re-read list.
    await expectAttr(row, 'data-status', 'offline');
    await expectMemberStatus(bob, 'alice', 'offline');
    await expectText(row.locator('.member-status'), /^last seen (just now|1 min ago)$/);
    await expectText(bob.page.locator('#members-heading-count'), '— 1 of 2 online');

    await dmRow(bob, 'alice').click();
    await expectText(bob.page.locator('#room-sub .room-peer-status'), /^last seen (just now|1 min ago)$/);
    await expectAttr(bob.page.locator('#room-sub .presence-dot'), 'data-status', 'offline');
    await expectAttr(dmRow(bob, 'alice').locator('.presence-dot'), 'data-status', 'offline');
    await bob.page.screenshot({ path: `${SHOTS}/presence-dm-offline.png` });
  });

  it('reported no CSP violation, script error or dialog in any page', () => {
    for (const c of clients) {
      expect(c.problems, `${c.name}: problems`).toEqual([]);
      expect(c.dialogs, `${c.name}: dialogs`).toEqual([]);
    }
  });
});
