// Attachments in the browser (issue 16), in real Chromium against the real stack (users service
// storing files on disk, two chat replicas, ingestion, Redis): alice attaches a PNG (made with
// sharp) and a PDF with the 📎 button and sends them as a message of files alone; bob, on the
// other replica, sees the picture preview (sized before it loads) and the PDF card live, opens
// the picture full size; a deleted message takes its files away, live. A non-member gets 404 on
// the file, its link and the signed URL is the only way without a token. An .html file arrives
// as text/plain and is downloaded (Content-Disposition: attachment), never rendered. Paste and
// drag-and-drop queue files; a refused type shows the server's reason next to the file; cancel
// during an upload removes it and lets the message go.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Locator, type Page, type Route } from 'playwright-core';
import sharp from 'sharp';
import { eventually, expectAttr, expectCount, expectText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectJoinedHere, openClient, registerViaUi, type Client } from './page-client.js';
import { registerAndLogin, rest, startStack, type Stack } from './stack.js';
import { seriousViolations } from './axe.js';

const PASSWORD = 'correct-horse-42';
const SHOTS = 'test-results/screenshots';
const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n' +
    '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);
const HTML = Buffer.from('<!doctype html><html><body><script>alert("owned")</script><h1>hi</h1></body></html>\n');

let stack: Stack;
let browser: Browser;
let filesDir = '';
let alice: Client;
let bob: Client;
let png: Buffer;
const clients: Client[] = [];

const tokenOf = (page: Page): Promise<string> => page.evaluate("JSON.parse(localStorage.getItem('aurora.session')).token");
const strip = (c: Client) => c.page.locator('#attach-strip .attach-item');
const msgWithFile = (c: Client, name: string) => c.page.locator('#message-list .msg[data-id]').filter({ has: c.page.locator(`[data-attachment]`, { hasText: name }) });
const picture = (c: Client, name: string) => c.page.locator(`#message-list .msg[data-id] img.file-thumb-img[alt="${name}"]`);

async function attachWithButton(c: Client, files: { name: string; mimeType: string; buffer: Buffer }[]) {
  const [chooser] = await Promise.all([c.page.waitForEvent('filechooser'), c.page.locator('#attach-btn').click()]);
  await chooser.setFiles(files);
}

async function expectAllReady(c: Client, n: number) {
  await expectCount(strip(c), n);
  await eventually(() => strip(c).evaluateAll((els) => els.map((e) => (e as any).dataset.state)), (v) => v.length === n && v.every((s) => s === 'done'), `${n} uploads done`, 20_000);
}

/** The picture has loaded (a real image from the signed link). */
const loaded = (img: Locator) =>
  eventually(() => img.evaluate((el: any) => ({ ok: el.complete && el.naturalWidth > 0, src: el.getAttribute('src') || '' })), (v) => v.ok && v.src.startsWith('/files/'), 'a loaded picture', 20_000);

