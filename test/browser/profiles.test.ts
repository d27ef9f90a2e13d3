// Profiles in the browser (issue 16), in real Chromium against the real stack: alice opens her
// profile from her name in the sidebar, sets a display name and a picture (a real PNG made with
// sharp, previewed before saving); bob, in the same room on the other replica, sees her messages
// under the new name with the picture live (a `profile` frame, no reload) and after a reload
// too, and the members list shows "Display Name @username". A refused picture shows the
// server's reason. Removing the picture brings the initials back. A password change in one of
// alice's sessions signs her other session out (socket closed, the sign-in screen) while the
// first keeps sending.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Locator } from 'playwright-core';
import sharp from 'sharp';
import { eventually, expectContainsText, expectCount, expectText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectConnected, expectJoinedHere, openClient, registerViaUi, sendViaUi, timelineMessage, type Client } from './page-client.js';
import { startStack, type Stack } from './stack.js';

const PASSWORD = 'correct-horse-42';
const NEW_PASSWORD = 'battery-staple-99';

let stack: Stack;
let browser: Browser;
let alice: Client;
let bob: Client;
let png: Buffer;
const clients: Client[] = [];

const author = (c: Client, text: string) => timelineMessage(c, text).locator('.msg-author');
const avatarImg = (c: Client, text: string) => timelineMessage(c, text).locator(':scope > .avatar img.avatar-img');
const avatarBox = (c: Client, text: string) => timelineMessage(c, text).locator(':scope > .avatar');

/** The picture shows a real image served from /avatars/. */
const loaded = (img: Locator) =>
  eventually(() => img.evaluate((el: any) => ({ ok: el.complete && el.naturalWidth > 0, src: el.getAttribute('src') || '' })), (v) => v.ok && v.src.startsWith('/avatars/'), 'a loaded avatar', 20_000);

async function openProfile(c: Client) {
  await c.page.locator('#me-profile').click();
  await c.page.locator('#profile-dialog[open]').waitFor();
}

describe('profiles in the browser', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    png = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 30, g: 160, b: 90 } } }).png().toBuffer();
    stack = await startStack();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const a = `ws://127.0.0.1:${stack.chatA.port}/ws`;
    const b = `ws://127.0.0.1:${stack.chatB.port}/ws`;
    alice = await openClient(browser, stack.origin, 'alice', [a, b]);
    bob = await openClient(browser, stack.origin, 'bob', [b, a]);
    clients.push(alice, bob);
    for (const c of clients) {
      await registerViaUi(c, c.name, PASSWORD);
      await expectJoinedHere(c, 'general');
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('a display name and a picture reach the other user live and after a reload; removing it brings the initials back', async () => {
    await sendViaUi(alice, 'hello before the profile');
    await expectText(author(bob, 'hello before the profile'), 'alice');
    await expectText(avatarBox(bob, 'hello before the profile'), 'AL');

    await openProfile(alice);
    await alice.page.locator('#profile-name').fill('Alice Liddell');
    await alice.page.locator('#profile-name-save').click();
    await expectText(alice.page.locator('#profile-name-msg'), 'Name saved.');

    // A refused type: the server's reason, nothing saved.
    await alice.page.locator('#profile-file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a picture at all\n') });
    await alice.page.locator('#profile-upload').click();
    await eventually(() => alice.page.locator('#profile-picture-msg').evaluate((el) => ({ t: el.textContent || '', bad: el.classList.contains('bad') })), (v) => v.bad && v.t.length > 0, 'the refusal shown');

    await alice.page.locator('#profile-file').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png });
    await eventually(() => alice.page.locator('#profile-preview-img, .profile-preview-img').evaluate((el: any) => (el.getAttribute('src') || '').startsWith('data:image/png')), Boolean, 'a preview');
    await alice.page.locator('#profile-upload').click();
    await expectText(alice.page.locator('#profile-picture-msg'), 'Picture saved.');
    await alice.page.keyboard.press('Escape');

    // Live for bob: the old message's author and avatar change in place.
    await expectText(author(bob, 'hello before the profile'), 'Alice Liddell');
    await loaded(avatarImg(bob, 'hello before the profile'));
    // The sidebar shows alice her own new name and picture.
    await expectText(alice.page.locator('#me-name'), 'Alice Liddell');
    await loaded(alice.page.locator('#me-avatar img.avatar-img'));
    // Members list: the display name with the handle.
    const row = bob.page.locator(`#member-list li.member`, { hasText: '@alice' });
    await expectContainsText(row, 'Alice Liddell');

    await sendViaUi(alice, 'hello after the profile');
    await expectText(author(bob, 'hello after the profile'), 'Alice Liddell');
    await loaded(avatarImg(bob, 'hello after the profile'));

    await bob.page.reload();
    await expectJoinedHere(bob, 'general');
    await expectText(author(bob, 'hello before the profile'), 'Alice Liddell');
    await loaded(avatarImg(bob, 'hello after the profile'));

    await openProfile(alice);
    await alice.page.locator('#profile-remove').click();
    await expectText(alice.page.locator('#profile-picture-msg'), 'Picture removed.');
    await alice.page.keyboard.press('Escape');
    await expectCount(avatarImg(bob, 'hello after the profile'), 0);
    await expectText(avatarBox(bob, 'hello after the profile'), 'AL');
    for (const c of clients) expect(c.problems, c.name).toEqual([]);
  });

  it('a password change signs out the other session and keeps this one', async () => {
    const other = await openClient(browser, stack.origin, 'alice-2', [`ws://127.0.0.1:${stack.chatB.port}/ws`]);
    let openSockets = 0;
    other.page.on('websocket', (ws) => {
      openSockets++;
      ws.on('close', () => openSockets--);
    });
    await other.page.getByLabel('Username').fill('alice');
    await other.page.getByLabel('Password').fill(PASSWORD);
    await other.page.locator('#auth-submit').click();
    await expectJoinedHere(other, 'general');

    await openProfile(alice);
    await alice.page.locator('#profile-current').fill('wrong-password-1');
    await alice.page.locator('#profile-new').fill(NEW_PASSWORD);
    await alice.page.locator('#profile-confirm').fill(NEW_PASSWORD);
    await alice.page.locator('#profile-password-save').click();
    await eventually(() => alice.page.locator('#profile-password-msg').evaluate((el) => el.classList.contains('bad') && !!el.textContent), Boolean, 'a wrong password refused');

    await alice.page.locator('#profile-current').fill(PASSWORD);
    await alice.page.locator('#profile-new').fill(NEW_PASSWORD);
    await alice.page.locator('#profile-confirm').fill(NEW_PASSWORD);
    await alice.page.locator('#profile-password-save').click();
    await expectText(alice.page.locator('#profile-password-msg'), 'Password changed. Your other sessions were signed out.');
    await alice.page.keyboard.press('Escape');

    // The other session: its socket closed, the sign-in screen with the reason.
    await other.page.locator('#auth-form').waitFor({ state: 'visible', timeout: 20_000 });
    await eventually(() => other.page.locator('#app').evaluate((el: any) => el.hidden), Boolean, 'the chat hidden');
    await eventually(async () => openSockets, (n) => n === 0, 'no socket left open');
    await expectContainsText(other.page.locator('#auth-notice'), 'session has ended');

    // This one keeps working.
    await sendViaUi(alice, 'still here after the change');
    await expectText(author(bob, 'still here after the change'), 'Alice Liddell');
    await expectConnected(alice);
    await other.context.close();
  });
});
