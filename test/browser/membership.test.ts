// Rooms with members in the browser client (issue 14), in real Chromium against the real stack
// (users service, two chat replicas, ingestion, Redis): the sidebar comes from GET /api/me/rooms
// and is kept live by the user's own channel — a private room stays invisible to others, a kick
// reaches the kicked user's open tab, a new DM reaches its recipient within a second, two tabs
// of one user stay in step — and the "also seen" fixes: Close hides a DM, Leave asks
// and removes the row, a new DM's people panel shows the other user online, system lines.
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually, expectContainsText, expectText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectJoinedHere, openClient, registerViaUi, sendViaUi, timelineMessage, type Client } from './page-client.js';
import { rest, startStack, type Stack } from './stack.js';

const PASSWORD = 'correct-horse-42';
const SHOTS = 'test-results/screenshots';
const NO_SUCH_ROOM = 'No such room, or you are not a member of it.';

let stack: Stack;
let browser: Browser;
let alice: Client;
let bob: Client;
let carol: Client;
const clients: Client[] = [];

const roomRow = (c: Client | { page: Page }, label: string) => c.page.locator('#room-list .room-btn', { hasText: label });
const dmRow = (c: Client | { page: Page }, label: string) => c.page.locator('#dm-list .room-btn', { hasText: label });
const systemLine = (c: Client | { page: Page }, text: string) => c.page.locator('#message-list .sys-line', { hasText: text });
const tokenOf = (page: Page): Promise<string> => page.evaluate("JSON.parse(localStorage.getItem('aurora.session')).token");

/** Opens a room from the sidebar and waits until it is on screen. */
async function open(c: Client | { page: Page }, row: ReturnType<typeof roomRow>, title: string) {
  await row.click();
  await expectText(c.page.locator('#room-title'), title);
}

/** The people panel is open on a wide screen by default; make sure of it. */
async function peoplePanel(c: Client | { page: Page }) {
  if ((await c.page.locator('#members-toggle').getAttribute('aria-expanded')) !== 'true') await c.page.locator('#members-toggle').click();
  await c.page.locator('#members').waitFor({ state: 'visible' });
}

/** Picks `names` in the people dialog (search, click the result) and confirms it. */
async function choosePeople(page: Page, names: string[]) {
  await page.locator('#people-dialog').waitFor({ state: 'visible' });
  for (const name of names) {
    await page.locator('#people-input').fill(name);
    await page.locator('#people-results button', { hasText: name }).click();
    await page.locator('#people-chosen .person-chip', { hasText: name }).waitFor();
  }
  await page.locator('#people-ok').click();
  await page.locator('#people-dialog').waitFor({ state: 'hidden' });
}

async function createRoom(page: Page, kind: 'public' | 'private', name: string, topic = '') {
  await page.locator('#room-create').click();
  await page.locator('#room-dialog').waitFor({ state: 'visible' });
  await page.locator(`input[name="room-kind"][value="${kind}"]`).check();
  await page.locator(kind === 'public' ? '#room-name' : '#room-title-input').fill(name);
  if (topic) await page.locator('#room-topic').fill(topic);
  await page.locator('#room-dialog-ok').click();
  await page.locator('#room-dialog').waitFor({ state: 'hidden' });
}

/** Another tab of `c`'s user (same browser context: same session), recording its frames. */
async function secondTab(c: Client) {
  const page = await c.context.newPage();
  const tab = { page, received: [] as any[], problems: [] as string[] };
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|WebSocket connection to/.test(m.text())) tab.problems.push(m.text());
  });
  page.on('pageerror', (e) => tab.problems.push(String(e)));
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => tab.received.push(JSON.parse(String(payload)))));
  await page.goto(stack.origin + '/');
  await page.locator('#conn[data-state="connected"]').waitFor({ timeout: 20_000 });
  return tab;
}

