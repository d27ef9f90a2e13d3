// The search text rules (search-highlight.ts): words, folding, the query language and the
// highlights, with accents, CJK, emoji and other scripts; and that its words are the words
// SQLite's FTS5 tokenizer indexes (store-sqlite-search.ts TOKENIZE), checked against SQLite itself.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { fold, foldedText, highlights, MAX_TERMS, MIN_PREFIX_CHARS, parseQuery, wordsOf, type SearchTerm } from './search-highlight.js';
import { ftsExpression, TOKENIZE } from './store-sqlite-search.js';

const words = (text: string) => wordsOf(text).map((w) => text.slice(w.start, w.end));
const marked = (text: string, q: string) => highlights(text, parseQuery(q)).map(([s, e]) => text.slice(s, e));
const t = (keys: string[], prefix = false): Partial<SearchTerm> => ({ keys, prefix });

describe('fold', () => {
  it('lowers case and removes every diacritic, precomposed or combining, in any script', () => {
    expect(fold('CRÈME')).toBe('creme');
    expect(fold('e\u0301cole')).toBe('ecole');
    expect(fold('İstanbul')).toBe('istanbul');
    expect(fold('ΣΊΣΥΦΟΣ')).toBe(fold('σίσυφος'));
    expect(fold('ǅemal')).toBe('ǆemal');
    expect(fold('Ṩ')).toBe('s');
  });

  it('keeps letters that have no mark to remove, and Hangul syllables whole', () => {
    expect(fold('Øster ß Æ Ł')).toBe('øster ß æ ł');
    expect(fold('안녕')).toBe('안녕');
    expect(fold('東京')).toBe('東京');
  });
});

describe('wordsOf', () => {
  it('cuts at spaces, punctuation, symbols and emoji, with UTF-16 offsets', () => {
    const text = '🎉 Hello, wörld!! 𝒳y 3.14 don\'t';
    expect(words(text)).toEqual(['Hello', 'wörld', '𝒳y', '3', '14', 'don', 't']);
    const [hello] = wordsOf(text);
    expect(hello).toEqual({ start: 3, end: 8, raw: 'Hello', key: 'hello' });
  });

  it('keeps combining marks in their word and a run of CJK as one word; a lone mark is no word', () => {
    expect(words('नमस्ते दुनिया')).toEqual(['नमस्ते', 'दुनिया']);
    expect(words('東京タワーに行く 東京')).toEqual(['東京タワーに行く', '東京']);
    expect(words('e\u0301cole \u0301 x')).toEqual(['e\u0301cole', 'x']);
    expect(words('a\u200db party🎉time')).toEqual(['a', 'b', 'party', 'time']);
  });

  it('cuts words exactly where SQLite FTS5 (the index) cuts them', () => {
    const db = new Database(':memory:');
    db.exec(`CREATE VIRTUAL TABLE f USING fts5(text, tokenize = "${TOKENIZE}");
      CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance');`);
    const corpus = [
      'Café crème brûlée', 'naïve Ærø Øster łódź straße', '東京タワーに行く 東京', 'party🎉time 😀smile', 'e\u0301cole',
      "don't e-mail foo_bar x.y 3.14", 'İstanbul ΣΊΣΥΦΟΣ', 'a\u200db', '١٢٣ arabic مرحبا', 'hello\u00adworld', 'नमस्ते दुनिया',
      'สวัสดีครับ', '안녕하세요 세계', 'שָׁלוֹם עולם', 'Ⅻ ½ ²', 'x\u{E000}y', 'tab\tnew\nline', '«quoted» „text“ ‹x›', 'a/b\\c|d', '#hash @at $1,000.50',
    ];
    const insert = db.prepare('INSERT INTO f (rowid, text) VALUES (?, ?)');
    corpus.forEach((text, i) => insert.run(i, text));
    const count = db.prepare<[number], number>('SELECT count(*) FROM v WHERE doc = ? AND term IS NOT NULL').pluck();
    for (const [i, text] of corpus.entries()) expect(wordsOf(text).length, text).toBe(count.get(i));
    // and Latin folding agrees: every word's folded form is the term SQLite stored
    const terms = db.prepare<[number], string>('SELECT term FROM v WHERE doc = ? ORDER BY "offset"').pluck();
    for (const i of [0, 4, 5]) expect(wordsOf(corpus[i]!).map((w) => w.key)).toEqual(terms.all(i));
    db.close();
  });
});

