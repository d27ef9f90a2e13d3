// Issue 20, items 1–3, in real Chromium against the real services: honest composer feedback (no
// stale "too long", the server's limit and a counter from the first character), rate-limit
// recovery (a live countdown shared by every waiting message, sends queued — not failed — during
// the cooldown and sent in order after it, "Retry all" / "Discard all"), and the typing
// indicator clearing when the typist's message arrives. The chat replicas run with a small
// per-room send limit (a burst of 4, then one per 2.25 s) so a cooldown is quick to reach.
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type WebSocket as PwSocket } from 'playwright-core';
import { eventually, expectAttr, expectClass, expectContainsText, expectCount, expectText, expectValue } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectJoinedHere, openClient, registerViaUi, sendViaUi, type Client } from './page-client.js';
import { registerAndLogin, startStack, wsClient, type Stack } from './stack.js';

const SHOTS = 'test-results/screenshots';
const PASSWORD = 'correct-horse-42';
const BURST = 4;
const WINDOW_MS = 9_000; // one more send per 2.25 s after the burst

let stack: Stack;
let browser: Browser;
let alice: Client;
/** Every frame alice's page sent or received, with the time the test saw it. */
const wire: Array<{ at: number; dir: 'out' | 'in'; f: any }> = [];

const input = () => alice.page.locator('#composer-input');
const rowsOf = (state: string) => alice.page.locator(`#message-list .msg.${state}[data-cid]`);
const sentTexts = (prefix: string) => wire.filter((w) => w.dir === 'out' && w.f.type === 'send' && String(w.f.text).startsWith(prefix));

/** Texts of the delivered messages in the timeline that start with `prefix`, in timeline order. */
async function delivered(prefix: string): Promise<string[]> {
  const all = await alice.page.locator('#message-list .msg[data-id] .msg-text').allTextContents();
  return all.filter((t) => t.startsWith(prefix));
}

async function openRoom(room: string) {
  await alice.page.locator('#join-input').fill(room);
  await alice.page.locator('#join-input').press('Enter');
  await alice.page.locator('#room-title', { hasText: `# ${room}` }).waitFor();
  await expectJoinedHere(alice, room);
}

