// Message search in the browser (issue 16), in real Chromium against the real stack: Ctrl+K opens
// the search box, results come grouped by room with the word marked (<mark>s the client builds
// from the server's offsets), "More results" pages on, the keyboard chooses a result and Enter
// opens the room at it — a message far back (120 messages, a join backlog of 20) comes with ONE
// page around it (GET …/messages?around=), scrolled into view and highlighted; scrolling down
// then loads the newer messages up to the present. A private room alice is not in is never
// listed, though its messages match (its member finds them).
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually, expectAttr, expectCount, expectFocused, expectText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectJoinedHere, openClient, registerViaUi, timelineMessage, type Client } from './page-client.js';
import { registerAndLogin, rest, startStack, wsClient, type Stack } from './stack.js';
import { seriousViolations } from './axe.js';

const PASSWORD = 'correct-horse-42';
const SHOTS = 'test-results/screenshots';
const FILLERS = 119;
const BETA = 22;

let stack: Stack;
let browser: Browser;
let alice: Client;
let aliceToken = '';
let secretRoom = '';
let carolToken = '';

const tokenOf = (page: Page): Promise<string> => page.evaluate("JSON.parse(localStorage.getItem('aurora.session')).token");
const dialog = () => alice.page.locator('#search-dialog');
const options = () => alice.page.locator('#search-results [role="option"]');

async function searchRest(token: string, q: string) {
  const res = await rest<{ results: any[]; nextCursor?: string }>(stack.origin, 'GET', `/api/search?q=${encodeURIComponent(q)}&limit=50`, undefined, token);
  expect(res.status).toBe(200);
  return res.body.results;
}

