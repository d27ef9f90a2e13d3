// Polling assertions for playwright-core locators (the web-first `expect` ships with
// @playwright/test, not playwright-core). Each waits until the condition holds and otherwise
// fails with the last value it saw.
import type { Locator } from 'playwright-core';

const DEFAULT_TIMEOUT = 15_000;

export async function eventually<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  timeoutMs = DEFAULT_TIMEOUT,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`expected ${what} within ${timeoutMs} ms; last value: ${JSON.stringify(last)}${lastErr ? ` (${String(lastErr)})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const matches = (v: string, want: string | RegExp) => (typeof want === 'string' ? v === want : want.test(v));

export const expectText = (loc: Locator, want: string | RegExp, timeoutMs?: number) =>
  eventually(async () => (await loc.textContent()) ?? '', (v) => matches(v, want), `text ${String(want)}`, timeoutMs);

export const expectContainsText = (loc: Locator, want: string | RegExp, timeoutMs?: number) =>
  eventually(async () => (await loc.textContent()) ?? '', (v) => (typeof want === 'string' ? v.includes(want) : want.test(v)), `text containing ${String(want)}`, timeoutMs);

export const expectCount = (loc: Locator, n: number, timeoutMs?: number) =>
  eventually(() => loc.count(), (v) => v === n, `${n} elements`, timeoutMs);

export const expectAttr = (loc: Locator, name: string, want: string | RegExp, timeoutMs?: number) =>
  eventually(async () => (await loc.getAttribute(name)) ?? '', (v) => matches(v, want), `${name}=${String(want)}`, timeoutMs);

export const expectClass = (loc: Locator, cls: string, present = true, timeoutMs?: number) =>
  eventually(
    async () => (await loc.getAttribute('class')) ?? '',
    (v) => v.split(/\s+/).includes(cls) === present,
    `class ${cls} ${present ? 'present' : 'absent'}`,
    timeoutMs,
  );

export const expectValue = (loc: Locator, want: string, timeoutMs?: number) =>
  eventually(() => loc.inputValue(), (v) => v === want, `value of length ${want.length}`, timeoutMs);

export const expectFocused = (loc: Locator, timeoutMs?: number) =>
  eventually(() => loc.evaluate((el) => el === el.ownerDocument.activeElement), (v) => v, 'focus', timeoutMs);

/** Fully inside the viewport horizontally (e.g. an opened drawer). */
export const expectOnScreen = (loc: Locator, viewportWidth: number, timeoutMs?: number) =>
  eventually(
    () => loc.boundingBox(),
    (b) => !!b && b.x >= 0 && b.x + b.width <= viewportWidth + 1,
    'element on screen',
    timeoutMs,
  );