describe('rooms with members in the browser', { timeout: 120_000 }, () => {
  let launch = ''; // alice's private room, as its `p:` name

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    mkdirSync(SHOTS, { recursive: true });
    stack = await startStack();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const a = `ws://127.0.0.1:${stack.chatA.port}/ws`;
    const b = `ws://127.0.0.1:${stack.chatB.port}/ws`;
    // alice and carol on chat-a, bob on chat-b: every live path crosses replicas.
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

  it('a private room: created with a title, an invitation reaches bob live, a third user cannot see, open or read it', async () => {
    await createRoom(alice.page, 'private', 'Launch plans', 'ship on friday');
    await expectText(alice.page.locator('#room-title'), 'Launch plans');
    await alice.page.locator('#room-lock').waitFor({ state: 'visible' });
    await expectContainsText(alice.page.locator('#room-sub'), 'ship on friday');
    launch = (await roomRow(alice, 'Launch plans').getAttribute('data-room')) ?? '';
    expect(launch).toMatch(/^p:[A-Za-z0-9_-]{16}$/);
    await systemLine(alice, 'alice created the room').waitFor();

    // Invite bob from the people panel: his sidebar shows the room at once, with a toast.
    await peoplePanel(alice);
    await alice.page.locator('#members-invite').click();
    await choosePeople(alice.page, ['bob']);
    await systemLine(alice, 'alice invited bob').waitFor();
    expect(await systemLine(alice, 'alice joined').count()).toBe(0); // the creator's join says nothing new
    await roomRow(bob, 'Launch plans').waitFor({ timeout: 5_000 });
    await expectContainsText(bob.page.locator('#toasts'), 'alice added you to Launch plans');
    await open(bob, roomRow(bob, 'Launch plans'), 'Launch plans');
    await systemLine(bob, 'alice invited bob').waitFor();
    await expectContainsText(bob.page.locator('#room-sub'), '2 members');
    await bob.page.locator('#member-list .member', { hasText: 'alice' }).locator('.role-tag', { hasText: 'owner' }).waitFor();
    await sendViaUi(bob, 'thanks for the invite');
    await timelineMessage(alice, 'thanks for the invite').waitFor();
    await alice.page.screenshot({ path: `${SHOTS}/private-room.png` });

    // carol: not in her sidebar, even after a reload that re-reads her rooms (her own room
    // showing up proves the list was read and drawn) …
    const mine = await rest(stack.origin, 'POST', '/api/rooms', { kind: 'private', title: 'Carol only' }, await tokenOf(carol.page));
    expect(mine.status).toBe(201);
    await carol.page.reload();
    await expectJoinedHere(carol, 'general');
    await roomRow(carol, 'Carol only').waitFor();
    expect(await carol.page.locator(`[data-room="${launch}"]`).count()).toBe(0);
    expect(await carol.page.locator('#room-list').textContent()).not.toContain('Launch plans');
    // … typing (pasting) its name opens nothing and says so …
    await carol.page.locator('#join-input').fill(launch);
    await carol.page.locator('#join-input').press('Enter');
    await expectText(carol.page.locator('#join-error'), NO_SUCH_ROOM);
    await expectText(carol.page.locator('#room-title'), '# general');
    expect(await carol.page.locator(`[data-room="${launch}"]`).count()).toBe(0);
    // … its history URL answers 404, byte for byte what a room that does not exist answers …
    const token = await tokenOf(carol.page);
    const history = (room: string) =>
      carol.page.evaluate(
        async ([path, bearer]) => {
          const res = await fetch(path, { headers: { authorization: `Bearer ${bearer}` } });
          return { status: res.status, body: await res.text() };
        },
        [`/api/rooms/${encodeURIComponent(room)}/messages`, token] as const,
      );
    const real = await history(launch);
    const ghost = await history('p:AAAAAAAAAAAAAAAA');
    expect(real.status).toBe(404);
    expect(real.body).toBe(ghost.body);
    // … and no frame of it ever reached her.
    expect(carol.received.filter((f) => f.room === launch)).toEqual([]);
  });

  it('a kick reaches the kicked user\'s open tab live: the row goes, with a toast', async () => {
    await expectText(bob.page.locator('#room-title'), 'Launch plans');
    await open(alice, roomRow(alice, 'Launch plans'), 'Launch plans');
    await peoplePanel(alice);
    const bobRow = alice.page.locator('#member-list .member', { hasText: 'bob' });
    await bobRow.locator('.member-menu-btn').click();
    await alice.page.getByRole('menuitem', { name: 'Remove from room' }).click();
    await systemLine(alice, 'bob was kicked by alice').waitFor();
    await expectContainsText(bob.page.locator('#toasts'), 'You were removed from Launch plans');
    await eventually(() => roomRow(bob, 'Launch plans').count(), (n) => n === 0, 'the row gone');
    await expectText(bob.page.locator('#room-title'), '# general');
    expect(bob.received.some((f) => f.type === 'left' && f.room === launch && f.reason === 'kicked')).toBe(true);
    // He cannot read it any more either.
    const res = await rest(stack.origin, 'GET', `/api/rooms/${encodeURIComponent(launch)}/messages`, undefined, await tokenOf(bob.page));
    expect(res.status).toBe(404);
    await eventually(() => alice.page.locator('#member-list .member-name').allTextContents(), (names) => !names.includes('bob'), 'bob gone from the roster');
  });

  it('a new DM appears in the recipient\'s sidebar within a second, and its people panel shows the other user online', async () => {
    // carol opens a DM with bob: before bob has it, her panel already shows him online (he is
    // connected: presence in a room they share says so).
    await carol.page.locator('#dm-input').fill('bob');
    await carol.page.locator('#dm-results button', { hasText: 'bob' }).click();
    await expectText(carol.page.locator('#room-title'), '@ bob');
    await peoplePanel(carol);
    await carol.page.locator('#member-list .member.online', { hasText: 'bob' }).waitFor();
    await expectText(carol.page.locator('#members-heading-count'), '— 2 of 2 online');

    const seen = bob.page.locator('#dm-list .room-btn', { hasText: 'carol' }).waitFor({ timeout: 10_000 });
    const t0 = Date.now();
    await sendViaUi(carol, 'hi bob, a new DM');
    await seen;
    const elapsed = Date.now() - t0;
    expect(elapsed, `the DM row appeared after ${elapsed} ms`).toBeLessThan(1000);
    await expectContainsText(bob.page.locator('#toasts'), 'carol sent you a message');
    await expectText(dmRow(bob, 'carol').locator('.badge'), '1');
    await open(bob, dmRow(bob, 'carol'), '@ carol');
    await timelineMessage(bob, 'hi bob, a new DM').waitFor();
    await bob.page.locator('#member-list .member.online', { hasText: 'carol' }).waitFor();
  });

  it('"Close" on a DM hides it until a new message arrives (also after a reload)', async () => {
    await expectText(bob.page.locator('#room-title'), '@ carol');
    await expectText(bob.page.locator('#room-leave'), 'Close');
    await bob.page.locator('#room-leave').click();
    await expectText(bob.page.locator('#room-title'), '# general');
    await eventually(() => dmRow(bob, 'carol').count(), (n) => n === 0, 'the DM row hidden');
    // After a reload too: the list is read again (a room of his own showing proves it was drawn).
    expect((await rest(stack.origin, 'POST', '/api/rooms', { kind: 'public', name: 'bobs-den' }, await tokenOf(bob.page))).status).toBe(201);
    await bob.page.reload();
    await expectJoinedHere(bob, 'general');
    await roomRow(bob, 'bobs-den').waitFor();
    expect(await dmRow(bob, 'carol').count()).toBe(0);
    expect(await bob.page.locator('[data-room^="dm:"]').count()).toBe(0);
    await sendViaUi(carol, 'still there?');
    await dmRow(bob, 'carol').waitFor({ timeout: 5_000 });
    await expectText(dmRow(bob, 'carol').locator('.badge'), '1');
  });

  it('"Leave" asks first, then removes the row — no greyed leftover', async () => {
    await bob.page.locator('#join-input').fill('watercooler');
    await bob.page.locator('#join-input').press('Enter');
    await expectText(bob.page.locator('#room-title'), '# watercooler');
    await expectJoinedHere(bob, 'watercooler');
    await bob.page.locator('#room-leave').click();
    await bob.page.locator('#confirm-dialog').waitFor({ state: 'visible' });
    await expectText(bob.page.locator('#confirm-title'), 'Leave # watercooler?');
    await bob.page.locator('#confirm-cancel').click();
    await roomRow(bob, 'watercooler').waitFor();
    await bob.page.locator('#room-leave').click();
    await bob.page.locator('#confirm-ok').click();
    await expectText(bob.page.locator('#room-title'), '# general');
    await eventually(() => bob.page.locator('[data-room="watercooler"]').count(), (n) => n === 0, 'no row left for #watercooler');
    // The server agrees: not among his rooms (a reload shows the same).
    const mine = await rest<{ rooms: { name: string }[] }>(stack.origin, 'GET', '/api/me/rooms', undefined, await tokenOf(bob.page));
    expect(mine.body.rooms.map((r) => r.name)).not.toContain('watercooler');
  });

  it('a room left on another device while this one was closed is not joined again when it reopens on it', async () => {
    await bob.page.locator('#join-input').fill('lobby');
    await bob.page.locator('#join-input').press('Enter');
    await expectJoinedHere(bob, 'lobby');
    const token = await tokenOf(bob.page);
    const me = await bob.page.evaluate("JSON.parse(localStorage.getItem('aurora.session')).user.id");
    await eventually(
      async () => (await rest<{ rooms: { name: string }[] }>(stack.origin, 'GET', '/api/me/rooms', undefined, token)).body.rooms.map((r) => r.name),
      (names) => names.includes('lobby'),
      'lobby among his rooms',
    );
    await bob.page.goto('about:blank');
    expect((await rest(stack.origin, 'DELETE', `/api/rooms/lobby/members/${me}`, undefined, token)).status).toBe(200);
    const sentBefore = bob.sent.length;
    await bob.page.goto(stack.origin + '/');
    // The room last on screen waits for the list, which no longer has it: general instead.
    await expectJoinedHere(bob, 'general');
    await expectText(bob.page.locator('#room-title'), '# general');
    expect(await roomRow(bob, 'lobby').count()).toBe(0);
    expect(bob.sent.slice(sentBefore).filter((f) => f.type === 'join' && f.room === 'lobby')).toEqual([]);
    const members = await rest<{ members: { username: string }[] }>(stack.origin, 'GET', '/api/rooms/lobby/members', undefined, token);
    expect(members.body.members.map((m) => m.username)).not.toContain('bob');
  });

  it('two tabs of one user stay in step: a room created in one appears in the other, leaving it removes it there', async () => {
    const tab2 = await secondTab(alice);
    // The new tab came to the front; Chromium throttles the other one's animation frames, which
    // Playwright's clicks wait for.
    await alice.page.bringToFront();
    await createRoom(alice.page, 'public', 'design-review', 'pixels');
    await expectText(alice.page.locator('#room-title'), '# design-review');
    await roomRow(tab2, 'design-review').waitFor({ timeout: 5_000 });
    await createRoom(alice.page, 'private', 'Tab sync');
    await roomRow(tab2, 'Tab sync').waitFor({ timeout: 5_000 });

    // The owner of a room with others in it must hand it over first: the server's words say so.
    await open(alice, roomRow(alice, 'design-review'), '# design-review');
    await carol.page.locator('#join-input').fill('design-review');
    await carol.page.locator('#join-input').press('Enter');
    await expectJoinedHere(carol, 'design-review');
    await systemLine(alice, 'carol joined').waitFor();
    await alice.page.locator('#room-leave').click();
    await alice.page.locator('#confirm-ok').click();
    await expectContainsText(alice.page.locator('#toasts'), 'owner');
    await roomRow(alice, 'design-review').waitFor();

    // "Tab sync" has only alice: leaving it in tab 1 removes it in tab 2 too.
    await open(alice, roomRow(alice, 'Tab sync'), 'Tab sync');
    await alice.page.locator('#room-leave').click();
    await alice.page.locator('#confirm-ok').click();
    await eventually(() => roomRow(alice, 'Tab sync').count(), (n) => n === 0, 'row gone in tab 1');
    await eventually(() => roomRow(tab2, 'Tab sync').count(), (n) => n === 0, 'row gone in tab 2', 5_000);
    expect(tab2.problems).toEqual([]);
    await tab2.page.close();
  });

  it('moderation from the member menu: roles, a mute that locks the composer, a delete, the topic, a handover, archiving — as system lines for everyone', async () => {
    await open(alice, roomRow(alice, 'design-review'), '# design-review');
    await expectText(carol.page.locator('#room-title'), '# design-review');
    await peoplePanel(alice);
    const carolRow = alice.page.locator('#member-list .member', { hasText: 'carol' });
    await carolRow.locator('.member-menu-btn').click();
    await alice.page.getByRole('menuitem', { name: 'Make admin' }).click();
    await systemLine(carol, 'alice made carol an admin').waitFor();
    await carolRow.locator('.role-tag', { hasText: 'admin' }).waitFor();
    await carolRow.locator('.member-menu-btn').click();
    await alice.page.getByRole('menuitem', { name: 'Make member (not admin)' }).click();
    await systemLine(carol, 'alice made carol a member').waitFor();

    await carolRow.locator('.member-menu-btn').click();
    await alice.page.getByRole('menuitem', { name: 'Mute for 5 min' }).click();
    await systemLine(carol, 'carol was muted for 5 min').waitFor();
    await expectContainsText(carol.page.locator('#composer-error'), /^You are muted until \d{1,2}:\d{2}/);
    await eventually(() => carol.page.locator('#composer-send').isDisabled(), (v) => v, 'the send button disabled while muted');
    await carolRow.locator('.muted-tag').waitFor();
    await carolRow.locator('.member-menu-btn').click();
    await alice.page.getByRole('menuitem', { name: 'Unmute' }).click();
    await systemLine(carol, 'carol can send again').waitFor();
    await expectText(carol.page.locator('#composer-error'), '');

    // The owner deletes someone else's message.
    await sendViaUi(carol, 'off-topic rant');
    const rant = timelineMessage(alice, 'off-topic rant');
    await rant.waitFor();
    await rant.hover();
    await rant.locator('.msg-actions [data-action="delete"]').click();
    await alice.page.locator('#confirm-ok').click();
    await carol.page.locator('#message-list .msg.deleted .msg-tombstone').waitFor();

    await alice.page.locator('#room-menu-btn').click();
    await alice.page.getByRole('menuitem', { name: 'Edit topic…' }).click();
    await alice.page.locator('#topic-input').fill('pixels and fonts');
    await alice.page.locator('#topic-ok').click();
    await systemLine(carol, 'alice changed the topic to “pixels and fonts”').waitFor();
    await expectContainsText(carol.page.locator('#room-sub'), 'pixels and fonts');
    await alice.page.screenshot({ path: `${SHOTS}/member-menu.png` });

    // The owner hands the room over (after a confirmation); the new owner archives it.
    await carolRow.locator('.member-menu-btn').click();
    await alice.page.getByRole('menuitem', { name: 'Make owner…' }).click();
    await expectText(alice.page.locator('#confirm-title'), 'Make carol the owner?');
    await alice.page.locator('#confirm-ok').click();
    await systemLine(carol, 'alice made carol the owner').waitFor();
    await systemLine(carol, 'alice is now an admin').waitFor();
    await alice.page.locator('#member-list .member', { hasText: 'alice' }).locator('.role-tag', { hasText: 'admin' }).waitFor();
    await carol.page.locator('#room-menu-btn').click();
    await carol.page.getByRole('menuitem', { name: 'Archive room' }).click();
    await carol.page.locator('#confirm-ok').click();
    await systemLine(alice, 'carol archived the room').waitFor();
    await expectText(alice.page.locator('#composer-error'), 'This room is archived: it is read only.');
    await expectContainsText(alice.page.locator('#room-sub'), 'archived');
  });

  it('a group conversation from the people picker, named by its members', async () => {
    await alice.page.locator('#group-create').click();
    await choosePeople(alice.page, ['bob', 'carol']);
    await expectText(alice.page.locator('#room-title'), 'bob, carol');
    await dmRow(bob, 'alice, carol').waitFor({ timeout: 5_000 });
    await dmRow(carol, 'alice, bob').waitFor({ timeout: 5_000 });
    await sendViaUi(alice, 'hello group');
    await open(bob, dmRow(bob, 'alice, carol'), 'alice, carol');
    await timelineMessage(bob, 'hello group').waitFor();
    await systemLine(bob, 'alice started the group').waitFor();
    await bob.page.screenshot({ path: `${SHOTS}/group-conversation.png` });
  });

  it('reported no CSP violation, script error or dialog in any page', () => {
    for (const c of clients) {
      expect(c.problems, `${c.name}: ${c.problems.join('\n')}`).toEqual([]);
      expect(c.dialogs).toEqual([]);
    }
  });
});
