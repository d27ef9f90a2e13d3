// Message search's text rules, shared by both store adapters (SearchQuery.q → terms, a text →
// its words, and the highlights of a hit), so SQLite and MongoDB agree on what a word is.
//
// A word is a run of letters, digits, private-use characters and combining marks (Unicode
// categories L, N, Co, M) — SQLite's FTS5 `unicode61` tokenizer with `categories 'L* N* Co M*'`
// (store-sqlite-search.ts), so the words cut here are the words indexed there. Everything else
// separates words: spaces, punctuation, symbols, emoji. Scripts written without spaces (Chinese,
// Japanese, Thai) are not segmented: a run of them is one word, found whole or by prefix (`東京*`).
// Words compare case- and diacritic-insensitively (fold()).
//
// The query language is deliberately small: every term is required; a term is a word, a
// "quoted phrase", or either with a trailing `*` (its last word is a prefix). A term whose word
// has inner punctuation (`e-mail`, `don't`) is the phrase of its parts, as the index cut them.
// Nothing else has a meaning: quotes, `*`, `-`, `:`, `(`, OR, NEAR... are text, never syntax —
// the adapters build their query from the words found here, not from the user's string.

/** At most this many terms are searched (the rest of a longer query is ignored). */
export const MAX_TERMS = 16;
/**
 * The shortest prefix (in characters) a trailing `*` applies to; a shorter one searches the
 * whole word. A prefix is matched against every indexed word that starts with it, so `a*` would
 * read a large part of the index (a second of work over a million messages, the users service
 * blocked meanwhile). Words of scripts written without spaces (Chinese, Japanese, Thai...) are
 * long runs, where one character is already a useful prefix: MIN_PREFIX_CHARS does not apply.
 */
export const MIN_PREFIX_CHARS = 3;
const UNSPACED_RE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;

const WORD_RE = /[\p{L}\p{N}\p{Co}\p{M}]+/gu;
const MARKS_RE = /\p{M}+/gu;

export interface Word {
  /** [start, end) in UTF-16 code units of the text. */
  start: number;
  end: number;
  /** The word as written. */
  raw: string;
  /** fold(raw). */
  key: string;
}

export interface SearchTerm {
  /** The term's words as written (a phrase when more than one), none empty once folded. */
  words: string[];
  /** Their folded forms (fold()), the same length as `words`. */
  keys: string[];
  /** The last word matches any word starting with it. */
  prefix: boolean;
}

/**
 * The comparison form of a word: lower case, every combining mark removed (é → e, ü → u, also
 * marks of other scripts), final sigma as sigma. NFC afterwards so Hangul syllables (split by
 * NFD) compare as written. ø, ł, ß, æ have no mark to remove and stay as they are (as in SQLite).
 */
export function fold(word: string): string {
  // lower case first: it can itself produce a mark (İ → i + U+0307), removed next
  return word.toLowerCase().normalize('NFD').replace(MARKS_RE, '').normalize('NFC').replace(/ς/g, 'σ');
}

/** The words of a text with their places (UTF-16 offsets), in order. Words that fold to nothing (marks alone) are skipped. */
export function wordsOf(text: string): Word[] {
  const out: Word[] = [];
  for (const m of text.matchAll(WORD_RE)) {
    const key = fold(m[0]);
    if (key === '') continue;
    out.push({ start: m.index, end: m.index + m[0].length, raw: m[0], key });
  }
  return out;
}

function term(text: string, prefix: boolean): SearchTerm | null {
  const words = wordsOf(text);
  if (words.length === 0) return null;
  const last = words[words.length - 1]!.key;
  const longEnough = [...last].length >= MIN_PREFIX_CHARS || UNSPACED_RE.test(last);
  return { words: words.map((w) => w.raw), keys: words.map((w) => w.key), prefix: prefix && longEnough };
}

/**
 * The terms of a query: "quoted phrases" (an unclosed quote runs to the end), then the
 * space-separated chunks between them; a `*` right after a chunk's last word (or right after a
 * closing quote) makes that word a prefix (when MIN_PREFIX_CHARS long). Chunks without a word (`-`, `🎉`, `""`) are dropped,
 * so [] means "nothing to search for". At most MAX_TERMS terms.
 */
export function parseQuery(q: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  const add = (t: SearchTerm | null) => {
    if (t && terms.length < MAX_TERMS) terms.push(t);
  };
  let i = 0;
  while (i < q.length && terms.length < MAX_TERMS) {
    const c = q[i]!;
    if (/\s/u.test(c)) {
      i++;
    } else if (c === '"') {
      const close = q.indexOf('"', i + 1);
      const end = close < 0 ? q.length : close;
      const after = close < 0 ? q.length : close + 1;
      const prefix = q[after] === '*';
      add(term(q.slice(i + 1, end), prefix && endsWithWord(q.slice(i + 1, end))));
      i = prefix ? after + 1 : after;
    } else {
      let end = i;
      while (end < q.length && q[end] !== '"' && !/\s/u.test(q[end]!)) end++;
      const chunk = q.slice(i, end);
      // `hel*` is a prefix; `*`, `a*b` and `hel-*` are not (the star must follow a word)
      const prefix = chunk.endsWith('*') && endsWithWord(chunk.replace(/\*+$/, '')) && /[^*]\*+$/.test(chunk);
      add(term(chunk, prefix));
      i = end;
    }
  }
  return terms;
}

function endsWithWord(s: string): boolean {
  return /[\p{L}\p{N}\p{Co}\p{M}]$/u.test(s);
}

/**
 * Where the terms occur in `text`: [start, end) UTF-16 ranges, ascending, overlapping ranges
 * merged. A term occurs where its words are consecutive words of the text (the last one by
 * prefix for a prefix term); the range runs from the first word's start to the last word's end
 * (a prefix term's whole last word, not only its first letters).
 */
export function highlights(text: string, terms: readonly SearchTerm[]): [number, number][] {
  if (terms.length === 0 || text === '') return [];
  const words = wordsOf(text);
  const found: [number, number][] = [];
  for (const t of terms) {
    const n = t.keys.length;
    for (let i = 0; i + n <= words.length; i++) {
      let ok = true;
      for (let k = 0; k < n && ok; k++) {
        const w = words[i + k]!.key;
        const key = t.keys[k]!;
        ok = t.prefix && k === n - 1 ? w.startsWith(key) : w === key;
      }
      if (ok) found.push([words[i]!.start, words[i + n - 1]!.end]);
    }
  }
  found.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const r of found) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

/**
 * The words of a text, folded, each followed by a space and the whole led by one: what the
 * MongoDB text index holds (store-mongo-search.ts), where ` word ` is then a whole word.
 */
export function foldedText(text: string): string {
  const keys = wordsOf(text).map((w) => w.key);
  return keys.length === 0 ? '' : ` ${keys.join(' ')} `;
}
