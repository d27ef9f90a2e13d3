// Links and light formatting (issue 20, item 7) in real Chromium against the real services:
// alice (on chat-a) writes, bob (on chat-b) reads. Formatting arrives as elements for both, an
// edit re-renders it, the thread panel shows it too, hostile text yields no element or attribute
// outside the allow-list (checked on the rendered DOM, for messages sent through the stack and
// for thousands of fuzzed texts rendered by the page's own module), and emoji have a font stack.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { expectAttr, expectCount, expectText } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectJoinedHere, openClient, registerViaUi, sendViaUi, type Client } from './page-client.js';
import { fuzzTexts } from './rich-text-fuzz.js';
import { startStack, type Stack } from './stack.js';

const PASSWORD = 'correct-horse-42';
const SHOTS = 'test-results/screenshots';
/** The elements message text may contain and their attributes: this test's own copy, so a
 *  renderer that widened its list would fail here. */
const ALLOWED: Record<string, string[]> = { STRONG: [], EM: [], DEL: [], CODE: [], PRE: [], BLOCKQUOTE: [], A: ['href', 'rel', 'target'], MARK: [] };

let stack: Stack;
let browser: Browser;
let alice: Client;
let bob: Client;

/** The timeline element of the delivered message whose text contains `marker`. */
const message = (c: Client, marker: string) =>
  c.page.locator('#message-list .msg[data-id]').filter({ has: c.page.locator('.msg-text', { hasText: marker }) });

async function sendAndSee(text: string, marker: string): Promise<string> {
  await sendViaUi(alice, text);
  await message(alice, marker).waitFor({ timeout: 20_000 });
  await message(bob, marker).waitFor({ timeout: 20_000 });
  return (await message(alice, marker).getAttribute('data-id'))!;
}

interface Audit {
  violations: string[];
  elements: number;
  links: number;
}

/**
 * Audits, in the page, the formatted text under `selector`, or `texts` rendered by the page's
 * own rich-text-dom.js into detached elements: every element and attribute must be in
 * `allowed`, every link http(s)/mailto with rel="noopener noreferrer", target only _blank.
 */
async function audit(page: Page, arg: { selector?: string; texts?: string[] }): Promise<Audit> {
  // Loaded by the page itself (the same module instance the client uses); a string, because
  // vitest would rewrite an import() written inside an evaluated function.
  if (arg.texts) await page.evaluate("import('/js/ui/rich-text-dom.js').then((m) => { globalThis.richTextDom = m; })");
  return page.evaluate(
    async ({ selector, texts, allowed }) => {
      const doc = (globalThis as any).document;
      let roots: any[];
      if (texts) {
        const mod = (globalThis as any).richTextDom;
        roots = texts.map((t) => mod.renderRichText(doc.createElement('div'), t));
      } else roots = [...doc.querySelectorAll(selector)];
      const violations: string[] = [];
      let elements = 0;
      let links = 0;
      roots.forEach((root, i) => {
        const where = texts ? `text #${i} ${JSON.stringify(texts[i])}` : `${selector} #${i}`;
        for (const el of root.querySelectorAll('*')) {
          elements++;
          const ok = allowed[el.tagName];
          if (!ok) violations.push(`${where}: <${el.tagName}>`);
          for (const a of el.getAttributeNames()) if (!ok || !ok.includes(a)) violations.push(`${where}: <${el.tagName} ${a}>`);
          if (el.tagName !== 'A') continue;
          links++;
          if (!['http:', 'https:', 'mailto:'].includes(el.protocol)) violations.push(`${where}: href ${el.getAttribute('href')}`);
          if (el.getAttribute('rel') !== 'noopener noreferrer') violations.push(`${where}: rel ${el.getAttribute('rel')}`);
          const target = el.getAttribute('target');
          if (target !== null && target !== '_blank') violations.push(`${where}: target ${target}`);
        }
      });
      return { violations, elements, links };
    },
    { ...arg, allowed: ALLOWED },
  );
}

const style = (loc: Locator, prop: string) =>
  loc.evaluate((el, p) => (globalThis as any).getComputedStyle(el).getPropertyValue(p) as string, prop);

