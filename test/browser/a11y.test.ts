// Accessibility (issue 20, item 9): axe-core, the checker browsers' devtools build on, run in
// real Chromium against the real stack on the screens a user spends their time in — the sign-in
// page (both tabs, and with an error shown), a public room with messages, reactions, a thread
// and the people panel open, a direct message, the phone layout with the room drawer open, and a
// private room as its owner (system lines, roles, menus, the create-room and people dialogs).
// Each must have no serious or critical violation (minor/moderate ones are reported by axe as
// best practice and left to judgement).
import { AxeBuilder } from '@axe-core/playwright';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { expectText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectJoinedHere, openClient, registerViaUi, sendViaUi, timelineMessage, type Client } from './page-client.js';
import { registerAndLogin, startStack, wsClient, type Stack } from './stack.js';

const PASSWORD = 'correct-horse-42';

let stack: Stack;
let browser: Browser;
const clients: Client[] = [];

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];

/**
 * The serious and critical violations on the page as it is now, one readable line per node, in
 * both colour schemes (the palette follows prefers-color-scheme): each scheme is checked once
 * its colour transitions have finished, since axe measures the colours on screen.
 */
async function seriousViolations(c: Client): Promise<string[]> {
  const found: string[] = [];
  for (const colorScheme of ['dark', 'light'] as const) {
    await c.page.emulateMedia({ colorScheme });
    await c.page.waitForFunction(() => (globalThis as any).document.getAnimations().length === 0, undefined, { timeout: 5000 });
    const result = await new AxeBuilder({ page: c.page }).withTags(TAGS).analyze();
    // An axe that checked nothing would find nothing: it must have measured some text's contrast.
    if (!result.passes.some((r) => r.id === 'color-contrast')) throw new Error(`axe checked no colour contrast (${colorScheme})`);
    for (const v of result.violations) {
      if (v.impact !== 'serious' && v.impact !== 'critical') continue;
      for (const n of v.nodes) found.push(`${colorScheme}: ${v.impact} ${v.id} (${v.help}) at ${n.target.join(' ')}: ${n.failureSummary?.replace(/\s+/g, ' ')}`);
    }
  }
  return found;
}

async function open(name: string, viewport?: { width: number; height: number }): Promise<Client> {
  const c = await openClient(browser, stack.origin, name, [`ws://127.0.0.1:${stack.chatA.port}/ws`], viewport);
  clients.push(c);
  return c;
}

