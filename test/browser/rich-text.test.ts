// The message formatter's parser (frontend/js/rich-text.js) in Node: what each piece of syntax
// becomes, which URLs become links, and a seeded fuzz over thousands of hostile texts proving
// the tree never holds a node type, key or href outside the allow-list and never loses text.
// The DOM side (ui/rich-text-dom.js) is proved in Chromium by polish-formatting.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { fuzzTexts } from './rich-text-fuzz.js';

// Imported by path at run time: plain JavaScript served as-is, without type declarations.
let rt: any;
beforeAll(async () => {
  rt = await import(new URL('../../frontend/js/rich-text.js', import.meta.url).href);
});

/** A compact reading of a tree: text as JSON strings, other nodes as type(...). */
function show(nodes: any[]): string {
  return nodes
    .map((n) => {
      if (n.type === 'text') return JSON.stringify(n.text);
      if (n.type === 'link') return `link(${n.href} ${JSON.stringify(n.text)})`;
      if (n.type === 'code' || n.type === 'codeblock' || n.type === 'mention') return `${n.type}(${JSON.stringify(n.text)})`;
      return `${n.type}(${show(n.children)})`;
    })
    .join(' ');
}
const parse = (s: string) => show(rt.parseRichText(s).children);

const KEYS: Record<string, string[]> = {
  root: ['children', 'type'],
  text: ['text', 'type'],
  code: ['text', 'type'],
  codeblock: ['text', 'type'],
  strong: ['children', 'type'],
  em: ['children', 'type'],
  del: ['children', 'type'],
  quote: ['children', 'type'],
  link: ['href', 'text', 'type'],
  mention: ['text', 'type'],
};
const MAX_DEPTH = 10;

