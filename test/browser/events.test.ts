// Messages that change (issue 13) in real Chromium against the real services: two users on two
// replicas (alice starts on chat-a, bob on chat-b) edit, delete, react and reply in threads,
// and see each other's changes live; a user whose connection was frozen sees what they missed
// after the resume, without a reload. Screenshots go to test-results/screenshots/.
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Locator } from 'playwright-core';
import { eventually, expectAttr, expectClass, expectCount, expectFocused, expectOnScreen, expectText, expectValue } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectConnected, expectJoinedHere, openClient, registerViaUi, sendViaUi, timelineMessage, type Client } from './page-client.js';
import { registerAndLogin, rest, startProxy, startStack, waitFor, wsClient, type Stack, type TcpProxy } from './stack.js';

const SHOTS = 'test-results/screenshots';
const PASSWORD = 'correct-horse-42';

let stack: Stack;
let browser: Browser;
const proxies: Record<string, TcpProxy> = {};
let alice: Client;
let bob: Client;
const clients: Client[] = [];

/** The timeline element of message `id` (found by id: a deleted message has no text left). */
const byId = (c: Client, id: string) => c.page.locator(`#message-list .msg[data-id="${id}"]`);
const threadReply = (c: Client, id: string) => c.page.locator(`#thread-list .msg[data-id="${id}"]`);

/** Sends `text` from the room's composer and returns the id it got, once `other` has it too. */
async function sendAndSee(from: Client, other: Client, text: string): Promise<string> {
  await sendViaUi(from, text);
  const mine = timelineMessage(from, text);
  await mine.waitFor({ timeout: 20_000 });
  await timelineMessage(other, text).waitFor({ timeout: 20_000 });
  return (await mine.getAttribute('data-id'))!;
}

async function action(msg: Locator, name: 'react' | 'reply' | 'edit' | 'delete') {
  await msg.hover();
  await msg.locator(`.msg-actions [data-action="${name}"]`).click();
}

const chip = (msg: Locator, emoji: string) => msg.locator('.reaction[data-emoji]').filter({ hasText: emoji });

async function expectChip(msg: Locator, emoji: string, count: number, mine: boolean) {
  await expectText(chip(msg, emoji).locator('.reaction-count'), String(count));
  await expectAttr(chip(msg, emoji), 'aria-pressed', String(mine));
}

