// Account deletion in the browser (issue 16), in real Chromium against the real stack: zelda
// deletes her account from the profile screen — a wrong password first (refused inline, nothing
// happens), then the right one — and lands on the sign-in screen told so, her device's state of
// her forgotten. bob, live and after a reload, sees her messages as from "Deleted user" with a
// "?" avatar (her name nowhere in the message list, system lines included) and their DM with its
// composer disabled. With DELETE_MESSAGES_WITH_ACCOUNT (a second users service on the same
// store and Redis) a deleted account's messages turn into tombstones on bob's screen at once.
// Also the leftovers: files attached in the thread panel's own box, and @name completion that
// shows display names.
import { AxeBuilder } from '@axe-core/playwright';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Locator } from 'playwright-core';
import sharp from 'sharp';
import { eventually, expectClass, expectContainsText, expectCount, expectFocused, expectText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectConnected, expectJoinedHere, openClient, registerViaUi, sendViaUi, timelineMessage, type Client } from './page-client.js';
import { JWT_SECRET, registerAndLogin, rest, startStack, wsClient, type Stack } from './stack.js';
import { startService, type RunningService } from '../helpers/service.js';

const PASSWORD = 'correct-horse-42';

let stack: Stack;
let browser: Browser;
let zelda: Client;
let bob: Client;
let purgingUsers: RunningService | null = null;
const clients: Client[] = [];

const author = (c: Client, text: string) => timelineMessage(c, text).locator('.msg-author');
const avatarBox = (c: Client, text: string) => timelineMessage(c, text).locator(':scope > .avatar');
const dmRow = (c: Client) => c.page.locator('#dm-list .room-btn[data-room^="dm:"]');
const listText = (c: Client) => c.page.locator('#message-list').evaluate((el) => el.textContent || '');
const userIdOf = (c: Client): Promise<string> => c.page.evaluate("JSON.parse(localStorage.getItem('aurora.session')).user.id");
const storedKeys = (c: Client): Promise<string[]> => c.page.evaluate('Object.keys(localStorage)');

async function openDmWith(c: Client, username: string) {
  await c.page.locator('#dm-input').fill(username);
  await c.page.locator('#dm-results button', { hasText: username }).click();
  await expectText(c.page.locator('#room-title'), `@ ${username}`);
}

/** bob's view of zelda's account as deleted: in general and in their DM. */
async function expectZeldaShownDeleted() {
  await bob.page.locator('#room-list .room-btn[data-room="general"]').click();
  await expectText(author(bob, 'the tea is ready'), 'Deleted user');
  await expectText(avatarBox(bob, 'the tea is ready'), '?');
  await expectClass(avatarBox(bob, 'the tea is ready'), 'avatar-deleted');
  await eventually(() => listText(bob), (t) => t.includes('Deleted user') && !t.includes('zelda'), 'no old name in the message list');
  await expectText(dmRow(bob).locator('.room-name-text'), 'Deleted user');
  await dmRow(bob).click();
  await expectText(bob.page.locator('#room-title'), '@ Deleted user');
  // The history stays readable; nothing can be sent.
  await expectText(author(bob, 'a private word'), 'Deleted user');
  await expectText(bob.page.locator('#composer-error'), 'This account was deleted');
  await eventually(() => bob.page.locator('#composer-input').isDisabled(), Boolean, 'the box disabled');
  expect(await bob.page.locator('#composer-send').isDisabled()).toBe(true);
  expect(await bob.page.locator('#attach-btn').isDisabled()).toBe(true);
  await eventually(() => listText(bob), (t) => !t.includes('zelda'), 'no old name in the DM');
}