describe('accessibility: axe-core finds no serious or critical violation', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    stack = await startStack();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('on the sign-in page: both tabs, and with an error shown', async () => {
    const c = await open('visitor');
    await c.page.locator('#auth').waitFor({ state: 'visible' });
    expect(await seriousViolations(c)).toEqual([]);
    await c.page.getByRole('tab', { name: 'Create account' }).click();
    await c.page.locator('#auth-submit').click();
    await c.page.locator('#auth-error:not(:empty), [aria-invalid="true"]').first().waitFor();
    expect(await seriousViolations(c)).toEqual([]);
  });

  it('in a room with messages, a reaction, a thread and the people panel open', async () => {
    const alice = await open('alice');
    await registerViaUi(alice, 'alice', PASSWORD);
    await expectJoinedHere(alice, 'general');
    const bob = await registerAndLogin(stack.origin, 'bob', PASSWORD);
    const ws = await wsClient(`ws://127.0.0.1:${stack.chatB.port}/ws`, bob.token, stack.origin);
    await ws.join('general');
    const { id } = await ws.send('general', 'hello from bob, **with** a link https://example.com', 'a11y-cid-1');
    await alice.page.locator(`#message-list .msg[data-id="${id}"]`).waitFor();
    await sendViaUi(alice, 'hi bob');
    await timelineMessage(alice, 'hi bob').waitFor();
    ws.ws.send(JSON.stringify({ type: 'react', room: 'general', id, emoji: '👍', on: true, cid: 'a11y-cid-2' }));
    await alice.page.locator(`#message-list .msg[data-id="${id}"] .reaction`).first().waitFor();
    expect(await seriousViolations(alice)).toEqual([]);

    // A thread open beside the room, and the people panel.
    const msg = alice.page.locator(`#message-list .msg[data-id="${id}"]`);
    await msg.hover();
    await msg.locator('.msg-actions [data-action="reply"]').click();
    await alice.page.locator('#thread').waitFor({ state: 'visible' });
    await alice.page.locator('#thread-input').fill('a reply');
    await alice.page.locator('#thread-input').press('Enter');
    await alice.page.locator('#thread-list .msg[data-id]').first().waitFor();
    await msg.hover();
    expect(await seriousViolations(alice)).toEqual([]);
    await alice.page.locator('#thread-close').click();
    // The panel may already be open (wide screens open it by default).
    const toggle = alice.page.locator('#members-toggle');
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
    await alice.page.locator('#members').waitFor({ state: 'visible' });
    expect(await seriousViolations(alice)).toEqual([]);
    ws.close();
  });

  it('in a direct message, and on a phone with the room drawer open', async () => {
    const carol = await open('carol', { width: 360, height: 740 });
    await registerViaUi(carol, 'carol', PASSWORD);
    await carol.page.locator('#sidebar-open').click();
    await carol.page.locator('#dm-input').fill('ali');
    await carol.page.locator('#dm-results button', { hasText: 'alice' }).waitFor();
    expect(await seriousViolations(carol)).toEqual([]);
    await carol.page.locator('#dm-results button', { hasText: 'alice' }).click();
    await expectText(carol.page.locator('#room-title'), '@ alice');
    await sendViaUi(carol, 'a direct message');
    await timelineMessage(carol, 'a direct message').waitFor();
    expect(await seriousViolations(carol)).toEqual([]);
    await carol.page.setViewportSize({ width: 1280, height: 800 });
    expect(await seriousViolations(carol)).toEqual([]);
  });

  it('in a private room as its owner: system lines, roles, the options and member menus, and the room dialogs', async () => {
    await registerAndLogin(stack.origin, 'eli', PASSWORD);
    const dora = await open('dora');
    await registerViaUi(dora, 'dora', PASSWORD);
    const p = dora.page;
    await p.locator('#room-create').click();
    await p.locator('#room-dialog').waitFor({ state: 'visible' });
    await p.locator('input[name="room-kind"][value="private"]').check();
    expect(await seriousViolations(dora)).toEqual([]);
    await p.locator('#room-title-input').fill('Quiet corner');
    await p.locator('#room-topic').fill('for the two of us');
    await p.locator('#room-dialog-ok').click();
    await expectText(p.locator('#room-title'), 'Quiet corner');

    await p.locator('#room-menu-btn').click();
    await p.getByRole('menuitem', { name: 'Invite people…' }).waitFor();
    expect(await seriousViolations(dora)).toEqual([]);
    await p.getByRole('menuitem', { name: 'Invite people…' }).click();
    await p.locator('#people-input').fill('eli');
    await p.locator('#people-results button', { hasText: 'eli' }).waitFor();
    expect(await seriousViolations(dora)).toEqual([]);
    await p.locator('#people-results button', { hasText: 'eli' }).click();
    await p.locator('#people-ok').click();
    await p.locator('#message-list .sys-line', { hasText: 'dora invited eli' }).waitFor();
    await sendViaUi(dora, 'welcome, eli');
    await timelineMessage(dora, 'welcome, eli').waitFor();
    const toggle = p.locator('#members-toggle');
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
    await p.locator('#member-list .member', { hasText: 'eli' }).locator('.member-menu-btn').click();
    await p.getByRole('menuitem', { name: 'Make admin' }).waitFor();
    expect(await seriousViolations(dora)).toEqual([]);
  });

  it('reported no CSP violation, script error or dialog in any page', () => {
    for (const c of clients) {
      expect(c.problems, `${c.name}: problems`).toEqual([]);
      expect(c.dialogs, `${c.name}: dialogs`).toEqual([]);
    }
  });
});