describe('files in the browser', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    mkdirSync(SHOTS, { recursive: true });
    filesDir = mkdtempSync(join(tmpdir(), 'aurora-files-'));
    png = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 220, g: 60, b: 40 } } }).png().toBuffer();
    stack = await startStack({ usersEnv: { FILES_DIR: filesDir, ATTACHMENT_UPLOADS_PER_MIN: '1000' } });
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
    if (filesDir) rmSync(filesDir, { recursive: true, force: true });
  });

  it('a PNG and a PDF attached with the button go as one message; the other user sees the preview and the card live', async () => {
    await attachWithButton(alice, [
      { name: 'red.png', mimeType: 'image/png', buffer: png },
      { name: 'report.pdf', mimeType: 'application/pdf', buffer: PDF },
    ]);
    await expectAllReady(alice, 2);
    await expectText(alice.page.locator('#composer-send'), 'Send');
    // Files alone: an empty box sends them.
    await alice.page.locator('#composer-input').press('Enter');
    await expectCount(strip(alice), 0);
    const frame = await eventually(async () => alice.sent.find((f) => f.type === 'send' && Array.isArray(f.attachments)), (f) => !!f, 'the send frame');
    expect(frame).toMatchObject({ text: '', attachments: [expect.stringMatching(/^a[0-9a-f]{24}$/), expect.stringMatching(/^a[0-9a-f]{24}$/)] });

    for (const c of [alice, bob]) {
      const img = picture(c, 'red.png');
      await img.waitFor({ timeout: 20_000 });
      // Sized from the attachment before it loads: 640x480 fits 320x240 in the thumbnail box.
      expect(await img.getAttribute('width')).toBe('320');
      expect(await img.getAttribute('height')).toBe('240');
      const src = (await loaded(img)).src;
      expect(src).toMatch(/^\/files\/a[0-9a-f]{24}\?v=thumb&exp=\d+&sig=[0-9a-f]{64}$/);
      const card = c.page.locator('#message-list .file-card', { hasText: 'report.pdf' });
      await expectText(card.locator('.file-meta'), /^PDF · \d+ B$/);
      await expectAttr(card.locator('a.file-download'), 'href', /^\/files\/a[0-9a-f]{24}\?v=file&exp=\d+&sig=[0-9a-f]{64}$/);
      expect(await card.locator('a.file-download').getAttribute('download')).toBe('report.pdf');
    }
    // bob got it live over the other replica: the message frame carried the attachments.
    const live = bob.received.find((f) => f.type === 'message' && Array.isArray(f.attachments) && f.attachments.length === 2);
    expect(live.attachments.map((x: any) => x.name)).toEqual(['red.png', 'report.pdf']);
    expect(live.attachments[0]).toMatchObject({ type: 'image/png', width: 640, height: 480, thumb: true });

    // A click opens the picture full size.
    await picture(bob, 'red.png').click();
    const viewer = bob.page.locator('#file-viewer');
    await viewer.waitFor({ state: 'visible' });
    await eventually(() => bob.page.locator('#file-viewer-img').evaluate((el: any) => [el.getAttribute('src') || '', el.complete ? el.naturalWidth : 0]), (v) => /v=file/.test(v[0] as string) && v[1] === 640, 'the full-size picture');
    await expectText(bob.page.locator('#file-viewer-name'), 'red.png');
    await bob.page.screenshot({ path: `${SHOTS}/files-viewer.png` });
    await bob.page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'hidden' });
    await bob.page.screenshot({ path: `${SHOTS}/files-message.png` });
    expect(await seriousViolations(bob)).toEqual([]);
  });

  it('a deleted message takes its files away, live, and the files are gone from the server', async () => {
    const msg = msgWithFile(bob, 'report.pdf');
    const id = (await msg.getAttribute('data-id'))!;
    const pdfId = (await msg.locator('.file-card').getAttribute('data-attachment'))!;
    const bobToken = await tokenOf(bob.page);
    expect((await rest(stack.origin, 'GET', `/api/rooms/general/attachments/${pdfId}/link`, undefined, bobToken)).status).toBe(200);
    const mine = alice.page.locator(`#message-list .msg[data-id="${id}"]`);
    await mine.hover();
    await mine.locator('.msg-actions [data-action="delete"]').click();
    await alice.page.locator('#confirm-dialog').getByRole('button', { name: 'Delete' }).click();
    for (const c of [alice, bob]) {
      const li = c.page.locator(`#message-list .msg[data-id="${id}"]`);
      await expectText(li.locator('.msg-tombstone'), 'message deleted');
      await expectCount(li.locator('.msg-files'), 0);
    }
    await eventually(() => rest(stack.origin, 'GET', `/api/rooms/general/attachments/${pdfId}/link`, undefined, bobToken).then((r) => r.status), (s) => s === 404, 'the file hidden once its message is deleted');
    // A reload shows the tombstone from history: still no files.
    await bob.page.reload();
    await expectJoinedHere(bob, 'general');
    await expectText(bob.page.locator(`#message-list .msg[data-id="${id}"] .msg-tombstone`), 'message deleted');
    await expectCount(bob.page.locator(`#message-list .msg[data-id="${id}"] .msg-files`), 0);
  });

  it('a non-member gets 404 on a private room’s file and its link; a member gets the file', async () => {
    const aliceToken = await tokenOf(alice.page);
    const created = await rest<{ room: { name: string } }>(stack.origin, 'POST', '/api/rooms', { kind: 'private', title: 'Secret plans' }, aliceToken);
    expect(created.status).toBe(201);
    const room = created.body.room.name;
    const up = await fetch(`${stack.origin}/api/rooms/${encodeURIComponent(room)}/attachments?name=plan.pdf`, { method: 'POST', headers: { authorization: `Bearer ${aliceToken}` }, body: PDF });
    expect(up.status).toBe(201);
    const { attachment } = (await up.json()) as { attachment: { id: string; type: string } };
    expect(attachment.type).toBe('application/pdf');
    const carol = await registerAndLogin(stack.origin, 'carol', PASSWORD);
    const file = `/api/rooms/${encodeURIComponent(room)}/attachments/${attachment.id}`;
    for (const path of [file, `${file}/link`, `${file}?variant=thumb`]) {
      const r = await fetch(stack.origin + path, { headers: { authorization: `Bearer ${carol.token}` } });
      expect([403, 404], path).toContain(r.status);
    }
    const own = await fetch(stack.origin + file, { headers: { authorization: `Bearer ${aliceToken}` } });
    expect(own.status).toBe(200);
    expect(Buffer.from(await own.arrayBuffer()).equals(PDF)).toBe(true);
    // No token: nothing, however the id was learnt.
    expect((await fetch(stack.origin + file)).status).toBe(401);
  });

  it('an .html file arrives as text/plain and is downloaded, never rendered', async () => {
    await attachWithButton(alice, [{ name: 'page.html', mimeType: 'text/html', buffer: HTML }]);
    await expectAllReady(alice, 1);
    await alice.page.locator('#composer-input').fill('have a look');
    await alice.page.locator('#composer-input').press('Enter');
    const card = bob.page.locator('#message-list .file-card', { hasText: 'page.html' });
    await card.waitFor({ timeout: 20_000 });
    await expectText(card.locator('.file-meta'), /^TEXT · \d+ B$/);
    const link = card.locator('a.file-download');
    await expectAttr(link, 'href', /^\/files\//);
    const before = bob.page.url();
    const [download] = await Promise.all([bob.page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('page.html');
    expect(bob.page.url()).toBe(before);
    expect(bob.dialogs).toEqual([]);
    const res = await fetch(stack.origin + (await link.getAttribute('href')));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="?page\.html"?/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toMatch(/sandbox/);
    expect(Buffer.from(await res.arrayBuffer()).equals(HTML)).toBe(true);
  });

  it('paste and drag-and-drop each queue a file; ✕ removes it', async () => {
    const p = alice.page;
    await p.locator('#composer-input').focus();
    await p.evaluate(() => {
      const g = globalThis as any;
      const dt = new g.DataTransfer();
      dt.items.add(new g.File(['pasted words\n'], 'pasted.txt', { type: 'text/plain' }));
      g.document.getElementById('composer-input').dispatchEvent(new g.ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    });
    await expectAllReady(alice, 1);
    await expectText(strip(alice).locator('.attach-name'), 'pasted.txt');
    expect(await p.locator('#composer-input').inputValue()).toBe(''); // the file, not its name, was pasted

    // Dragging files over the chat shows where to drop them; dropping queues them.
    await p.evaluate(() => {
      const g = globalThis as any;
      const dt = new g.DataTransfer();
      dt.items.add(new g.File(['dropped words\n'], 'dropped.txt', { type: 'text/plain' }));
      const target = g.document.getElementById('messages');
      target.dispatchEvent(new g.DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
      target.dispatchEvent(new g.DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      g.__dropShown = !g.document.getElementById('drop-zone').hidden;
      target.dispatchEvent(new g.DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    expect(await p.evaluate('window.__dropShown')).toBe(true);
    await expect(p.locator('#drop-zone').isHidden()).resolves.toBe(true);
    await expectAllReady(alice, 2);
    expect(await strip(alice).locator('.attach-name').allTextContents()).toEqual(['pasted.txt', 'dropped.txt']);

    for (const name of ['pasted.txt', 'dropped.txt']) await p.getByRole('button', { name: `Remove ${name}` }).click();
    await expectCount(strip(alice), 0);
    expect(await p.locator('#attach-strip').isHidden()).toBe(true);
  });

  it('a refused type says why next to the file; cancel during an upload removes it and the message goes', async () => {
    const p = alice.page;
    // A Windows executable: sniffed as such, not on the allow-list → 415 with the server's words.
    const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(510, 0x90)]);
    exe.write('PE\0\0', 0x80);
    exe.writeUInt32LE(0x80, 0x3c);
    await attachWithButton(alice, [{ name: 'setup.exe', mimeType: 'application/octet-stream', buffer: exe }]);
    const refused = strip(alice).filter({ hasText: 'setup.exe' });
    await expectAttr(refused, 'data-state', 'failed', 20_000);
    await expectText(refused.locator('.attach-status'), /^Not uploaded: .+/);
    const why = (await refused.locator('.attach-status').textContent())!;
    expect(why).not.toMatch(/Request failed|http_/); // the server's reason, not a status code
    await p.getByRole('button', { name: 'Remove setup.exe' }).click();

    // An upload held in flight (the route never answers until the test lets it).
    let held: Route | null = null;
    await p.route('**/api/rooms/general/attachments?name=slow*', (route) => {
      held = route;
    });
    await attachWithButton(alice, [{ name: 'slow.pdf', mimeType: 'application/pdf', buffer: PDF }]);
    const slow = strip(alice).filter({ hasText: 'slow.pdf' });
    await expectAttr(slow, 'data-state', 'uploading');
    await eventually(async () => held !== null, (v) => v, 'the upload request');
    await p.locator('#composer-input').fill('the plan');
    await expectText(p.locator('#composer-send'), 'Uploading…');
    expect(await p.locator('#composer-send').isDisabled()).toBe(true);
    await p.locator('#composer-input').press('Enter');
    expect(alice.sent.some((f) => f.type === 'send' && f.text === 'the plan')).toBe(false); // waits for the upload
    await p.getByRole('button', { name: 'Cancel the upload of slow.pdf' }).click();
    await expectCount(strip(alice), 0);
    await expectText(p.locator('#composer-send'), 'Send');
    await p.locator('#composer-input').press('Enter');
    await eventually(async () => alice.sent.find((f) => f.type === 'send' && f.text === 'the plan'), (f) => !!f && !f.attachments, 'the message sent without the cancelled file');
    await p.unroute('**/api/rooms/general/attachments?name=slow*');
    await (held as Route | null)?.abort().catch(() => {});
    for (const c of clients) expect(c.problems).toEqual([]);
  });
});
