// README's browser example (frontend/examples/hello.html + hello.js, the SDK loaded from /sdk/
// with no build step) in real Chromium against the real stack: it signs in, joins #general,
// shows a message another user sends over the SDK in Node, and sends one that user receives.
import { existsSync, readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { createClient, type Client as SdkClient, type MessageFrame } from '../../sdk/src/index.js';
import { CHROMIUM, CHROMIUM_ARGS } from './page-client.js';
import { registerAndLogin, startStack, waitFor, type Stack } from './stack.js';

const PASSWORD = 'correct horse battery';
let stack: Stack;
let browser: Browser;
let node: SdkClient | undefined;

describe('the SDK browser example', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
    stack = await startStack();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 90_000);

  afterAll(async () => {
    node?.close();
    await browser?.close();
    await stack?.stop();
  });

  it('is the page README shows', () => {
    const readme = readFileSync('README.md', 'utf8');
    const blocks = [...readme.slice(readme.indexOf('## Build on it: the client SDK')).matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
    const page = readFileSync('frontend/examples/hello.js', 'utf8').replace(/^(\/\/.*\n)+/, '');
    expect(blocks).toContain(page);
  });

  it('signs in, shows live messages and sends, with the SDK served at /sdk/', async () => {
    await registerAndLogin(stack.origin, 'example_page', PASSWORD);
    node = createClient({ base: stack.origin, WebSocket, wsOptions: { headers: { origin: stack.origin } } });
    await node.register('example_node', PASSWORD);
    await node.login('example_node', PASSWORD);
    const got: MessageFrame[] = [];
    node.on('message', (m) => got.push(m));
    await node.join('general');

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${stack.origin}/examples/hello.html`);
    await page.fill('input[name=user]', 'example_page');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#login button');
    await page.locator('#say').waitFor({ state: 'visible' });

    await node.send('general', 'hello from node <b>not bold</b>');
    await page.locator('#log li', { hasText: 'example_node: hello from node <b>not bold</b>' }).waitFor();
    expect(await page.locator('#log b').count()).toBe(0); // text, never markup

    await page.fill('input[name=text]', 'hello from the page');
    await page.click('#say button');
    await waitFor(() => got.some((m) => m.user.name === 'example_page' && m.text === 'hello from the page'), { what: 'the page message in node' });
    expect(errors).toEqual([]);
  });
});