describe('composer and outbox, in the browser (issue 20)', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    mkdirSync(SHOTS, { recursive: true });
    stack = await startStack({ chatEnv: { RATE_LIMIT_MESSAGES: String(BURST), RATE_LIMIT_WINDOW_MS: String(WINDOW_MS) } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    alice = await openClient(browser, stack.origin, 'alice', [`ws://127.0.0.1:${stack.chatA.port}/ws`]);
    alice.page.on('websocket', (ws: PwSocket) => {
      ws.on('framesent', ({ payload }) => wire.push({ at: Date.now(), dir: 'out', f: JSON.parse(String(payload)) }));
      ws.on('framereceived', ({ payload }) => wire.push({ at: Date.now(), dir: 'in', f: JSON.parse(String(payload)) }));
    });
    await registerViaUi(alice, 'alice', PASSWORD);
    await expectJoinedHere(alice, 'general');
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('the composer says "too long" exactly while the text is too long, and counts from the first character', async () => {
    const count = alice.page.locator('#composer-count');
    const error = alice.page.locator('#composer-error');
    const send = alice.page.locator('#composer-send');
    const sendsBefore = sentTexts('').length;

    await input().fill('x'.repeat(4999));
    await expectContainsText(error, 'too long'); // live, before any Enter
    await expectText(count, '4,999 / 4,000');
    await expectClass(count, 'over');
    await expectAttr(input(), 'aria-invalid', 'true');
    expect(await send.isDisabled()).toBe(true);
    await input().press('Enter');
    await expectValue(input(), 'x'.repeat(4999)); // refused, the text stays
    expect(sentTexts('').length).toBe(sendsBefore);

    // Fixing the text takes the error down at once — not at the next successful send.
    await input().fill('');
    await expectText(error, '');
    await input().pressSequentially('x');
    await expectText(error, '');
    await expectText(count, '1 / 4,000');
    await expectAttr(input(), 'aria-invalid', 'false');
    expect(await send.isDisabled()).toBe(false);

    // No second, different cap: a long paste is kept whole (nothing cut silently) and refused
    // with the same rule; exactly the limit is fine.
    const paste = 'p'.repeat(8500);
    await input().fill(paste);
    await expectValue(input(), paste);
    await expectText(count, '8,500 / 4,000');
    await expectContainsText(error, 'the limit is 4,000 characters');
    await input().fill('y'.repeat(4000));
    await expectText(error, '');
    await expectText(count, '4,000 / 4,000');
    expect(await send.isDisabled()).toBe(false);
    await input().fill('');
    await expectText(count, '');
  });

  it('the typing indicator goes away the moment the typist\'s message arrives', async () => {
    // carol types from a protocol client that never sends `typing:false`: only her message can
    // clear the indicator before its 6 s expiry.
    const { token } = await registerAndLogin(stack.origin, 'carol', PASSWORD);
    const carol = await wsClient(`ws://127.0.0.1:${stack.chatB.port}/ws`, token, stack.origin);
    try {
      await carol.join('general');
      carol.ws.send(JSON.stringify({ type: 'typing', room: 'general', active: true }));
      await expectText(alice.page.locator('#typing'), 'carol is typing…');
      const text = "carol's message";
      const seen = alice.page.waitForFunction(
        // Checked at every frame: what the indicator says in the first frame showing the message.
        (want: string) => {
          const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Array<{ textContent: string | null }>; getElementById(id: string): { textContent: string | null } | null } }).document;
          const here = [...doc.querySelectorAll('#message-list .msg[data-id] .msg-text')].some((el) => el.textContent === want);
          return here ? { typing: doc.getElementById('typing')?.textContent ?? '' } : null;
        },
        text,
        { polling: 'raf', timeout: 15_000 },
      );
      carol.ws.send(JSON.stringify({ type: 'send', room: 'general', text, cid: 'carol-typing-test' }));
      expect(await (await seen).jsonValue()).toEqual({ typing: '' });
    } finally {
      carol.close();
    }
  });

  it('while rate limited, sends wait (not fail) with one live countdown and go out in order after it', async () => {
    await openRoom('burst');
    for (let i = 1; i <= BURST; i++) await sendViaUi(alice, `b${i}`);
    await eventually(() => delivered('b'), (v) => v.length === BURST, `${BURST} messages delivered`);

    // The next one is refused: it waits instead of failing, and so do the ones typed meanwhile.
    await sendViaUi(alice, `b${BURST + 1}`);
    await rowsOf('queued').first().waitFor({ timeout: 10_000 });
    await expectContainsText(alice.page.locator('#composer-error'), /Slow down: you can send again in \d+ s/);
    await sendViaUi(alice, `b${BURST + 2}`);
    await sendViaUi(alice, `b${BURST + 3}`);
    await expectCount(rowsOf('queued'), 3);
    await expectText(alice.page.locator('#outbox-bar .outbox-bar-text'), '3 messages waiting to send');

    // One countdown for all of them, and it moves.
    const statuses = async () => rowsOf('queued').locator('.msg-status').allTextContents();
    const first = await statuses();
    expect(first).toHaveLength(3);
    expect(new Set(first).size).toBe(1);
    expect(first[0]).toMatch(/^Waiting to send in \d s$/);
    await eventually(statuses, (v) => v.length > 0 && v.every((s) => s === v[0]) && v[0] !== first[0], 'the shared countdown to tick');
    await alice.page.screenshot({ path: `${SHOTS}/polish-queued.png` });

    // All delivered, once, in the order typed; nothing ever failed.
    const want = Array.from({ length: BURST + 3 }, (_, i) => `b${i + 1}`);
    await eventually(() => delivered('b'), (v) => v.length === want.length, 'every message delivered', 30_000);
    expect(await delivered('b')).toEqual(want);
    await expectCount(alice.page.locator('#message-list .msg[data-cid]'), 0);
    await expectText(alice.page.locator('#composer-error'), '');
    expect(await alice.page.locator('#outbox-bar').isHidden()).toBe(true);
    expect(wire.some((w) => w.dir === 'in' && w.f.type === 'error' && w.f.code !== 'rate_limited')).toBe(false);

    // Nothing was put on the wire while a cooldown ran (it would only be refused again).
    const refusals = wire.filter((w) => w.dir === 'in' && w.f.type === 'error' && w.f.code === 'rate_limited');
    expect(refusals.length).toBeGreaterThan(0);
    for (const r of refusals) {
      const during = sentTexts('b').filter((w) => w.at > r.at + 50 && w.at < r.at + r.f.retryAfterMs - 150);
      expect(during.map((w) => w.f.text)).toEqual([]);
    }
  });

  it('a reaction made during a cooldown waits for it and is saved, not rolled back', async () => {
    await openRoom('burst-react');
    for (let i = 1; i <= BURST; i++) await sendViaUi(alice, `k${i}`);
    await eventually(() => delivered('k'), (v) => v.length === BURST, `${BURST} messages delivered`);
    await sendViaUi(alice, `k${BURST + 1}`);
    await rowsOf('queued').first().waitFor({ timeout: 10_000 });
    const refusedAt = wire.filter((w) => w.dir === 'in' && w.f.type === 'error' && w.f.code === 'rate_limited').at(-1)!;

    const msg = alice.page.locator('#message-list .msg[data-id]').filter({ has: alice.page.locator('.msg-text', { hasText: /^k1$/ }) });
    await msg.hover();
    await msg.locator('.msg-actions [data-action="react"]').click();
    const picker = alice.page.locator('.emoji-picker');
    const reactedAt = Date.now();
    await picker.getByRole('button', { name: 'thumbs up' }).first().click();
    await picker.waitFor({ state: 'detached' });
    const chip = msg.locator('.reaction[data-emoji]').filter({ hasText: '👍' });
    await expectText(chip.locator('.reaction-count'), '1'); // shown at once

    // Saved once the cooldown is over: confirmed by the server, never refused, never rolled back.
    const reacts = () => wire.filter((w) => w.dir === 'out' && w.f.type === 'react');
    const acked = () => wire.some((w) => w.dir === 'in' && w.f.type === 'ack' && reacts().some((r) => r.f.cid === w.f.cid));
    await eventually(async () => acked(), (v) => v, 'the reaction acked', 20_000);
    await expectText(chip.locator('.reaction-count'), '1');
    await expectAttr(chip, 'aria-pressed', 'true');
    expect(await alice.page.locator('#toasts .toast').count()).toBe(0);
    // None left while the cooldown that was running when alice reacted still ran.
    const cooldownEnd = refusedAt.at + refusedAt.f.retryAfterMs;
    expect(reacts().filter((w) => w.at >= reactedAt && w.at < cooldownEnd - 150)).toEqual([]);
    await eventually(() => delivered('k'), (v) => v.length === BURST + 1, 'the waiting message delivered too', 20_000);
  });

  it('"Retry all" sends every failed message again, in order; "Discard all" drops them', async () => {
    await openRoom('retries');
    const me = await alice.page.evaluate(() => JSON.parse((globalThis as any).localStorage.getItem('aurora.session')).user.id as string);
    // Messages that had failed when the tab was closed come back failed after a reload.
    const seed = async (texts: string[]) => {
      const items = texts.map((text, i) => ({ cid: `${text}-${i}`.padEnd(24, '0'), room: 'retries', text, replyTo: null, state: 'failed', error: 'no answer from the server', createdAt: Date.now() }));
      await alice.page.evaluate(([key, value]) => (globalThis as any).localStorage.setItem(key, value), [`aurora.outbox.${me}`, JSON.stringify(items)] as const);
      await alice.page.reload();
      await expectJoinedHere(alice, 'retries');
      await expectCount(rowsOf('failed'), texts.length);
    };
    const bar = alice.page.locator('#outbox-bar');

    const texts = Array.from({ length: BURST + 2 }, (_, i) => `r${i + 1}`);
    await seed(texts);
    await expectText(bar.locator('.outbox-bar-text'), `${texts.length} messages not sent`);
    await bar.getByRole('button', { name: 'Retry all' }).click();
    // More than the burst: the limit refuses some on the way, and they still arrive in order.
    await eventually(() => delivered('r'), (v) => v.length === texts.length, 'every retried message delivered', 30_000);
    expect(await delivered('r')).toEqual(texts);
    await expectCount(alice.page.locator('#message-list .msg[data-cid]'), 0);
    expect(await bar.isHidden()).toBe(true);

    await seed(['d1', 'd2', 'd3']);
    const sendsBefore = sentTexts('d').length;
    await bar.getByRole('button', { name: 'Discard all' }).click();
    await expectCount(alice.page.locator('#message-list .msg[data-cid]'), 0);
    expect(await bar.isHidden()).toBe(true);
    await alice.page.reload(); // discarded for good, not restored
    await expectJoinedHere(alice, 'retries');
    await expectCount(rowsOf('failed'), 0);
    expect(sentTexts('d').length).toBe(sendsBefore);
    expect(alice.problems).toEqual([]);
  });
});
