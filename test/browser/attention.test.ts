// Attention in the browser client (issue 15), in real Chromium against the real stack (users
// service, two chat replicas, ingestion with its notify worker, Redis): unread counts that
// survive a reload and clear live on a second device when read on the first, the tab title and
// favicon badge, the first DM message counted, the "New messages" divider, "Seen" live for the
// sender, a mention made while the user was away as a notification that opens the message
// (paging history back), desktop notifications when the tab is hidden (window.Notification
// stubbed by a recording class: the browser API is the boundary), do not disturb, and a muted
// room's dimmed badge, @name completion; axe-core finds no serious violation on these screens.
// The tests run in order and share the users and rooms.
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually, expectAttr, expectClass, expectContainsText, expectText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectConnected, expectJoinedHere, openClient, registerViaUi, sendViaUi, timelineMessage, type Client } from './page-client.js';
import { rest, startStack, wsClient, type Stack } from './stack.js';
import { seriousViolations } from './axe.js';

const PASSWORD = 'correct-horse-42';
const SHOTS = 'test-results/screenshots';

// A recording stand-in for the Notification API: permission 'default' until asked, asking
// records whether it came from a user gesture, every notification shown is kept in order.
const NOTIFICATION_STUB = `(() => {
  window.__notes = [];
  window.__asked = [];
  class RecordingNotification {
    static permission = 'default';
    static async requestPermission() {
      window.__asked.push(navigator.userActivation ? navigator.userActivation.isActive : null);
      RecordingNotification.permission = 'granted';
      return 'granted';
    }
    constructor(title, options) {
      this.title = title;
      this.body = (options && options.body) || '';
      this.tag = (options && options.tag) || '';
      this.closed = false;
      this.onclick = null;
      window.__notes.push(this);
    }
    close() { this.closed = true; }
  }
  window.Notification = RecordingNotification;
})();`;

let stack: Stack;
let browser: Browser;
let a = '';
let b = '';
const clients: Client[] = [];

const roomRow = (c: Client, room: string) => c.page.locator(`.room-btn[data-room="${room}"]`);
const dmRow = (c: Client, label: string) => c.page.locator('#dm-list .room-btn', { hasText: label });
const tokenOf = (page: Page): Promise<string> => page.evaluate("JSON.parse(localStorage.getItem('aurora.session')).token");
const favicon = (c: Client) => c.page.locator('link[rel="icon"]');

async function client(name: string, urls: string[], { stub = false } = {}) {
  const c = await openClient(browser, stack.origin, name, urls);
  if (stub) {
    await c.context.addInitScript(NOTIFICATION_STUB);
    await c.page.reload();
  }
  clients.push(c);
  return c;
}

async function signIn(c: Client, username: string) {
  await c.page.getByLabel('Username').fill(username);
  await c.page.getByLabel('Password').fill(PASSWORD);
  await c.page.locator('#auth-submit').click();
  await expectConnected(c);
}

