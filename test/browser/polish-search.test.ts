// People search (issue 20, item 6) in real Chromium against the real stack: a name matches
// anywhere (`ro` finds carol and brook), names that start with the query are listed first, and
// searching your own name shows you as "you" rather than "No one found".
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { expectCount, expectText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectJoinedHere, openClient, registerViaUi, sendViaUi, timelineMessage, type Client } from './page-client.js';
import { registerAndLogin, startStack, type Stack } from './stack.js';

const PASSWORD = 'correct-horse-42';

let stack: Stack;
let browser: Browser;
let alice: Client;

const results = () => alice.page.locator('#dm-results');

/** Types `query` into the people search and waits for the answer to the LAST keystroke. */
async function search(query: string) {
  const p = alice.page;
  const answered = p.waitForResponse((r) => r.url().endsWith(`/api/users?query=${encodeURIComponent(query)}`) && r.ok());
  await p.locator('#dm-input').fill(query);
  await answered;
  await results().waitFor({ state: 'visible' });
}

/** The rows shown, each as the text a screen reader gets (avatar initials are aria-hidden):
 *  a person's name, "alice you", "No one found". */
const rows = () =>
  results()
    .locator('li')
    .evaluateAll((lis) =>
      lis.map((li) => {
        const copy = li.cloneNode(true) as any;
        for (const hidden of copy.querySelectorAll('[aria-hidden="true"]')) hidden.remove();
        return String(copy.textContent ?? '').replace(/\s+/g, ' ').trim();
      }),
    );

describe('people search', { timeout: 90_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    stack = await startStack();
    // Alphabetically brook < carol < rob < roger: a plain name order would list the prefix
    // matches last.
    for (const name of ['carol', 'rob', 'brook', 'roger', 'dave']) await registerAndLogin(stack.origin, name, PASSWORD);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    alice = await openClient(browser, stack.origin, 'alice', [`ws://127.0.0.1:${stack.chatA.port}/ws`]);
    await registerViaUi(alice, 'alice', PASSWORD);
    await expectJoinedHere(alice, 'general');
  }, 90_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('matches anywhere in a name, names that start with the query first, and opens the DM', async () => {
    await search('ro');
    expect(await rows()).toEqual(['rob', 'roger', 'brook', 'carol']);
    // Case does not matter, and a match inside a name alone is enough.
    await search('ROL');
    expect(await rows()).toEqual(['carol']);
    await alice.page.locator('#dm-input').press('Enter');
    await expectText(alice.page.locator('#room-title'), '@ carol');
    await sendViaUi(alice, 'found you by the middle of your name');
    await timelineMessage(alice, 'found you by the middle of your name').waitFor();
  });

  it('lists yourself as "you", not as a conversation to open and not as "No one found"', async () => {
    await search('alice');
    expect(await rows()).toEqual(['alice you']);
    await expectCount(results().locator('button'), 0);
    await expectText(results().locator('.you-tag'), 'you');
    // Among others too, in the same ranking: "li" starts no name here, so all match inside.
    await registerAndLogin(stack.origin, 'julie', PASSWORD);
    await search('li');
    expect(await rows()).toEqual(['alice you', 'julie']);
    await expectCount(results().locator('button'), 1);
    // Enter opens the first person who is not you.
    await alice.page.locator('#dm-input').press('Enter');
    await expectText(alice.page.locator('#room-title'), '@ julie');
  });

  it('still says "No one found" when no name contains the query', async () => {
    await search('zzz');
    expect(await rows()).toEqual(['No one found']);
    // A character no username can contain is answered without a search, the same way.
    await search('a b');
    expect(await rows()).toEqual(['No one found']);
  });

  it('reported no CSP violation, script error or dialog', () => {
    expect(alice.problems).toEqual([]);
    expect(alice.dialogs).toEqual([]);
  });
});
