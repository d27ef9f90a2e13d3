// Membership history and refused joins in the browser (issue 14), in real Chromium against the
// real stack: system lines ("alice invited bob") older than what a join brings come from REST
// history in their place among the messages — also once the room log has expired — and a line
// a join backlog and a history page both bring is shown once; a refused join names its room, so
// with several joins waiting the message is about THAT room and the others stay.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { keysFor } from '../../services/shared/keys.js';
import { eventually, expectContainsText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectJoinedHere, openClient, registerViaUi, type Client } from './page-client.js';
import { rest, startStack, wsClient, type Stack } from './stack.js';

const PASSWORD = 'correct-horse-42';
// A join brings the room log's latest 10 entries: with 9 messages after the topic change, the
// change is the oldest entry of a join backlog and everything before it comes from REST.
const JOIN_HISTORY = 10;
const FILLERS = JOIN_HISTORY - 1;

let stack: Stack;
let browser: Browser;
let alice: Client;
let bob: Client;
let carol: Client;
const clients: Client[] = [];

const session = (page: Page): Promise<{ token: string; user: { id: string } }> => page.evaluate("JSON.parse(localStorage.getItem('aurora.session'))");
const roomRow = (c: Client, label: string) => c.page.locator('#room-list .room-btn', { hasText: label });

/** The timeline as words, top to bottom: system lines and message texts (day dividers left out). */
const timeline = (page: Page): Promise<string[]> =>
  page.evaluate(`Array.from(document.querySelectorAll('#message-list > li'))
    .map((li) => (li.classList.contains('sys-line') ? li.querySelector('.sys-text') : li.querySelector('.msg-text'))?.textContent ?? null)
    .filter((t) => t !== null)`);

/** Frames `c` received since its latest hello. */
const sinceHello = (c: Client) => c.received.slice(c.received.map((f) => f.type).lastIndexOf('hello'));