describe('message search in the browser', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    mkdirSync(SHOTS, { recursive: true });
    stack = await startStack({ chatEnv: { JOIN_HISTORY: '20', RATE_LIMIT_MESSAGES: '100000' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const a = `ws://127.0.0.1:${stack.chatA.port}/ws`;
    alice = await openClient(browser, stack.origin, 'alice', [a]);
    await registerViaUi(alice, 'alice', PASSWORD);
    aliceToken = await tokenOf(alice.page);
    for (const name of ['alpha', 'beta']) expect((await rest(stack.origin, 'POST', '/api/rooms', { kind: 'public', name }, aliceToken)).status).toBe(201);
    const carol = await registerAndLogin(stack.origin, 'carol', PASSWORD);
    carolToken = carol.token;
    const created = await rest<{ room: { name: string } }>(stack.origin, 'POST', '/api/rooms', { kind: 'private', title: 'Carol only' }, carolToken);
    secretRoom = created.body.room.name;

    // Seeded from Node while alice's page is away, so her client holds only what a join brings.
    await alice.page.goto('about:blank');
    const ws = await wsClient(a, aliceToken, stack.origin);
    for (const room of ['alpha', 'beta']) await ws.join(room);
    await ws.send('alpha', 'the pelican report is ready', 'alpha-0');
    for (let i = 1; i <= FILLERS; i++) await ws.send('alpha', `filler ${i}`, `alpha-${i}`);
    for (let i = 1; i <= BETA; i++) await ws.send('beta', `pelican beta ${i}`, `beta-${i}`);
    ws.close();
    const cws = await wsClient(a, carolToken, stack.origin);
    await cws.join(secretRoom);
    await cws.send(secretRoom, 'pelican secret plans', 'secret-1');
    cws.close();
    // Searchable once ingestion has stored (and indexed) them.
    await eventually(() => searchRest(aliceToken, 'pelican'), (r) => r.length === BETA + 1, 'alice finding every pelican she may read', 30_000);
    await alice.page.goto(stack.origin + '/');
    await expectJoinedHere(alice, 'general');
  }, 150_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('never lists a private room the searcher is not in (its member does find it)', async () => {
    const mine = await searchRest(aliceToken, 'pelican');
    expect(mine.map((r) => r.room.name)).not.toContain(secretRoom);
    expect(mine.some((r) => /secret/.test(r.message.text))).toBe(false);
    const carols = await searchRest(carolToken, 'pelican secret');
    expect(carols.map((r) => r.room.name)).toContain(secretRoom);
  });

  it('Ctrl+K searches; results are grouped by room with the word marked; More results pages on', async () => {
    const p = alice.page;
    await p.keyboard.press('Control+k');
    await dialog().waitFor({ state: 'visible' });
    await expectFocused(p.locator('#search-input'));
    await p.keyboard.type('pelican');
    await expectCount(options(), 20, 20_000);
    await expectText(p.locator('#search-state'), '20+ messages');
    await p.locator('#search-more').click();
    await expectCount(options(), BETA + 1);
    expect(await p.locator('#search-more').isHidden()).toBe(true);
    const groups = await p.locator('#search-results [role="group"]').evaluateAll((els) =>
      els.map((g) => [g.querySelector('.search-room')!.textContent, g.querySelectorAll('[role="option"]').length]),
    );
    expect(groups).toEqual([
      ['# beta', BETA],
      ['# alpha', 1],
    ]);
    const marks = await p.locator('#search-results mark').allTextContents();
    expect(marks.length).toBe(BETA + 1);
    expect(new Set(marks.map((m) => m.toLowerCase()))).toEqual(new Set(['pelican']));
    expect(await p.locator('#search-results').textContent()).not.toMatch(/secret|Carol only/);
    await p.screenshot({ path: `${SHOTS}/search-results.png` });
    expect(await seriousViolations(alice)).toEqual([]);
  });

  it('Enter on a result far back opens the room at it (one page around it), highlighted; scrolling down loads up to the present', async () => {
    const p = alice.page;
    // ↑ from the box goes to the last result: alpha's, the oldest message of its room.
    await p.locator('#search-input').press('ArrowUp');
    const last = options().last();
    await expectAttr(last, 'aria-selected', 'true');
    await expectText(last.locator('.search-snippet'), 'the pelican report is ready');
    const active = await p.locator('#search-input').getAttribute('aria-activedescendant');
    expect(active).toBe(await last.getAttribute('id'));
    const pages: string[] = [];
    p.on('request', (r) => r.url().includes('/api/rooms/alpha/messages?') && pages.push(r.url()));
    const around = p.waitForRequest((r) => /\/api\/rooms\/alpha\/messages\?around=\d+-\d+/.test(r.url()));
    await p.locator('#search-input').press('Enter');
    await dialog().waitFor({ state: 'hidden' });
    await around;
    const target = timelineMessage(alice, 'the pelican report is ready');
    await target.waitFor({ timeout: 20_000 });
    // Older pages asked for BEFORE the around page: once it is asked for, the message comes with
    // it, and pages asked for after (it may sit at the top of the timeline, which loads older
    // ones as a reader scrolling up would) are scrolling, not reaching it.
    const aroundAt = pages.findIndex((u) => u.includes('around='));
    expect(aroundAt).toBeGreaterThanOrEqual(0);
    const olderPagesToReachIt = pages.slice(0, aroundAt).filter((u) => u.includes('before=')).length;
    await expectText(p.locator('#room-title'), '# alpha');
    await eventually(() => target.evaluate((el) => el.classList.contains('flash')), (v) => v, 'the message highlighted');
    const inView = await target.evaluate((el) => {
      const box = el.getBoundingClientRect();
      const view = (globalThis as any).document.getElementById('messages').getBoundingClientRect();
      return box.top >= view.top && box.bottom <= view.bottom;
    });
    expect(inView).toBe(true);
    // Not by paging back (20 + 50 a page: two pages to reach it); the room's first screen may
    // have asked for one older page to fill itself.
    expect(olderPagesToReachIt).toBeLessThanOrEqual(1);
    await p.screenshot({ path: `${SHOTS}/search-jump.png` });
    // Between that page and what the join brought, newer messages are missing: a line says so,
    // and scrolling down fills it page by page until the timeline is whole.
    await expectCount(p.locator('#message-list .newer-gap'), 1);
    await eventually(
      async () => {
        // A screen at a time, as a reader scrolls: each gap line loads as it comes into view.
        await p.locator('#messages').evaluate((el) => (el.scrollTop += el.clientHeight * 0.8));
        return p.locator('#message-list .msg[data-id]').count();
      },
      (n) => n === FILLERS + 1,
      'every message of alpha on screen',
      30_000,
    );
    await expectCount(p.locator('#message-list .newer-gap'), 0);
    await expectCount(p.locator('#message-list .day-divider'), 1);
    const texts = await p.locator('#message-list .msg[data-id] .msg-text').allTextContents();
    expect(texts).toEqual(['the pelican report is ready', ...Array.from({ length: FILLERS }, (_, i) => `filler ${i + 1}`)]);
    expect(alice.problems).toEqual([]);
  });

  it('Escape closes the search; the search button opens it again with the last query', async () => {
    const p = alice.page;
    await p.locator('#search-btn').click();
    await dialog().waitFor({ state: 'visible' });
    expect(await p.locator('#search-input').inputValue()).toBe('pelican');
    await p.keyboard.press('Escape');
    await dialog().waitFor({ state: 'hidden' });
  });
});