describe('parseQuery', () => {
  it('words, "phrases" and prefix* terms; punctuation inside a word makes a phrase of its parts', () => {
    expect(parseQuery('Hello  "New York"  bro* e-mail')).toEqual([
      { words: ['Hello'], keys: ['hello'], prefix: false },
      { words: ['New', 'York'], keys: ['new', 'york'], prefix: false },
      { words: ['bro'], keys: ['bro'], prefix: true },
      { words: ['e', 'mail'], keys: ['e', 'mail'], prefix: false },
    ]);
    expect(parseQuery('"eat broc"*')).toMatchObject([t(['eat', 'broc'], true)]);
    expect(parseQuery('café"crème')).toMatchObject([t(['cafe']), t(['creme'])]);
  });

  it('an unclosed quote runs to the end; a star that follows no word is no prefix', () => {
    expect(parseQuery('"open phrase')).toMatchObject([t(['open', 'phrase'])]);
    expect(parseQuery('* ** a*b hel-* "x" *')).toMatchObject([t(['a', 'b']), t(['hel']), t(['x'])]);
    expect(parseQuery('cats**')).toMatchObject([t(['cats'], true)]);
  });

  it(`a prefix shorter than MIN_PREFIX_CHARS (${MIN_PREFIX_CHARS}) is a whole word, except in scripts written without spaces`, () => {
    expect(parseQuery('ab* abc* "x ab"*')).toMatchObject([t(['ab']), t(['abc'], true), t(['x', 'ab'])]);
    expect(parseQuery('É*')).toMatchObject([t(['e'])]);
    expect(parseQuery('東* 안* ไทย*')).toMatchObject([t(['東'], true), t(['안'], true), t(['ไทย'], true)]);
  });

  it('operators and symbols are words or nothing: OR, NEAR(, -, :, ^, (, ) have no meaning', () => {
    expect(parseQuery('cat OR dog')).toMatchObject([t(['cat']), t(['or']), t(['dog'])]);
    expect(parseQuery('NEAR(cat dog) -x text:y ^z')).toMatchObject([t(['near', 'cat']), t(['dog']), t(['x']), t(['text', 'y']), t(['z'])]);
    expect(parseQuery('🎉 "" - : ( ) \u0301')).toEqual([]);
    expect(parseQuery('')).toEqual([]);
  });

  it('keeps at most MAX_TERMS terms', () => {
    const q = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    expect(parseQuery(q)).toHaveLength(MAX_TERMS);
  });

  it('becomes an FTS5 expression of quoted strings only, whatever the query', () => {
    expect(ftsExpression(parseQuery('cat OR "New York" bro* NEAR(x'))).toBe('"cat" AND "OR" AND "New York" AND "bro" * AND "NEAR x"');
    expect(ftsExpression([{ words: ['a"b'], keys: ['a"b'], prefix: false }])).toBe('"a""b"');
  });
});

describe('highlights', () => {
  it('marks whole words case- and accent-insensitively, in UTF-16 offsets past emoji', () => {
    const text = '😀🎉 Crème brûlée, CREME again';
    expect(highlights(text, parseQuery('creme'))).toEqual([[5, 10], [19, 24]]);
    expect(marked(text, 'BRÛLÉE creme')).toEqual(['Crème', 'brûlée', 'CREME']);
    expect(marked('caterpillar cat', 'cat')).toEqual(['cat']);
  });

  it('marks a phrase as one range only where its words are consecutive', () => {
    expect(marked('New York, new  york; york new', '"new york"')).toEqual(['New York', 'new  york']);
    expect(highlights('the quick brown fox', parseQuery('"quick brown" brown fox'))).toEqual([[4, 15], [16, 19]]);
  });

  it('marks the whole word a prefix term matches, also at the end of a phrase', () => {
    expect(marked('brownies and broccoli, abroad', 'bro*')).toEqual(['brownies', 'broccoli']);
    expect(marked('eat broccoli, eat bread', '"eat broc"*')).toEqual(['eat broccoli']);
  });

  it('marks CJK runs, Cyrillic and Devanagari words', () => {
    expect(marked('東京タワーに行く 東京', '東京')).toEqual(['東京']);
    expect(marked('東京タワーに行く 東京', '東京*')).toEqual(['東京タワーに行く', '東京']);
    expect(marked('Привет, МИР', 'мир')).toEqual(['МИР']);
    expect(marked('नमस्ते दुनिया', 'नमस्ते')).toEqual(['नमस्ते']);
    expect(marked('e\u0301cole', 'ecole')).toEqual(['e\u0301cole']);
  });

  it('is empty without terms or text, and merges overlapping matches', () => {
    expect(highlights('anything', [])).toEqual([]);
    expect(highlights('', parseQuery('x'))).toEqual([]);
    expect(highlights('a b c', parseQuery('"a b" "b c"'))).toEqual([[0, 5]]);
  });
});

describe('foldedText', () => {
  it('is the folded words between single spaces, led and ended by one (a whole word is " word ")', () => {
    expect(foldedText('Crème, BRÛLÉE! 🎉')).toBe(' creme brulee ');
    expect(foldedText('🎉 !')).toBe('');
  });
});