/** Sets what document.visibilityState says and tells the page it changed. */
async function setVisibility(c: Client, state: 'visible' | 'hidden') {
  await c.page.evaluate((s) => {
    const doc = (globalThis as any).document;
    Object.defineProperty(doc, 'visibilityState', { configurable: true, get: () => s });
    Object.defineProperty(doc, 'hidden', { configurable: true, get: () => s === 'hidden' });
    doc.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

/** The element is within the message list's visible area. */
async function inView(c: Client, text: string) {
  return timelineMessage(c, text).evaluate((el) => {
    const box = el.getBoundingClientRect();
    const view = (globalThis as any).document.getElementById('messages').getBoundingClientRect();
    return box.bottom > view.top && box.top < view.bottom;
  });
}

async function myRoom(token: string, room: string) {
  const res = await rest<{ rooms: any[] }>(stack.origin, 'GET', '/api/me/rooms', undefined, token);
  return res.body.rooms.find((r) => r.name === room);
}

describe('attention in the browser', { timeout: 120_000 }, () => {
  let alice: Client;
  let alice2: Client;
  let alice3: Client;
  let bob: Client;
  let bobWs: Awaited<ReturnType<typeof wsClient>>;
  let aliceToken = '';

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    mkdirSync(SHOTS, { recursive: true });
    // A short join backlog makes opening an older message page history back.
    stack = await startStack({ chatEnv: { JOIN_HISTORY: '20', RATE_LIMIT_MESSAGES: '100000' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    a = `ws://127.0.0.1:${stack.chatA.port}/ws`;
    b = `ws://127.0.0.1:${stack.chatB.port}/ws`;
    // alice on chat-a, bob on chat-b: every live path crosses replicas.
    alice = await client('alice', [a, b]);
    bob = await client('bob', [b, a]);
    for (const c of [alice, bob]) {
      await registerViaUi(c, c.name, PASSWORD);
      await expectJoinedHere(c, 'general');
    }
    aliceToken = await tokenOf(alice.page);
    bobWs = await wsClient(b, await tokenOf(bob.page), stack.origin);
  }, 120_000);

  afterAll(async () => {
    bobWs?.close();
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('unread counts survive a reload, show in the title and favicon, and clear live on a second device when read on the first', async () => {
    expect((await rest(stack.origin, 'POST', '/api/rooms', { kind: 'public', name: 'news' }, aliceToken)).status).toBe(201);
    await bobWs.join('news');
    await roomRow(alice, 'news').waitFor();
    await expectAttr(favicon(alice), 'href', '/favicon.svg');
    for (let i = 1; i <= 3; i++) await bobWs.send('news', `news ${i}`, `news-${i}`);
    await expectText(roomRow(alice, 'news').locator('.badge'), '3');
    await eventually(() => alice.page.title(), (t) => t === '(3) # general · AuroraChat', 'the title count');
    await expectAttr(favicon(alice), 'data-count', '3');
    await expectAttr(favicon(alice), 'href', /^data:image\/png;base64,/);
    await alice.page.screenshot({ path: `${SHOTS}/attention-unread.png` });

    // The server counts the same (once the messages are stored): a reload shows it again.
    await eventually(() => myRoom(aliceToken, 'news'), (r) => r?.unread === 3 && r.lastSeq === 3, 'GET /api/me/rooms counting 3');
    await alice.page.reload();
    await expectJoinedHere(alice, 'general');
    await expectText(roomRow(alice, 'news').locator('.badge'), '3');
    await eventually(() => alice.page.title(), (t) => t.startsWith('(3) '), 'the title count after a reload');

    // A second device of alice's, on the other replica, shows it too …
    alice2 = await client('alice2', [b, a]);
    await signIn(alice2, 'alice');
    await expectText(roomRow(alice2, 'news').locator('.badge'), '3');
    // … until she reads the room on the first: the `read` frame clears it there, live.
    await roomRow(alice, 'news').click();
    await expectText(alice.page.locator('#room-title'), '# news');
    await timelineMessage(alice, 'news 3').waitFor();
    await eventually(() => roomRow(alice2, 'news').locator('.badge').count(), (n) => n === 0, 'the badge cleared on the second device');
    expect(alice2.received.some((f) => f.type === 'read' && f.room === 'news')).toBe(true);
    await eventually(() => alice2.page.title(), (t) => !t.startsWith('('), 'no count in the second device\'s title');
    await expectAttr(favicon(alice2), 'href', '/favicon.svg');
    await expectAttr(favicon(alice), 'href', '/favicon.svg');
    // One read for the three messages, for the newest.
    const reads = alice.sent.filter((f) => f.type === 'read');
    expect(reads).toEqual([{ type: 'read', room: 'news', id: expect.any(String) }]);
    await eventually(() => myRoom(aliceToken, 'news'), (r) => r?.unread === 0 && r.readSeq === 3, 'the read position stored');
  });

  it('"New messages" stands above the first unread message when a room is opened, and stays there while it is open', async () => {
    await roomRow(alice, 'general').click();
    await expectText(alice.page.locator('#room-title'), '# general');
    await bobWs.send('news', 'fresh 1', 'fresh-1');
    await bobWs.send('news', 'fresh 2', 'fresh-2');
    await expectText(roomRow(alice, 'news').locator('.badge'), '2');
    await roomRow(alice, 'news').click();
    await timelineMessage(alice, 'fresh 2').waitFor();
    const around = () =>
      alice.page.locator('#message-list .new-divider').evaluate((d) => ({
        text: d.textContent,
        before: d.previousElementSibling?.querySelector('.msg-text')?.textContent ?? null,
        after: d.nextElementSibling?.querySelector('.msg-text')?.textContent ?? null,
      }));
    expect(await around()).toEqual({ text: 'New messages', before: 'news 3', after: 'fresh 1' });
    await bobWs.send('news', 'fresh 3', 'fresh-3');
    await timelineMessage(alice, 'fresh 3').waitFor();
    expect(await around()).toEqual({ text: 'New messages', before: 'news 3', after: 'fresh 1' });
    expect(await alice.page.locator('#message-list .new-divider').count()).toBe(1);
    await alice.page.screenshot({ path: `${SHOTS}/attention-divider.png` });
    expect(await seriousViolations(alice)).toEqual([]);
    // Read now: reopened, the room has no divider.
    await eventually(() => myRoom(aliceToken, 'news'), (r) => r?.unread === 0, 'read up to fresh 3');
    await roomRow(alice, 'general').click();
    await expectText(alice.page.locator('#room-title'), '# general');
    await roomRow(alice, 'news').click();
    await timelineMessage(alice, 'fresh 3').waitFor();
    expect(await alice.page.locator('#message-list .new-divider').count()).toBe(0);
  });

  it('the first message of a new DM gives a badge; "Seen" appears live for the sender when it is read', async () => {
    await roomRow(alice, 'general').click();
    await expectText(alice.page.locator('#room-title'), '# general');
    await bob.page.locator('#dm-input').fill('alice');
    await bob.page.locator('#dm-results button', { hasText: 'alice' }).click();
    await expectText(bob.page.locator('#room-title'), '@ alice');
    await sendViaUi(bob, 'psst, alice');
    const mine = timelineMessage(bob, 'psst, alice');
    await mine.waitFor();
    await expectText(dmRow(alice, 'bob').locator('.badge'), '1');
    await eventually(() => alice.page.title(), (t) => t.startsWith('(1) '), 'the DM in the title');
    expect(await bob.page.locator('#message-list .seen-line').count()).toBe(0);

    await dmRow(alice, 'bob').click();
    await expectText(alice.page.locator('#room-title'), '@ bob');
    await expectText(bob.page.locator('#message-list .seen-line'), 'Seen');
    // Under his message, which is what was read.
    const under = await bob.page.locator('#message-list .seen-line').evaluate((el) => el.previousElementSibling?.getAttribute('data-id'));
    expect(under).toBe(await mine.getAttribute('data-id'));
    expect(bob.received.some((f) => f.type === 'receipt' && f.user?.name === 'alice')).toBe(true);
    await bob.page.screenshot({ path: `${SHOTS}/attention-seen.png` });
    expect(await seriousViolations(bob)).toEqual([]);
  });

  it('a mention made while she was away is a notification on sign-in; clicking it pages history back to the message and shows it', async () => {
    expect(alice.problems).toEqual([]);
    expect(alice2.problems).toEqual([]);
    await alice.context.close();
    await alice2.context.close();
    clients.splice(clients.indexOf(alice), 1);
    clients.splice(clients.indexOf(alice2), 1);

    const mention = await bobWs.send('news', '@alice please look at this', 'mention-1');
    for (let i = 1; i <= 60; i++) await bobWs.send('news', `filler ${i}`, `filler-${i}`);
    const inbox = await eventually(
      () => rest<{ notifications: any[]; unread: number }>(stack.origin, 'GET', '/api/me/notifications', undefined, aliceToken),
      (res) => res.body.notifications.some((n) => n.kind === 'mention' && n.sourceId === mention.id),
      'the mention in her inbox',
    );
    const unread = inbox.body.unread;
    expect(unread).toBeGreaterThanOrEqual(1);

    alice3 = await client('alice3', [a, b], { stub: true });
    await signIn(alice3, 'alice');
    const p = alice3.page;
    await expectText(p.locator('#notif-count'), String(unread));
    // Its name says the words and the visible count (aria-labelledby).
    await p.getByRole('button', { name: `Notifications, unread ${unread}`, exact: true }).waitFor();
    await expectContainsText(roomRow(alice3, 'news').locator('.mention-badge'), '@ 1');
    await p.locator('#notif-btn').click();
    const line = p.locator('.notif-item[data-kind="mention"]');
    await line.waitFor();
    await expectContainsText(line, 'bob mentioned you');
    await expectContainsText(line, '# news');
    await expectContainsText(line, 'please look at this');
    await expectClass(line.locator('xpath=..'), 'unread');
    await p.screenshot({ path: `${SHOTS}/attention-panel.png` });
    expect(await seriousViolations(alice3)).toEqual([]);

    await line.click();
    await expectText(p.locator('#room-title'), '# news');
    const msg = timelineMessage(alice3, '@alice please look at this');
    await msg.waitFor({ timeout: 20_000 });
    await eventually(() => inView(alice3, '@alice please look at this'), (v) => v, 'the mention in view');
    await expectClass(msg, 'mentions-me');
    await expectText(msg.locator('.msg-text mark'), '@alice');
    // Paged back: the join backlog held the newest 20 only.
    expect(await p.locator('#message-list .msg[data-id]').count()).toBeGreaterThan(60);
    await expectText(p.locator('#notif-count'), unread - 1 ? String(unread - 1) : '');
    await p.screenshot({ path: `${SHOTS}/attention-opened.png` });
    expect(await seriousViolations(alice3)).toEqual([]);
  });

  it('desktop notifications: asked from a click only, shown while the tab is hidden, a click opens the message; none while "do not disturb" is on', async () => {
    const p = alice3.page;
    expect(await p.evaluate('window.__asked.length')).toBe(0); // never on load
    await p.locator('#notif-btn').click();
    const enable = p.locator('#notif-desktop');
    await enable.waitFor();
    await enable.click();
    await enable.waitFor({ state: 'hidden' });
    expect(await p.evaluate('window.__asked')).toEqual([true]); // from the click (a user activation)
    await expectText(p.locator('#notif-desktop-state'), 'Desktop notifications are on for this browser.');
    await p.keyboard.press('Escape');
    await p.locator('#notif-panel').waitFor({ state: 'hidden' });

    await roomRow(alice3, 'general').click();
    await expectText(p.locator('#room-title'), '# general');
    await setVisibility(alice3, 'hidden');
    await sendViaUi(bob, 'are you around?');
    await eventually(() => p.evaluate('window.__notes.length'), (n) => n === 1, 'one desktop notification');
    const note = await p.evaluate('({ title: window.__notes[0].title, body: window.__notes[0].body, tag: window.__notes[0].tag })');
    const frame = alice3.received.find((f) => f.type === 'notify' && f.notification.text === 'are you around?');
    expect(note).toEqual({ title: 'bob sent you a message', body: 'are you around?', tag: frame.notification.id });
    // Hidden: not read, so counted.
    await eventually(() => p.title(), (t) => /^\(\d+\) /.test(t), 'a count in the hidden tab\'s title');

    await setVisibility(alice3, 'visible');
    await p.evaluate('window.__notes[0].onclick()');
    await expectText(p.locator('#room-title'), '@ bob');
    await eventually(() => inView(alice3, 'are you around?'), (v) => v, 'the DM in view');
    expect(await p.evaluate('window.__notes[0].closed')).toBe(true);

    // Do not disturb: the header says so; the inbox still gets the DM, but no frame, no pop-up.
    await p.locator('#notif-btn').click();
    await p.locator('#notif-dnd').click();
    await expectAttr(p.locator('#notif-dnd'), 'aria-pressed', 'true');
    await p.keyboard.press('Escape');
    await p.locator('#dnd-pill').waitFor();
    await expectText(p.locator('#notif-icon'), '🔕');
    await roomRow(alice3, 'general').click();
    await setVisibility(alice3, 'hidden');
    await sendViaUi(bob, 'quiet please');
    await eventually(
      () => rest<{ notifications: any[] }>(stack.origin, 'GET', '/api/me/notifications', undefined, aliceToken),
      (res) => res.body.notifications.some((n) => n.text === 'quiet please'),
      'the DM stored in her inbox during DND',
    );
    // DND off again: the next DM's frame and pop-up come — after any the quiet one could have had.
    await setVisibility(alice3, 'visible');
    await p.locator('#notif-btn').click();
    await p.locator('#notif-dnd').click();
    await expectAttr(p.locator('#notif-dnd'), 'aria-pressed', 'false');
    await p.keyboard.press('Escape');
    await setVisibility(alice3, 'hidden');
    await sendViaUi(bob, 'back again');
    await eventually(() => p.evaluate('window.__notes.length'), (n) => n === 2, 'the pop-up after DND');
    expect(await p.evaluate('window.__notes.map((n) => n.body)')).toEqual(['are you around?', 'back again']);
    expect(alice3.received.filter((f) => f.type === 'notify' && f.notification.text === 'quiet please')).toEqual([]);
    await setVisibility(alice3, 'visible');
  });

  it('"Mute notifications" on a room: its badge is dimmed and left out of the title count', async () => {
    const p = alice3.page;
    // The DMs that came while the tab was hidden are read first: nothing else is unread.
    await dmRow(alice3, 'bob').click();
    await timelineMessage(alice3, 'back again').waitFor();
    await roomRow(alice3, 'news').click();
    await expectText(p.locator('#room-title'), '# news');
    await p.locator('#room-menu-btn').click();
    await p.getByRole('menuitem', { name: 'Mute notifications' }).click();
    await expectContainsText(p.locator('#toasts'), 'Notifications from news are muted');
    await eventually(() => myRoom(aliceToken, 'news'), (r) => r?.muted === true, 'muted in GET /api/me/rooms');
    await roomRow(alice3, 'general').click();
    await expectText(p.locator('#room-title'), '# general');
    await eventually(() => p.title(), (t) => !t.startsWith('('), 'no count before');
    await bobWs.send('news', 'muted chatter', 'muted-1');
    await expectText(roomRow(alice3, 'news').locator('.badge'), '1');
    await expectClass(roomRow(alice3, 'news'), 'notify-muted');
    expect(await p.title()).toBe('# general · AuroraChat');
  });

  it('@name completion: the members of the room are offered, Enter puts the name in; the mentioned user gets a mention badge and a notification', async () => {
    const p = alice3.page;
    await roomRow(alice3, 'news').click();
    await expectText(p.locator('#room-title'), '# news');
    const box = p.locator('#composer-input');
    await box.fill('');
    await box.pressSequentially('thanks @b');
    await expectContainsText(p.locator('#mention-list .mention-option.active'), '@bob');
    await expectAttr(box, 'aria-activedescendant', 'mention-list-0');
    await box.press('Enter'); // chooses, does not send
    expect(await box.inputValue()).toBe('thanks @bob ');
    await p.locator('#mention-list').waitFor({ state: 'hidden' });
    await box.pressSequentially('for the news');
    await box.press('Enter');
    const sent = timelineMessage(alice3, 'thanks @bob for the news');
    await sent.waitFor();
    await expectText(sent.locator('mark'), '@bob');
    await expectClass(sent, 'mentions-me', false);
    // bob (not in the room on screen) gets the mention counted and notified.
    await expectContainsText(roomRow(bob, 'news').locator('.mention-badge'), '@ 1');
    await eventually(() => Promise.resolve(bob.received.some((f) => f.type === 'notify' && f.notification.kind === 'mention')), (v) => v, 'bob\'s mention notification');
    await expectText(bob.page.locator('#notif-count'), /^\d+$/);
  });

  it('a reply to my message is a notification that opens its thread at the reply', async () => {
    const p = alice3.page;
    const aliceWs = await wsClient(a, aliceToken, stack.origin);
    await aliceWs.join('general');
    const parent = await aliceWs.send('general', 'a question for the thread', 'thread-parent');
    aliceWs.close();
    await bobWs.join('general');
    bobWs.ws.send(JSON.stringify({ type: 'send', room: 'general', text: 'an answer in the thread', cid: 'thread-reply', replyTo: parent.id }));
    const ack = await bobWs.next((f) => f.type === 'ack' && f.cid === 'thread-reply');
    await eventually(() => Promise.resolve(alice3.received.some((f) => f.type === 'notify' && f.notification.kind === 'reply')), (v) => v, 'her reply notification');
    if (await p.locator('#notif-panel').isHidden()) await p.locator('#notif-btn').click();
    const line = p.locator('.notif-item[data-kind="reply"]');
    await line.waitFor();
    await line.click();
    await expectText(p.locator('#room-title'), '# general');
    await p.locator(`#thread-list [data-id="${ack.id}"]`).waitFor({ timeout: 20_000 });
  });

  it('reported no CSP violation, script error or dialog in any page', () => {
    for (const c of clients) {
      expect(c.problems, `${c.name}: problems`).toEqual([]);
      expect(c.dialogs, `${c.name}: dialogs`).toEqual([]);
    }
  });
});