describe('messages that change, in the browser, across two replicas', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    mkdirSync(SHOTS, { recursive: true });
    const chatA = () => stack.chatA.port;
    const chatB = () => stack.chatB.port;
    for (const [name, port] of [['aliceA', chatA], ['aliceB', chatB], ['bobB', chatB], ['bobA', chatA]] as const) proxies[name] = await startProxy(port);
    stack = await startStack({ usersEnv: { PUBLIC_WS_URL: Object.values(proxies).map((p) => p.wsUrl).join(',') } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    alice = await openClient(browser, stack.origin, 'alice', [proxies.aliceA!.wsUrl, proxies.aliceB!.wsUrl]);
    bob = await openClient(browser, stack.origin, 'bob', [proxies.bobB!.wsUrl, proxies.bobA!.wsUrl]);
    clients.push(alice, bob);
    await registerViaUi(alice, 'alice', PASSWORD);
    await registerViaUi(bob, 'bob', PASSWORD);
    await expectJoinedHere(alice, 'general');
    await expectJoinedHere(bob, 'general');
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    for (const p of Object.values(proxies)) await p.close().catch(() => {});
    await stack?.stop();
  });

  it('edits inline: Escape cancels, Enter saves, and both users see the new text marked "(edited)"', async () => {
    const id = await sendAndSee(alice, bob, 'helo wrld');
    const mine = byId(alice, id);
    // Only the author is offered edit and delete.
    await byId(bob, id).hover();
    await expectCount(byId(bob, id).locator('[data-action="edit"], [data-action="delete"]'), 0);

    await action(mine, 'edit');
    const editor = mine.locator('.msg-editor-input');
    await expectFocused(editor);
    await expectValue(editor, 'helo wrld');
    await editor.fill('this is thrown away');
    await editor.press('Escape');
    await expectCount(mine.locator('.msg-editor'), 0);
    await expectText(mine.locator('.msg-text'), 'helo wrld');
    expect(alice.sent.filter((f) => f.type === 'edit')).toEqual([]);

    await action(mine, 'edit');
    await mine.locator('.msg-editor-input').fill('hello world');
    await mine.locator('.msg-editor-input').press('Enter');
    for (const c of [alice, bob]) {
      await expectText(byId(c, id).locator('.msg-text'), 'hello world');
      await expectText(byId(c, id).locator('.msg-edited'), '(edited)');
    }
    await expectCount(mine.locator('.msg-change'), 0); // no longer pending
    const edits = alice.sent.filter((f) => f.type === 'edit');
    expect(edits).toEqual([expect.objectContaining({ room: 'general', id, text: 'hello world' })]);
    expect(alice.received.some((f) => f.type === 'ack' && f.cid === edits[0].cid)).toBe(true);
    // Bob got it as an event frame on his replica.
    expect(bob.received.some((f) => f.type === 'event' && f.kind === 'edit' && f.target === id && f.text === 'hello world')).toBe(true);
    await bob.page.screenshot({ path: `${SHOTS}/edited-desktop.png` });
  });

  it('Up arrow in an empty composer edits my last message and gives the composer its focus back', async () => {
    const id = await sendAndSee(alice, bob, 'my last mesage');
    await sendAndSee(bob, alice, 'bob talks after it'); // the newest message is not mine
    const box = alice.page.locator('#composer-input');
    await box.fill('');
    await box.press('ArrowUp');
    const editor = byId(alice, id).locator('.msg-editor-input');
    await expectFocused(editor);
    await expectValue(editor, 'my last mesage');
    await editor.fill('my last message');
    await editor.press('Enter');
    await expectFocused(box);
    await expectText(byId(bob, id).locator('.msg-text'), 'my last message');
    // With text in the box, Up is just a caret move.
    await box.fill('draft');
    await box.press('ArrowUp');
    await expectCount(alice.page.locator('.msg-editor'), 0);
    await box.fill('');
  });

  it('deletes after a confirmation and leaves a tombstone in place for everyone', async () => {
    const id = await sendAndSee(alice, bob, 'oops, wrong room');
    await action(byId(alice, id), 'delete');
    const dialog = alice.page.locator('#confirm-dialog');
    await dialog.waitFor({ state: 'visible' });
    await expectText(dialog.locator('#confirm-preview'), 'oops, wrong room');
    await alice.page.screenshot({ path: `${SHOTS}/delete-confirm.png` });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(alice.sent.filter((f) => f.type === 'delete')).toEqual([]);
    await expectText(byId(alice, id).locator('.msg-text'), 'oops, wrong room');

    await action(byId(alice, id), 'delete');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    for (const c of [alice, bob]) {
      await expectText(byId(c, id).locator('.msg-tombstone'), 'message deleted');
      await expectCount(byId(c, id).locator('.msg-text'), 0);
      expect(await byId(c, id).textContent()).not.toContain('wrong room');
      await expectCount(byId(c, id).locator('.msg-actions'), 0);
    }
    expect(alice.dialogs).toEqual([]); // our own dialog, not window.confirm
  });

  it('reactions toggle with absolute counts, mine highlighted, the picker remembering what I used', async () => {
    const id = await sendAndSee(bob, alice, 'react to me');
    await action(byId(alice, id), 'react');
    const picker = alice.page.locator('.emoji-picker');
    await picker.waitFor();
    await picker.getByRole('button', { name: 'thumbs up' }).first().click();
    await picker.waitFor({ state: 'detached' });
    await expectChip(byId(alice, id), '👍', 1, true);
    await expectChip(byId(bob, id), '👍', 1, false);

    // Bob adds his by clicking the chip: 2 everywhere, each seeing their own as pressed.
    await chip(byId(bob, id), '👍').click();
    await expectChip(byId(bob, id), '👍', 2, true);
    await expectChip(byId(alice, id), '👍', 2, true);
    await bob.page.screenshot({ path: `${SHOTS}/reactions.png` });

    // Alice takes hers back.
    await chip(byId(alice, id), '👍').click();
    await expectChip(byId(alice, id), '👍', 1, false);
    await expectChip(byId(bob, id), '👍', 1, true);

    // The picker now starts with what alice used.
    await action(byId(alice, id), 'react');
    await expectText(picker.locator('.emoji-section').first().locator('.emoji-heading'), 'Recently used');
    await expectText(picker.locator('.emoji-section').first().locator('.emoji-btn').first(), '👍');
    await alice.page.keyboard.press('Escape');
    await picker.waitFor({ state: 'detached' });

    // Bob's off: the chip goes away for both.
    await chip(byId(bob, id), '👍').click();
    for (const c of [alice, bob]) await expectCount(byId(c, id).locator('.reaction[data-emoji]'), 0);
    for (const c of [alice, bob]) expect(c.sent.filter((f) => f.type === 'react' && f.id === id).map((f) => f.on)).toEqual([true, false]);
  });

  it('a refused reaction (past 20 different emoji) is rolled back and explained', async () => {
    const id = await sendAndSee(bob, alice, 'a very popular message');
    // 20 different emoji from a protocol client, the most one message may carry.
    const seed = await registerAndLogin(stack.users.baseUrl, 'seeder', PASSWORD);
    const ws = await wsClient(`ws://127.0.0.1:${stack.chatA.port}/ws`, seed.token, stack.origin);
    await ws.join('general');
    const twenty = ['❤️', '😂', '🎉', '😮', '😢', '🙏', '👀', '🔥', '✅', '👎', '🚀', '💯', '😄', '🤔', '👏', '🙌', '😅', '😍', '🤝', '💡'];
    for (const [i, emoji] of twenty.entries()) {
      ws.ws.send(JSON.stringify({ type: 'react', room: 'general', id, emoji, on: true, cid: `seed-${i}` }));
      const f = await ws.next((x) => (x.type === 'ack' && x.cid === `seed-${i}`) || (x.type === 'error' && x.ref === `seed-${i}`));
      expect(f.type).toBe('ack');
    }
    ws.close();
    await expectCount(byId(alice, id).locator('.reaction[data-emoji]'), 20);

    await action(byId(alice, id), 'react');
    // (👍 is in "Recently used" and in "Common" now.)
    await alice.page.locator('.emoji-picker').getByRole('button', { name: 'thumbs up' }).first().click();
    const toast = alice.page.locator('#toasts .toast.error', { hasText: 'most different reactions' });
    await toast.waitFor({ timeout: 15_000 });
    await expectCount(chip(byId(alice, id), '👍'), 0);
    await expectCount(byId(alice, id).locator('.reaction[data-emoji]'), 20);
    expect(alice.received.some((f) => f.type === 'error' && f.code === 'limit_reached')).toBe(true);
  });

  it('replies in a thread: a panel with its own composer, "N replies" live under the parent, never in the timeline', async () => {
    const parent = await sendAndSee(alice, bob, 'who is up for lunch?');
    await action(byId(bob, parent), 'reply');
    const panel = bob.page.locator('#thread');
    await panel.waitFor({ state: 'visible' });
    await expectText(panel.locator('#thread-parent .msg-text'), 'who is up for lunch?');
    await expectFocused(bob.page.locator('#thread-input'));
    await bob.page.locator('#thread-input').fill('me! 12:30?');
    await bob.page.locator('#thread-input').press('Enter');
    const bobReply = panel.locator('#thread-list .msg[data-id]', { hasText: 'me! 12:30?' });
    await bobReply.waitFor();

    // Alice: the count under her message, live, and the reply not in her timeline.
    await expectText(byId(alice, parent).locator('.thread-count'), '1 reply');
    await expectText(byId(bob, parent).locator('.thread-count'), '1 reply');
    await expectCount(alice.page.locator('#message-list .msg-text', { hasText: 'me! 12:30?' }), 0);
    await expectCount(bob.page.locator('#message-list .msg-text', { hasText: 'me! 12:30?' }), 0);

    // She opens the thread from the count and answers; bob's open panel gets it live.
    await byId(alice, parent).locator('.thread-summary').click();
    await alice.page.locator('#thread-list .msg[data-id]', { hasText: 'me! 12:30?' }).waitFor();
    await alice.page.locator('#thread-input').fill('12:30 it is');
    await alice.page.locator('#thread-input').press('Enter');
    await panel.locator('#thread-list .msg[data-id]', { hasText: '12:30 it is' }).waitFor();
    for (const c of [alice, bob]) {
      await expectText(byId(c, parent).locator('.thread-count'), '2 replies');
      await expectText(c.page.locator('#thread-replies'), '2 replies');
    }
    const sends = alice.sent.filter((f) => f.type === 'send' && f.text === '12:30 it is');
    expect(sends).toEqual([expect.objectContaining({ replyTo: parent })]);
    await bob.page.screenshot({ path: `${SHOTS}/thread-desktop.png` });

    // Up arrow in the thread's composer edits my last reply there; deleting it lowers the count.
    const replyId = (await bobReply.getAttribute('data-id'))!;
    await bob.page.locator('#thread-input').press('ArrowUp');
    const editor = threadReply(bob, replyId).locator('.msg-editor-input');
    await expectFocused(editor);
    await editor.fill('me! 12:45?');
    await editor.press('Enter');
    await new Promise((r) => setTimeout(r, 1500));
    await expectText(threadReply(alice, replyId).locator('.msg-text'), 'me! 12:45?');
    await threadReply(bob, replyId).hover();
    await threadReply(bob, replyId).locator('[data-action="delete"]').click();
    await bob.page.locator('#confirm-dialog').getByRole('button', { name: 'Delete' }).click();
    await expectText(threadReply(alice, replyId).locator('.msg-tombstone'), 'message deleted');
    for (const c of [alice, bob]) await expectText(byId(c, parent).locator('.thread-count'), '1 reply');

    // A fresh page loads the thread from REST history (once the worker has stored it).
    await waitFor(
      async () => {
        const r = await rest<{ replies: { text: string }[] }>(stack.users.baseUrl, 'GET', `/api/rooms/general/messages/${parent}/replies`, undefined, await tokenOf(bob));
        return r.status === 200 && r.body.replies.some((m) => m.text === '12:30 it is');
      },
      { timeoutMs: 20_000, what: 'the thread stored' },
    );
    await bob.page.reload();
    await expectJoinedHere(bob, 'general');
    await byId(bob, parent).locator('.thread-summary').click();
    await bob.page.locator('#thread-list .msg[data-id]', { hasText: '12:30 it is' }).waitFor();
    await expectText(threadReply(bob, replyId).locator('.msg-tombstone'), 'message deleted');
    await bob.page.locator('#thread-close').click();
    await alice.page.locator('#thread-close').click();
    await panel.waitFor({ state: 'hidden' });
  });

  it('a user whose connection froze sees the edit, the delete and the reaction they missed after the resume, without a reload', async () => {
    const edited = await sendAndSee(alice, bob, 'I will change this');
    const deleted = await sendAndSee(alice, bob, 'and take this back');
    await expectJoinedHere(bob, 'general');
    const hellos = bob.hellos.length;
    await bob.page.evaluate('window.__sameDocument = true');
    // Freeze bob: his open connection carries nothing either way, new ones are refused.
    for (const p of [proxies.bobA!, proxies.bobB!]) {
      p.setMode('refuse');
      p.silenceOpen();
    }
    await action(byId(alice, edited), 'edit');
    await byId(alice, edited).locator('.msg-editor-input').fill('I changed this while bob was away');
    await byId(alice, edited).locator('.msg-editor-input').press('Enter');
    await action(byId(alice, deleted), 'delete');
    await alice.page.locator('#confirm-dialog').getByRole('button', { name: 'Delete' }).click();
    await action(byId(alice, edited), 'react');
    await alice.page.locator('.emoji-picker').getByRole('button', { name: 'eyes' }).first().click();
    await expectText(byId(alice, deleted).locator('.msg-tombstone'), 'message deleted');
    await expectChip(byId(alice, edited), '👀', 1, true);
    await expectCount(alice.page.locator('#message-list .msg.change-pending'), 0); // all acked
    // Bob still shows the old state: he has not heard of it.
    await expectText(byId(bob, edited).locator('.msg-text'), 'I will change this');
    await expectText(byId(bob, deleted).locator('.msg-text'), 'and take this back');

    for (const p of [proxies.bobA!, proxies.bobB!]) p.setMode('pass');
    await waitFor(() => bob.hellos.length > hellos, { timeoutMs: 30_000, what: 'bob reconnected after a missed pong' });
    await expectConnected(bob, 40_000);
    await expectText(byId(bob, edited).locator('.msg-text'), 'I changed this while bob was away');
    await expectText(byId(bob, edited).locator('.msg-edited'), '(edited)');
    await expectText(byId(bob, deleted).locator('.msg-tombstone'), 'message deleted');
    await expectChip(byId(bob, edited), '👀', 1, false);
    expect(await bob.page.evaluate('window.__sameDocument === true')).toBe(true);
    // It came from the resume (join … since), as events, not from a history reload.
    const resumed = bob.received.filter((f) => f.type === 'joined' && f.room === 'general').at(-1);
    expect(resumed.recovered).toBe(true);
    expect(resumed.events.map((e: { kind: string; target: string }) => `${e.kind} ${e.target}`)).toEqual(
      expect.arrayContaining([`edit ${edited}`, `delete ${deleted}`, `react ${edited}`]),
    );
    await eventually(async () => (await byId(bob, deleted).textContent()) ?? '', (t) => !t.includes('take this back'), 'the deleted text gone');
  });

  it('on a 360 px touch screen a long press shows the actions, and the thread panel fits the screen', async () => {
    const carol = await openClient(browser, stack.origin, 'carol', [proxies.bobA!.wsUrl, proxies.bobB!.wsUrl], { width: 360, height: 740 }, { hasTouch: true });
    clients.push(carol);
    await registerViaUi(carol, 'carol', PASSWORD);
    await expectJoinedHere(carol, 'general');
    const id = await sendAndSee(alice, carol, 'hold me to reply');
    const msg = byId(carol, id);
    await msg.scrollIntoViewIfNeeded();
    const box = (await msg.locator('.msg-text').boundingBox())!;
    const at = { pointerType: 'touch', isPrimary: true, clientX: box.x + 5, clientY: box.y + 5, bubbles: true };
    // A short tap shows nothing; a press held past the long-press time shows the toolbar.
    await msg.locator('.msg-text').dispatchEvent('pointerdown', at);
    await msg.locator('.msg-text').dispatchEvent('pointerup', at);
    await carol.page.waitForTimeout(700);
    await expectClass(msg, 'show-actions', false);
    await msg.locator('.msg-text').dispatchEvent('pointerdown', at);
    await expectClass(msg, 'show-actions', true);
    await msg.locator('.msg-text').dispatchEvent('pointerup', at);
    await msg.locator('[data-action="reply"]').tap();
    await carol.page.locator('#thread').waitFor({ state: 'visible' });
    await expectOnScreen(carol.page.locator('#thread'), 360);
    expect(await carol.page.evaluate('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);
    await carol.page.locator('#thread-input').fill('replying from a phone');
    await carol.page.locator('#thread-input').press('Enter');
    await expectText(byId(alice, id).locator('.thread-count'), '1 reply');
    await carol.page.screenshot({ path: `${SHOTS}/thread-phone.png` });
    await carol.page.locator('#thread-close').tap();
    await carol.page.locator('#thread').waitFor({ state: 'hidden' });
  });

  it('reported no CSP violation, script error or dialog in any page', async () => {
    for (const c of clients) {
      expect(c.problems, `${c.name}: ${c.problems.join('\n')}`).toEqual([]);
      expect(c.dialogs).toEqual([]);
    }
  });
});

async function tokenOf(c: Client): Promise<string> {
  return c.page.evaluate("JSON.parse(localStorage.getItem('aurora.session')).token");
}
