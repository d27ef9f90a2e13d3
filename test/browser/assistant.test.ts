// The assistant in the browser (issue 17), in real Chromium against the real stack (two chat
// replicas, the ingestion service running the assistant against a real local OpenAI-compatible
// server, test/helpers/fake-openai-server.ts): a question to @assistant shows `thinking…` for
// everyone, then the answer growing as its tokens arrive (a caret while it streams), then the
// final text without "(edited)"; only the asker sees the Stop button, and stopping keeps the
// partial answer marked "(stopped)"; after a reload the stored final text is what shows.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Locator } from 'playwright-core';
import { chunk, startFakeOpenAIServer, type FakeOpenAIServer } from '../helpers/fake-openai-server.js';
import { expectContainsText, expectCount } from './assert.js';
import { CHROMIUM, CHROMIUM_ARGS, expectJoinedHere, openClient, registerViaUi, sendViaUi, type Client } from './page-client.js';
import { startStack, type Stack } from './stack.js';

const PASSWORD = 'correct-horse-42';

let stack: Stack;
let fake: FakeOpenAIServer;
let browser: Browser;
let ann: Client;
let bob: Client;
const clients: Client[] = [];

/** The assistant's answer to the question with this text: the first assistant message after it. */
const answerTo = (c: Client, question: string): Locator =>
  c.page.locator(
    `xpath=//ol[@id="message-list"]/li[@data-id][.//div[contains(@class,"msg-text")][normalize-space(.)="${question}"]]/following-sibling::li[@data-author="assistant"][1]`,
  );

const slowAnswer = (words: number, delayMs: number) =>
  fake.script({ chunks: [...Array.from({ length: words }, (_, i) => chunk.text(`part${i} `)), chunk.finish('stop')], chunkDelayMs: delayMs });

describe.skipIf(!existsSync(CHROMIUM))('the assistant in the browser', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    fake = await startFakeOpenAIServer();
    stack = await startStack({
      ingestionEnv: { ASSISTANT_PROVIDER: 'openai', ASSISTANT_BASE_URL: fake.baseURL, ASSISTANT_API_KEY: 'sk-browser-test', ASSISTANT_MODEL: 'fake' },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const urls = [`ws://127.0.0.1:${stack.chatA.port}/ws`, `ws://127.0.0.1:${stack.chatB.port}/ws`];
    ann = await openClient(browser, stack.origin, 'ann', urls);
    bob = await openClient(browser, stack.origin, 'bob', [...urls].reverse());
    clients.push(ann, bob);
    await registerViaUi(ann, 'ann', PASSWORD);
    await registerViaUi(bob, 'bob', PASSWORD);
    await expectJoinedHere(ann, 'general');
    await expectJoinedHere(bob, 'general');
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) expect(c.problems, `${c.name}'s page`).toEqual([]);
    await browser?.close();
    await stack?.stop();
    await fake?.close();
  });

  it('thinking…, then the answer growing live on both screens, then the final text without "(edited)"', async () => {
    slowAnswer(60, 50); // 3 s of tokens: a delta at most every 100 ms (≤ 31 frames for 60 chunks)
    await sendViaUi(ann, '@assistant tell me a story');
    const onBob = answerTo(bob, '@assistant tell me a story');
    // streaming: some words, not all, with the caret; Stop for the asker only
    await expectContainsText(onBob.locator('.msg-text'), 'part0');
    expect(await onBob.locator('.msg-text').textContent()).not.toContain('part59');
    await expectCount(onBob.locator('.msg-caret'), 1);
    const onAnn = answerTo(ann, '@assistant tell me a story');
    await expectCount(onAnn.locator('button[data-action="stop-answer"]'), 1);
    await expectCount(onBob.locator('button[data-action="stop-answer"]'), 0);
    // the tokens arrived as `delta` frames (fewer than the provider's chunks: throttled)
    expect(bob.received.filter((f) => f.type === 'delta').length).toBeGreaterThan(0);
    // finished: the whole text, no caret, no Stop, no "(edited)"
    await expectContainsText(onBob.locator('.msg-text'), 'part59', 20_000);
    await expectCount(onBob.locator('.msg-caret'), 0);
    await expectCount(onAnn.locator('button[data-action="stop-answer"]'), 0);
    await expectCount(onBob.locator('.msg-edited'), 0);
    expect(bob.received.filter((f) => f.type === 'delta').length).toBeLessThanOrEqual(31);
  });

  it('the asker stops an answer: the partial text stays, marked (stopped), for everyone; a reload shows the stored text', async () => {
    slowAnswer(80, 150);
    await sendViaUi(ann, '@assistant write an essay');
    const onAnn = answerTo(ann, '@assistant write an essay');
    await expectContainsText(onAnn.locator('.msg-text'), 'part1');
    await onAnn.locator('button[data-action="stop-answer"]').click();
    const onBob = answerTo(bob, '@assistant write an essay');
    await expectContainsText(onBob.locator('.msg-text'), '(stopped)', 20_000);
    const text = (await onBob.locator('.msg-text').textContent()) ?? '';
    expect(text).toMatch(/^part0 /);
    expect(text).not.toContain('part79');

    await bob.page.reload();
    await expectJoinedHere(bob, 'general');
    await expectContainsText(answerTo(bob, '@assistant write an essay').locator('.msg-text'), '(stopped)');
    await expectContainsText(answerTo(bob, '@assistant tell me a story').locator('.msg-text'), 'part59');
    await expectCount(answerTo(bob, '@assistant tell me a story').locator('.msg-edited'), 0);
  });
});