describe('account deletion in the browser', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    stack = await startStack();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const a = `ws://127.0.0.1:${stack.chatA.port}/ws`;
    const b = `ws://127.0.0.1:${stack.chatB.port}/ws`;
    zelda = await openClient(browser, stack.origin, 'zelda', [a, b]);
    bob = await openClient(browser, stack.origin, 'bob', [b, a]);
    clients.push(zelda, bob);
    for (const c of clients) {
      await registerViaUi(c, c.name, PASSWORD);
      await expectJoinedHere(c, 'general');
    }
  }, 60_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await purgingUsers?.stop('SIGKILL').catch(() => {});
    await stack?.stop();
  });

  it('a wrong password changes nothing; the right one signs out to a notice, and others see "Deleted user" live and after a reload', async () => {
    await sendViaUi(zelda, 'the tea is ready');
    await expectText(author(bob, 'the tea is ready'), 'zelda');
    await openDmWith(zelda, 'bob');
    await sendViaUi(zelda, 'a private word');
    await dmRow(bob).click();
    await expectText(author(bob, 'a private word'), 'zelda');
    await bob.page.locator('#room-list .room-btn[data-room="general"]').click();
    const zeldaId = await userIdOf(zelda);
    expect((await storedKeys(zelda)).some((k) => k.endsWith(`.${zeldaId}`))).toBe(true);

    const deletes: string[] = [];
    zelda.page.on('request', (r) => r.method() === 'DELETE' && new URL(r.url()).pathname === '/api/me' && deletes.push(r.url()));
    await zelda.page.locator('#me-profile').click();
    await zelda.page.locator('#profile-dialog[open]').waitFor();
    await zelda.page.locator('#delete-start').click();
    await expectText(zelda.page.locator('#delete-consequence'), 'Your account, sessions and room memberships are removed. This cannot be undone.');
    await expectFocused(zelda.page.locator('#delete-password'));
    await zelda.page.locator('#delete-password').fill('not-my-password');
    await zelda.page.locator('#delete-confirm').click();
    await expectText(zelda.page.locator('#delete-msg'), 'Wrong password.');
    // The section as axe sees it, the refusal shown: nothing serious (names, contrast, roles).
    for (const colorScheme of ['dark', 'light'] as const) {
      await zelda.page.emulateMedia({ colorScheme });
      await zelda.page.waitForFunction(() => (globalThis as any).document.getAnimations().length === 0, undefined, { timeout: 5000 });
      const axe = await new AxeBuilder({ page: zelda.page }).include('#profile-dialog').withTags(['wcag2a', 'wcag2aa', 'wcag21aa']).analyze();
      expect(axe.passes.some((r) => r.id === 'color-contrast'), 'axe measured contrast').toBe(true);
      expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${colorScheme}: ${v.id} ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
    }
    await expectConnected(zelda);
    expect(await zelda.page.locator('#profile-dialog').evaluate((el: any) => el.open)).toBe(true);
    // Asked once, not twice: a wrong password is no reason to refresh the token and try again
    // (each try counts as a failed sign-in against the throttle).
    expect(deletes.length).toBe(1);

    await zelda.page.locator('#delete-password').fill(PASSWORD);
    await zelda.page.locator('#delete-confirm').click();
    await zelda.page.locator('#auth-form').waitFor({ state: 'visible', timeout: 20_000 });
    await expectText(zelda.page.locator('#auth-notice'), 'Your account was deleted.');
    expect(await zelda.page.locator('#app').evaluate((el: any) => el.hidden)).toBe(true);
    // The device forgot her: no session, nothing kept under her id.
    await eventually(() => storedKeys(zelda), (keys) => !keys.includes('aurora.session') && !keys.some((k) => k.endsWith(`.${zeldaId}`)), 'her state forgotten');
    expect(await rest(stack.origin, 'POST', '/api/auth/login', { username: 'zelda', password: PASSWORD }).then((r) => r.status)).toBe(401);

    // bob, live: the `profile` frame turned her into "Deleted user" everywhere.
    await expectZeldaShownDeleted();
    await bob.page.reload();
    await expectJoinedHere(bob, 'general');
    await expectZeldaShownDeleted();
    for (const c of clients) expect(c.problems, c.name).toEqual([]);
  });

  it('with DELETE_MESSAGES_WITH_ACCOUNT, a deleted account\'s messages become tombstones on screen at once', async () => {
    // A users service that removes the messages of deleted accounts, on the same store and Redis.
    purgingUsers = await startService('users', {
      REDIS_URL: stack.redis.url,
      JWT_SECRET,
      SQLITE_PATH: join(stack.dir, 'aurora.db'),
      BCRYPT_COST: '4',
      PUBLIC_WS_URL: `ws://127.0.0.1:${stack.chatA.port}/ws`,
      DELETE_MESSAGES_WITH_ACCOUNT: 'true',
    });
    const yuki = await registerAndLogin(stack.origin, 'yuki', PASSWORD);
    expect((await rest(stack.origin, 'POST', '/api/rooms/general/members', { userId: yuki.user.id }, yuki.token)).status).toBeLessThan(300);
    const ws = await wsClient(`ws://127.0.0.1:${stack.chatA.port}/ws`, yuki.token, stack.origin);
    await ws.join('general');
    const { id } = await ws.send('general', 'soon to be gone', 'yuki-1');
    await bob.page.locator('#room-list .room-btn[data-room="general"]').click();
    const msg = bob.page.locator(`#message-list .msg[data-id="${id}"]`);
    await expectText(msg.locator('.msg-text'), 'soon to be gone');

    const del = await rest(purgingUsers.baseUrl, 'DELETE', '/api/me', { password: PASSWORD }, yuki.token);
    expect(del.status).toBe(204);
    await expectClass(msg, 'deleted');
    await expectCount(msg.locator('.msg-tombstone'), 1);
    await expectCount(msg.locator('.msg-text'), 0);
    await expectText(msg.locator('.msg-author'), 'Deleted user');
    ws.close();
  });

  it('the thread panel attaches files like the room box: the reply carries replyTo and the files', async () => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 80, b: 40 } } }).png().toBuffer();
    await sendViaUi(bob, 'thread with a picture');
    const parent = timelineMessage(bob, 'thread with a picture');
    const parentId = (await parent.getAttribute('data-id'))!;
    await parent.hover();
    await parent.locator('.msg-actions [data-action="reply"]').click();
    await bob.page.locator('#thread').waitFor({ state: 'visible' });
    await bob.page.locator('#thread-attach-input').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: png });
    await eventually(() => bob.page.locator('#thread-attach-strip .attach-item').getAttribute('data-state'), (s) => s === 'done', 'the upload finished');
    // The room's own box has nothing queued: the thread's files are its own.
    await expectCount(bob.page.locator('#attach-strip .attach-item'), 0);
    await bob.page.locator('#thread-input').fill('here it is');
    await bob.page.locator('#thread-input').press('Enter');
    const reply = bob.page.locator('#thread-list .msg[data-id]', { hasText: 'here it is' });
    await reply.locator('.msg-files').waitFor();
    await expectCount(bob.page.locator('#thread-attach-strip .attach-item'), 0);
    const sent = bob.sent.find((f) => f.type === 'send' && f.text === 'here it is');
    expect(sent).toMatchObject({ replyTo: parentId, attachments: [expect.any(String)] });
    await bob.page.locator('#thread-close').click();
  });

  it('@name completion shows the display name beside the @username, matches it, and inserts the username', async () => {
    const carol = await registerAndLogin(stack.origin, 'carol', PASSWORD);
    expect((await rest(stack.origin, 'PATCH', '/api/me', { displayName: 'Carol Danvers' }, carol.token)).status).toBe(200);
    expect((await rest(stack.origin, 'POST', '/api/rooms/general/members', { userId: carol.user.id }, carol.token)).status).toBeLessThan(300);
    const ws = await wsClient(`ws://127.0.0.1:${stack.chatB.port}/ws`, carol.token, stack.origin);
    await ws.join('general');
    await ws.send('general', 'hello from the newcomer', 'carol-1');
    await expectText(author(bob, 'hello from the newcomer'), 'Carol Danvers');

    const box = bob.page.locator('#composer-input');
    await box.fill('');
    await box.pressSequentially('thanks @danv');
    const option: Locator = bob.page.locator('#mention-list .mention-option.active');
    await expectContainsText(option, 'Carol Danvers');
    await expectContainsText(option, '@carol');
    await expectCount(option.locator('.avatar'), 1);
    await box.press('Enter');
    expect(await box.inputValue()).toBe('thanks @carol ');
    await box.fill('');
    ws.close();
    expect(bob.problems).toEqual([]);
  });
});
