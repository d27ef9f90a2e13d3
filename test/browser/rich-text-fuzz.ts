// Seeded random message texts for fuzzing the rich-text formatter (rich-text.test.ts in Node,
// polish-formatting.test.ts in Chromium): markup mixed with URLs good and hostile, HTML, control
// and invisible characters, emoji, right-to-left text, lone surrogates and random code points.
// The same seed always yields the same strings, so a failure names an input that reproduces.
import { mulberry32 } from '../helpers/prng.js';

const MARKUP = ['*', '**', '***', '_', '__', '~', '~~', '~~~', '`', '``', '```', '```js\n', '> ', '>', '\n', '\n\n', '\n> ', '\n```\n', ' ', ' ', '  '];
const URLS = [
  'https://example.com',
  'http://example.com/a_b_c?q=1&r=*x*#frag',
  'https://en.wikipedia.org/wiki/Foo_(bar)',
  'mailto:someone@example.com',
  'MAILTO:a@b.c?subject=hi',
  'HTTPS://EXAMPLE.COM/',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  'java\tscript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'vbscript:msgbox(1)',
  'file:///etc/passwd',
  'blob:https://example.com/x',
  '//evil.example',
  'https:evil.example',
  'http:/\\evil.example',
  'https://',
  'http://[',
  'http://[::1]:80/',
  'https://ex\u202eample.com',
  'https://example.com/"onmouseover="alert(1)',
  "https://example.com/'><img src=x onerror=alert(1)>",
  'https://user:pass@example.com:8080/p',
  'mailto:',
  'mailto:javascript:alert(1)',
  'https://x.com/javascript:alert(1)',
  'https://xn--80ak6aa92e.com',
  'https://пример.рф/путь',
];
const HTML = [
  '<img src=x onerror=alert(1)>',
  '<a href="javascript:alert(1)">x</a>',
  '<script>alert(1)</script>',
  '<svg onload=alert(1)>',
  '<b>',
  '</code>',
  '</pre>',
  '<style>*{}</style>',
  '&lt;',
  '&#x6a;avascript:',
  '<iframe srcdoc="x">',
  '[x](javascript:alert(1))',
  '![x](https://example.com/i.png)',
  '<https://example.com>',
];
const CONTROL = ['\u0000', '\u0001', '\u0008', '\t', '\r', '\u001b', '\u007f', '\u0085', '\u00a0', '\u200b', '\u200d', '\u200e', '\u2028', '\u2029', '\u202e', '\u2066', '\ufeff', '\ufffd'];
const UNICODE = ['👋', '👋🏽', '👨‍👩‍👧', '🇫🇷', 'é', 'e\u0301', '日本語', 'שלום', 'مرحبا', '\ud800', '\udc00', '\udbff\udfff', 'ß', 'İ', '𝔘'];
const WORDS = ['hello', 'world', 'snake_case_name', '2*3*4', 'a', 'x', 'foo.bar', 'it’s', '(', ')', '[', ']', '.', ',', '!', '?', ':', ';', '"', "'"];
const POOLS = [MARKUP, MARKUP, MARKUP, URLS, HTML, CONTROL, UNICODE, WORDS, WORDS];

/** One random message text of up to `maxPieces` pieces. */
export function randomText(next: () => number, maxPieces = 40): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const n = Math.floor(next() * maxPieces);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.05) s += String.fromCodePoint(Math.floor(next() * 0x110000));
    else if (r < 0.1) s += String.fromCharCode(Math.floor(next() * 0x80));
    else s += pick(pick(POOLS));
  }
  return s;
}

/** `count` texts from `seed`, plus a few long hostile ones near the 4,000-character limit. */
export function fuzzTexts(seed: number, count: number): string[] {
  const next = mulberry32(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(randomText(next));
  out.push('*_'.repeat(1000), '_a *a '.repeat(600), '**'.repeat(2000), '`'.repeat(3999), '> '.repeat(2000), 'https://a.b/'.repeat(330) + '((((', '~~a '.repeat(1000));
  for (let i = 0; i < 20; i++) {
    let s = '';
    while (s.length < 3900) s += randomText(next, 80);
    out.push(s.slice(0, 4000));
  }
  return out;
}