describe('membership history and refused joins in the browser', { timeout: 180_000 }, () => {
  let room = ''; // alice's private room "History club"
  const expected = [
    'alice created the room',
    'before the invitation',
    'alice invited bob',
    'after the invitation',
    'alice changed the topic to “history matters”',
    ...Array.from({ length: FILLERS }, (_, i) => `filler ${i}`),
  ];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    stack = await startStack({ chatEnv: { JOIN_HISTORY: String(JOIN_HISTORY) } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const a = `ws://127.0.0.1:${stack.chatA.port}/ws`;
    const b = `ws://127.0.0.1:${stack.chatB.port}/ws`;
    alice = await openClient(browser, stack.origin, 'alice', [a, b]);
    bob = await openClient(browser, stack.origin, 'bob', [b, a]);
    carol = await openClient(browser, stack.origin, 'carol', [a, b]);
    clients.push(alice, bob, carol);
    for (const c of clients) {
      await registerViaUi(c, c.name, PASSWORD);
      await expectJoinedHere(c, 'general');
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('a room\'s events, made while its members\' pages are open, reach the store with its messages', async () => {
    const { token } = await session(alice.page);
    const bobId = (await session(bob.page)).user.id;
    const created = await rest<{ room: { name: string } }>(stack.origin, 'POST', '/api/rooms', { kind: 'private', title: 'History club' }, token);
    expect(created.status).toBe(201);
    room = created.body.room.name;
    const ws = await wsClient(`ws://127.0.0.1:${stack.chatA.port}/ws`, token, stack.origin);
    await ws.join(room);
    await ws.send(room, 'before the invitation', 'h-1');
    expect((await rest(stack.origin, 'POST', `/api/rooms/${room}/members`, { userId: bobId }, token)).status).toBe(201);
    await ws.send(room, 'after the invitation', 'h-2');
    expect((await rest(stack.origin, 'PATCH', `/api/rooms/${room}`, { topic: 'history matters' }, token)).status).toBe(200);
    for (let i = 0; i < FILLERS; i++) await ws.send(room, `filler ${i}`, `h-f${i}`);
    ws.close();
    // Stored by the ingestion worker: history serves every message and event.
    await eventually(
      async () => (await rest<{ messages: unknown[]; events: { action: string }[] }>(stack.origin, 'GET', `/api/rooms/${room}/messages?limit=100`, undefined, token)).body,
      (page) => page.messages.length === FILLERS + 2 && page.events.some((e) => e.action === 'topic'),
      'the room stored',
    );
  });

  it('a line both the join backlog and a history page bring is shown once, in its place', async () => {
    // bob was invited while his page was open: he joined then, and saw the rest live. A reload
    // joins afresh: the latest JOIN_HISTORY entries, the rest from history.
    await roomRow(bob, 'History club').waitFor({ timeout: 10_000 });
    await bob.page.reload();
    await expectJoinedHere(bob, room);
    await roomRow(bob, 'History club').click();
    // The join brought the topic change (its oldest entry); the screen is not full, so the
    // page below the oldest message came from REST — with the topic change again.
    const joined = sinceHello(bob).filter((f) => f.type === 'joined' && f.room === room).at(-1);
    expect(joined.events.map((e: any) => e.action)).toEqual(['topic']);
    expect(joined.messages.map((m: any) => m.text)).toEqual(expected.slice(5));
    await expectContainsText(bob.page.locator('#history-state'), 'This is the beginning of History club.');
    await eventually(() => timeline(bob.page), (t) => t.length === expected.length, 'the whole room on screen');
    expect(await timeline(bob.page)).toEqual(expected);
  });

  it('after the room log expired, a reload shows the system lines from REST history, in order', async () => {
    await roomRow(alice, 'History club').waitFor({ timeout: 10_000 });
    await roomRow(alice, 'History club').click();
    await expectJoinedHere(alice, room);
    // Seen live (her join came with the room's creation), and its start paged from REST again.
    await eventually(() => timeline(alice.page), (t) => t.length === expected.length, 'the room on screen before');
    expect(await timeline(alice.page)).toEqual(expected);
    const redis = stack.redis.client();
    expect(await redis.del(keysFor(1).roomLog(room))).toBe(1);
    await alice.page.reload();
    await expectJoinedHere(alice, room);
    await expectContainsText(alice.page.locator('#history-state'), 'This is the beginning of History club.');
    await eventually(() => timeline(alice.page), (t) => t.length === expected.length, 'the whole room on screen again');
    expect(await timeline(alice.page)).toEqual(expected);
    // None of it came over the socket: the join found no log.
    const frames = sinceHello(alice).filter((f) => f.room === room);
    const joined = frames.find((f) => f.type === 'joined');
    expect(joined.messages).toEqual([]);
    expect(joined.events).toEqual([]);
    expect(frames.filter((f) => f.type === 'event' || f.type === 'message')).toEqual([]);
  });

  it('refused joins among several waiting each name their own room: those go with a message about them, the others stay', async () => {
    const { token } = await session(alice.page);
    const carolSession = await session(carol.page);
    for (const name of ['plaza', 'hall', 'market']) expect((await rest(stack.origin, 'POST', '/api/rooms', { kind: 'public', name }, token)).status).toBe(201);
    // carol in `hall`, then banned from it.
    expect((await rest(stack.origin, 'POST', '/api/rooms/hall/members', { userId: carolSession.user.id }, carolSession.token)).status).toBe(201);
    expect((await rest(stack.origin, 'POST', '/api/rooms/hall/bans', { userId: carolSession.user.id }, token)).status).toBe(200);
    // Her room list from before rooms had members (localStorage, migrated once at start): its
    // rooms are all joined at once when the page connects, the refused ones among them.
    const saved = JSON.stringify(['plaza', room, 'hall', 'market']);
    await carol.page.evaluate(`localStorage.setItem(${JSON.stringify(`aurora.rooms.${carolSession.user.id}`)}, ${JSON.stringify(saved)})`);
    await carol.page.reload();
    await expectJoinedHere(carol, 'market');
    await expectContainsText(carol.page.locator('#toasts'), 'Can’t open hall: You are banned from this room.');
    await expectContainsText(carol.page.locator('#toasts'), 'Can’t open Private room: No such room, or you are not a member of it.');
    const frames = sinceHello(carol);
    const at = (pred: (f: any) => boolean) => frames.findIndex(pred);
    const refusedPrivate = at((f) => f.type === 'error' && f.room === room);
    const refusedHall = at((f) => f.type === 'error' && f.room === 'hall');
    expect(frames[refusedPrivate]).toMatchObject({ code: 'forbidden' });
    expect(frames[refusedHall]).toMatchObject({ code: 'forbidden' });
    // Answered in order: `market` was still waiting when the refusals came.
    expect(refusedPrivate).toBeGreaterThan(-1);
    expect(at((f) => f.type === 'joined' && f.room === 'market')).toBeGreaterThan(Math.max(refusedPrivate, refusedHall));
    await roomRow(carol, 'plaza').waitFor();
    await roomRow(carol, 'market').waitFor();
    await eventually(() => carol.page.locator(`[data-room="${room}"], [data-room="hall"]`).count(), (n) => n === 0, 'no row for the refused rooms');
    // The rooms that were joined stay joined (no leave was sent for them).
    expect(carol.sent.filter((f) => f.type === 'leave')).toEqual([]);
  });

  it('reported no CSP violation, script error or dialog in any page', () => {
    for (const c of clients) {
      expect(c.problems, `${c.name}: ${c.problems.join('\n')}`).toEqual([]);
      expect(c.dialogs).toEqual([]);
    }
  });
});