/** Everything wrong with `tree` as a parse of `input` (empty when it is sound). */
function problems(tree: any, input: string): string[] {
  const out: string[] = [];
  const texts: string[] = [];
  const walk = (n: any, depth: number, parent: string) => {
    if (!rt.NODE_TYPES.includes(n.type) || !KEYS[n.type]) return void out.push(`type ${n.type}`);
    const keys = Object.keys(n).sort();
    if (keys.join() !== KEYS[n.type]!.join()) out.push(`${n.type} has keys ${keys.join()}`);
    if (n.type === 'root' && depth !== 0) out.push('root below the top');
    if (n.type === 'quote' && parent !== 'root') out.push(`quote inside ${parent}`);
    if (depth > MAX_DEPTH + 1) out.push(`depth ${depth}`);
    if ('text' in n) {
      if (typeof n.text !== 'string') out.push(`${n.type}.text not a string`);
      if (n.type === 'text' && !n.text) out.push('empty text node');
      texts.push(n.text);
    }
    if (n.type === 'mention' && !/^@[A-Za-z0-9_.-]*[A-Za-z0-9_]$/.test(n.text)) out.push(`mention text ${JSON.stringify(n.text)}`);
    if (n.type === 'link') {
      let u: URL | null = null;
      try {
        u = new URL(n.href);
      } catch {
        out.push(`unparsable href ${n.href}`);
      }
      if (u && !rt.LINK_SCHEMES.includes(u.protocol)) out.push(`href scheme ${u.protocol}`);
      if (u && u.href !== n.href) out.push(`href not canonical: ${n.href}`);
      if (!/^(https?:\/\/|mailto:)/i.test(n.text)) out.push(`link text ${n.text}`);
      if (/[\s\u0000-\u001f\u007f<>"`\u202a-\u202e\u2066-\u2069]/u.test(n.text)) out.push(`link text holds ${JSON.stringify(n.text)}`);
    }
    if (n.children) {
      if (!Array.isArray(n.children)) return void out.push(`${n.type}.children not an array`);
      n.children.forEach((c: any, i: number) => {
        if (i > 0 && c.type === 'text' && n.children[i - 1].type === 'text') out.push('adjacent text nodes');
        walk(c, depth + 1, n.type);
      });
    }
  };
  walk(tree, 0, '');
  // Never loses text: every letter and digit typed is shown, in order (a code fence's
  // language tag is the one thing dropped).
  if (!input.includes('```')) {
    const letters = (s: string) => s.match(/[\p{L}\p{N}]/gu)?.join('') ?? '';
    if (letters(texts.join('')) !== letters(input)) out.push('letters lost or added');
  }
  return out;
}

describe('rich-text.js: the syntax', () => {
  it('leaves plain text, HTML and unclosed markup exactly as typed', () => {
    for (const s of ['hello', 'a\n\nb\n', '<img src=x onerror=alert(1)>', '<b>bold?</b>', 'snake_case_name', '2*3*4', 'a * b * c', '**not closed', '```open fence', '>:( and -> arrows', '~single~', '~~~three~~~', '']) {
      expect(parse(s), s).toBe(s ? JSON.stringify(s) : '');
    }
  });

  it('bold, italic, strikethrough and inline code, nested', () => {
    expect(parse('**bold** and *it* and _it_ and ~~gone~~')).toBe('strong("bold") " and " em("it") " and " em("it") " and " del("gone")');
    expect(parse('**bold _and italic_**, ***both***')).toBe('strong("bold " em("and italic")) ", " em(strong("both"))');
    expect(parse('`a **b** <i>` and `` a ` b ``')).toBe('code("a **b** <i>") " and " code("a ` b")');
    expect(parse('(*aside*) "_quoted_"')).toBe('"(" em("aside") ") \\"" em("quoted") "\\""');
  });

  it('@mentions as the server reads them: not in an e-mail, code or a link, without trailing punctuation, at least 3 characters', () => {
    expect(parse('hi @bob. and @al, @Carol_1-')).toBe('"hi " mention("@bob") ". and @al, " mention("@Carol_1") "-"');
    expect(parse('mail a@b.com or mailto:x@y.com, `@code`')).toBe('"mail a@b.com or " link(mailto:x@y.com "mailto:x@y.com") ", " code("@code")');
    expect(parse('**@dave** @room! @@eve x@frank')).toBe('strong(mention("@dave")) " " mention("@room") "! @@eve x@frank"');
    expect(parse('> @gina here')).toBe('quote(mention("@gina") " here")');
  });

  it('code blocks keep their text verbatim, drop a language tag, and may close mid-line', () => {
    expect(parse('before\n```js\nconst a = **1**;\n  indented\n```\nafter')).toBe('"before" codeblock("const a = **1**;\\n  indented") "after"');
    expect(parse('```one line```')).toBe('codeblock("one line")');
    expect(parse('````\nhas ``` inside\n````')).toBe('codeblock("has ``` inside")');
    expect(parse('not at ```line start```')).toBe('"not at " code("line start")');
  });

  it('quotes: consecutive "> " lines, formatted inside, ending at the first other line', () => {
    expect(parse('> first *line*\n>\n> third\nreply')).toBe('quote("first " em("line") "\\n\\nthird") "reply"');
    expect(parse('a\n> q')).toBe('"a" quote("q")');
  });

  it('links http, https and mailto URLs, without trailing punctuation or an unopened bracket', () => {
    expect(parse('see https://example.com/a_b_c.')).toBe('"see " link(https://example.com/a_b_c "https://example.com/a_b_c") "."');
    expect(parse('(https://en.wikipedia.org/wiki/Foo_(bar))')).toBe('"(" link(https://en.wikipedia.org/wiki/Foo_(bar) "https://en.wikipedia.org/wiki/Foo_(bar)") ")"');
    expect(parse('**https://example.com**!')).toBe('strong(link(https://example.com/ "https://example.com")) "!"');
    expect(parse('mail mailto:a@example.com, or HTTP://EXAMPLE.COM?')).toBe(
      '"mail " link(mailto:a@example.com "mailto:a@example.com") ", or " link(http://example.com/ "HTTP://EXAMPLE.COM") "?"',
    );
    expect(parse('"https://example.com/x"')).toBe('"\\"" link(https://example.com/x "https://example.com/x") "\\""');
    // A direction override ends the URL: the text cannot show one address and link another.
    expect(parse('https://ex\u202eample.com')).toBe('link(https://ex/ "https://ex") "\u202eample.com"');
  });

  it('never links another scheme, a URL without a host, or one inside a word or code', () => {
    for (const s of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:x',
      'file:///etc/passwd',
      '[x](javascript:alert(1))',
      'https://',
      'http:///path',
      'mailto:',
      'mailto:nobody',
      'xhttps://example.com',
      '//example.com',
    ]) {
      expect(parse(s), s).not.toMatch(/link\(/);
    }
    expect(parse('`https://example.com`')).toBe('code("https://example.com")');
  });

  it('safeHref accepts only http, https and mailto, canonicalised', () => {
    expect(rt.safeHref('https://example.com')).toBe('https://example.com/');
    expect(rt.safeHref('mailto:a@b.c')).toBe('mailto:a@b.c');
    for (const bad of ['javascript:alert(1)', ' javascript:alert(1)', 'java\nscript:alert(1)', 'data:,x', 'ftp://x', '/relative', 'nonsense', '']) {
      expect(rt.safeHref(bad), bad).toBeNull();
    }
  });

  it('unwraps emphasis nested past the depth limit instead of building it', () => {
    const deep = '*_'.repeat(40) + 'x' + '_*'.repeat(40);
    expect(problems(rt.parseRichText(deep), deep)).toEqual([]);
  });
});

describe('rich-text.js: fuzzed', () => {
  it('the checker itself rejects a tree with a foreign node, key or scheme, or lost text', () => {
    const root = (...children: any[]) => ({ type: 'root', children });
    expect(problems(root({ type: 'img', text: 'x' }), 'x')).toContain('type img');
    expect(problems(root({ type: 'text', text: 'x', href: 'y' }), 'x')).toEqual(['text has keys href,text,type']);
    expect(problems(root({ type: 'link', href: 'javascript:alert(1)', text: 'https://a' }), 'https://a')).toEqual(['href scheme javascript:']);
    expect(problems(root({ type: 'strong', children: [{ type: 'quote', children: [] }] }), '')).toEqual(['quote inside strong']);
    expect(problems(root({ type: 'text', text: 'hello' }), 'hello world')).toEqual(['letters lost or added']);
  });

  it('over 5,000 seeded random texts, the tree holds only allowed nodes, keys and hrefs, and keeps every letter', () => {
    const texts = fuzzTexts(20_2612, 5000);
    let links = 0;
    let formatted = 0;
    for (const s of texts) {
      const tree = rt.parseRichText(s);
      const bad = problems(tree, s);
      expect(bad, `input ${JSON.stringify(s)}`).toEqual([]);
      const json = JSON.stringify(tree);
      if (json.includes('"link"')) links++;
      if (/"(strong|em|del|code|codeblock|quote)"/.test(json)) formatted++;
    }
    // The fuzz reaches the interesting paths rather than only plain text.
    expect(links).toBeGreaterThan(200);
    expect(formatted).toBeGreaterThan(1000);
  });

  it('parses a hostile 4,000-character message quickly (no backtracking blow-up)', () => {
    for (const s of ['*_'.repeat(2000), '_a *a '.repeat(666), '`'.repeat(4000), '` '.repeat(2000), 'https://a.b/'.repeat(333), '~~a '.repeat(1000), '> *'.repeat(1333), '```\n'.repeat(1000)]) {
      // The best of three runs: the machine may be busy with other tests; a blow-up is not.
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        rt.parseRichText(s);
        best = Math.min(best, performance.now() - t0);
      }
      expect(best, JSON.stringify(s.slice(0, 12))).toBeLessThan(200);
    }
  });
});
