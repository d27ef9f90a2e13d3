// axe-core in a test page: the serious and critical violations as readable lines, in both colour
// schemes (the same check as a11y.test.ts), for tests of screens that file does not reach.
import { AxeBuilder } from '@axe-core/playwright';
import type { Client } from './page-client.js';

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];

export async function seriousViolations(c: Pick<Client, 'page'>): Promise<string[]> {
  const found: string[] = [];
  for (const colorScheme of ['dark', 'light'] as const) {
    await c.page.emulateMedia({ colorScheme });
    // axe measures the colours on screen: after transitions and animations (a flash) end.
    await c.page.waitForFunction(() => (globalThis as any).document.getAnimations().length === 0, undefined, { timeout: 5000 });
    const result = await new AxeBuilder({ page: c.page }).withTags(TAGS).analyze();
    if (!result.passes.some((r) => r.id === 'color-contrast')) throw new Error(`axe checked no colour contrast (${colorScheme})`);
    for (const v of result.violations) {
      if (v.impact !== 'serious' && v.impact !== 'critical') continue;
      for (const n of v.nodes) found.push(`${colorScheme}: ${v.impact} ${v.id} (${v.help}) at ${n.target.join(' ')}: ${n.failureSummary?.replace(/\s+/g, ' ')}`);
    }
  }
  await c.page.emulateMedia({ colorScheme: null });
  return found;
}