describe('links and light formatting, in the browser', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    stack = await startStack();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    alice = await openClient(browser, stack.origin, 'alice', [`ws://127.0.0.1:${stack.chatA.port}/ws`]);
    bob = await openClient(browser, stack.origin, 'bob', [`ws://127.0.0.1:${stack.chatB.port}/ws`]);
    await registerViaUi(alice, 'alice', PASSWORD);
    await registerViaUi(bob, 'bob', PASSWORD);
    await expectJoinedHere(alice, 'general');
    await expectJoinedHere(bob, 'general');
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  let formattedId = '';
  let blocksId = '';

  it('renders bold, italic, strikethrough, code and safe links as elements, for sender and receiver', async () => {
    const text = 'fmt-1 **bold** *it* _also it_ `x = 1` ~~gone~~ https://example.com/a_b. mailto:team@example.com';
    formattedId = await sendAndSee(text, 'fmt-1');
    for (const c of [alice, bob]) {
      const body = message(c, 'fmt-1').locator('.msg-text');
      await expectText(body, 'fmt-1 bold it also it x = 1 gone https://example.com/a_b. mailto:team@example.com');
      expect(await body.locator('strong').allTextContents()).toEqual(['bold']);
      expect(await body.locator('em').allTextContents()).toEqual(['it', 'also it']);
      expect(await body.locator('code').allTextContents()).toEqual(['x = 1']);
      expect(await body.locator('del').allTextContents()).toEqual(['gone']);
      const web = body.locator('a[href="https://example.com/a_b"]');
      await expectText(web, 'https://example.com/a_b'); // the full stop stays outside
      await expectAttr(web, 'rel', 'noopener noreferrer');
      await expectAttr(web, 'target', '_blank');
      const mail = body.locator('a[href="mailto:team@example.com"]');
      await expectAttr(mail, 'rel', 'noopener noreferrer');
      expect(await mail.getAttribute('target')).toBeNull();
      // And they look like what they are.
      expect(Number(await style(body.locator('strong'), 'font-weight'))).toBeGreaterThanOrEqual(600);
      expect(await style(body.locator('em').first(), 'font-style')).toBe('italic');
      expect(await style(body.locator('del'), 'text-decoration-line')).toContain('line-through');
      expect(await style(body.locator('code'), 'font-family')).toMatch(/^ui-monospace,.*monospace/);
    }
  });

  it('renders a code block verbatim and a quote as a block', async () => {
    const text = "fmt-2 look:\n```js\nconst x = '<b>**not bold**</b>';\n```\n> quoted **line**\n> and more\nback to normal";
    blocksId = await sendAndSee(text, 'fmt-2');
    for (const c of [alice, bob]) {
      const body = message(c, 'fmt-2').locator('.msg-text');
      await expectText(body.locator('pre > code'), "const x = '<b>**not bold**</b>';");
      await expectCount(body.locator('pre strong, pre b'), 0);
      await expectText(body.locator('blockquote'), 'quoted line\nand more');
      await expectText(body.locator('blockquote > strong'), 'line');
      expect(await style(body.locator('blockquote'), 'display')).toBe('block');
      expect(await style(body.locator('blockquote'), 'border-left-style')).toBe('solid');
      expect(await style(body.locator('pre > code'), 'font-family')).toMatch(/^ui-monospace,.*monospace/);
    }
    await bob.page.screenshot({ path: `${SHOTS}/formatting.png` });
  });

  it('hostile text yields no element or attribute outside the allow-list and no link but http(s)/mailto', async () => {
    const payloads = [
      'x-1 <img src=x onerror=alert(1)>',
      'x-2 javascript:alert(1)',
      'x-3 [click](javascript:alert(1)) JaVaScRiPt:alert(2) data:text/html,<script>alert(3)</script> vbscript:x',
      'x-4 **<b>nested _*deep*_ `<i>code</i>`</b>** ~~<s>x</s>~~',
      'x-5 https://ok.example/"><img src=x onerror=alert(4)> and https://ok.example/x?a=1&b=<svg/onload=alert(5)>',
      'x-6\n> <script>alert(6)</script>\n```\n</code></pre><img src=x onerror=alert(7)>\n```',
      'x-7 mailto:x@example.com?subject=<img src=x onerror=alert(8)> https://ex\u202eample.com',
    ];
    for (const p of payloads) await sendViaUi(bob, p);
    for (const c of [alice, bob]) for (const p of payloads) await message(c, p.slice(0, 3)).waitFor({ timeout: 20_000 });
    for (const c of [alice, bob]) {
      const a = await audit(c.page, { selector: '#message-list .msg-text' });
      expect(a.violations, c.name).toEqual([]);
      expect(a.links).toBeGreaterThan(0); // the audit saw links, not an empty page
      await expectText(message(c, 'x-1').locator('.msg-text'), 'x-1 <img src=x onerror=alert(1)>');
      await expectCount(message(c, 'x-2').locator('a'), 0);
      await expectCount(message(c, 'x-3').locator('a'), 0);
      expect(await message(c, 'x-5').locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual([
        'https://ok.example/',
        'https://ok.example/x?a=1&b=',
      ]);
      // A direction override is not part of a link: the link shows where it goes.
      expect(await message(c, 'x-7').locator('a').allTextContents()).toEqual(['mailto:x@example.com?subject=', 'https://ex']);
    }
    expect(alice.dialogs).toEqual([]);
    expect(bob.dialogs).toEqual([]);
  });

  it('renders 5,000 fuzzed texts with the page’s own module within the allow-list', async () => {
    const texts = fuzzTexts(7, 5000);
    const a = await audit(bob.page, { texts });
    expect(a.violations.slice(0, 10)).toEqual([]);
    expect(a.links).toBeGreaterThan(200);
    expect(a.elements).toBeGreaterThan(5000);
  });

  it('an edit re-renders the formatting for both users', async () => {
    const row = (c: Client) => c.page.locator(`#message-list .msg[data-id="${formattedId}"]`);
    await row(alice).hover();
    await row(alice).locator('.msg-actions [data-action="edit"]').click();
    const editor = row(alice).locator('.msg-editor-input');
    await editor.fill('fmt-1 now __strong__ and https://edited.example/path');
    await editor.press('Enter');
    for (const c of [alice, bob]) {
      await expectText(row(c).locator('.msg-text'), 'fmt-1 now strong and https://edited.example/path');
      await expectText(row(c).locator('.msg-text strong'), 'strong');
      await expectAttr(row(c).locator('.msg-text a'), 'href', 'https://edited.example/path');
      await expectCount(row(c).locator('.msg-text em, .msg-text code, .msg-text del'), 0);
      await expectText(row(c).locator('.msg-edited'), '(edited)');
    }
  });

  it('the thread panel formats the parent and the replies the same way', async () => {
    const parent = (c: Client) => c.page.locator(`#message-list .msg[data-id="${blocksId}"]`);
    await parent(alice).hover();
    await parent(alice).locator('.msg-actions [data-action="reply"]').click();
    await alice.page.locator('#thread').waitFor({ state: 'visible' });
    await expectText(alice.page.locator('#thread-parent .msg-text blockquote > strong'), 'line');
    await alice.page.locator('#thread-input').fill('**thread** reply, see https://thread.example/x');
    await alice.page.locator('#thread-input').press('Enter');
    await expectText(parent(bob).locator('.thread-count'), '1 reply');
    await parent(bob).locator('.thread-summary').click();
    for (const c of [alice, bob]) {
      const reply = c.page.locator('#thread-list .msg[data-id] .msg-text');
      await expectText(reply, 'thread reply, see https://thread.example/x');
      await expectText(reply.locator('strong'), 'thread');
      await expectAttr(reply.locator('a'), 'href', 'https://thread.example/x');
      const a = await audit(c.page, { selector: '#thread .msg-text' });
      expect(a.violations).toEqual([]);
    }
  });

  it('declares colour-emoji fonts after the text fonts, for messages, code and the composer', async () => {
    await sendAndSee('fmt-3 party 🎉👋🏽', 'fmt-3');
    const body = message(bob, 'fmt-3').locator('.msg-text');
    for (const loc of [body, bob.page.locator('#composer-input'), message(bob, 'fmt-1').locator('.msg-text')]) {
      const family = await style(loc, 'font-family');
      for (const f of ['Apple Color Emoji', 'Segoe UI Emoji', 'Noto Color Emoji']) expect(family).toContain(f);
      // Letters keep the text font: the emoji fonts come after the generic family.
      expect(family.indexOf('sans-serif')).toBeLessThan(family.indexOf('Noto Color Emoji'));
    }
    expect(await style(message(bob, 'fmt-2').locator('pre > code'), 'font-family')).toContain('Noto Color Emoji');

    // Which font Chromium really drew the emoji with. Only checkable where one is installed:
    // Debian's chromium image has none unless fonts-noto-color-emoji is added.
    const cdp = await bob.page.context().newCDPSession(bob.page);
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    const { root } = await cdp.send('DOM.getDocument', { depth: -1 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector: `#message-list .msg[data-id="${await message(bob, 'fmt-3').getAttribute('data-id')}"] .msg-text` });
    const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });
    const installed = emojiFontsInstalled();
    if (installed.length) expect(fonts.map((f) => f.familyName).join(), `installed: ${installed.join()}`).toMatch(/emoji/i);
    else console.warn(`no colour-emoji font installed (fc-list); Chromium drew "🎉" with: ${fonts.map((f) => f.familyName).join(', ')}`);
  });

  it('reported no CSP violation, script error or dialog in any page', () => {
    for (const c of [alice, bob]) {
      expect(c.problems, `${c.name}: ${c.problems.join('\n')}`).toEqual([]);
      expect(c.dialogs).toEqual([]);
    }
  });
});

function emojiFontsInstalled(): string[] {
  try {
    return execFileSync('fc-list', [':', 'family'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /emoji/i.test(l));
  } catch {
    return [];
  }
}
