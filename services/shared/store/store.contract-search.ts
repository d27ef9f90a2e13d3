// The contract suite's search part (store.ts searchMessages), run against every implementation
// by store.test.ts: what a word is (search-highlight.ts), unicode, phrases and prefixes, ranking,
// edits and deletes in either order of arrival, highlights, and that a query's text is never
// syntax. Who may find what (no leaks), the filters and paging are in
// store.contract-search-access.ts.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage, ChatUser } from '../message.js';
import { ev } from './store.contract-events.js';
import { SEARCH_RANK_WINDOW } from './store-sqlite-search.js';
import { searchAccessContract } from './store.contract-search-access.js';
import type { SearchHit, SearchQuery, Store } from './store.js';

export const writer: ChatUser = { id: 'u_writer01', name: 'writer' };
export const reader: ChatUser = { id: 'u_reader01', name: 'reader' };

export function say(room: string, id: string, text: string, user: ChatUser = writer): ChatMessage {
  return { id, room, user, text, ts: Number(id.split('-')[0]), cid: `s${id.replace('-', '_')}` };
}

/** Runs a search as `viewer` (page 0, 50 results unless told). */
export async function search(store: Store, q: string, opts: Partial<SearchQuery> = {}): Promise<SearchHit[]> {
  return store.searchMessages({ viewerId: reader.id, q, offset: 0, limit: 50, ...opts });
}
export const idsOf = (hits: SearchHit[]) => hits.map((h) => h.message.id);
/** The highlighted parts of a hit's text. */
export const marked = (h: SearchHit) => h.highlights.map(([s, e]) => h.message.text.slice(s, e));

export function searchContract(name: string, factory: () => Promise<Store>, cleanup?: (store: Store) => Promise<void>): void {
  describe(`${name} store contract: search`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      if (cleanup) await cleanup(store);
      else await store.close();
    });
    const ids = async (q: string, opts: Partial<SearchQuery> = {}) => idsOf(await search(store, q, opts));

    describe('words', () => {
      it('finds a word wherever punctuation or emoji put it, whatever its case, and only whole words', async () => {
        await store.insertMessages([
          say('general', '10-0', 'Hello, World!'),
          say('general', '11-0', '(world)…and more'),
          say('general', '12-0', '🎉world🎉'),
          say('general', '13-0', 'worldwide news'),
          say('general', '14-0', 'WORLD'),
        ]);
        expect((await ids('world')).sort()).toEqual(['10-0', '11-0', '12-0', '14-0']);
        expect((await ids('WoRlD')).sort()).toEqual(['10-0', '11-0', '12-0', '14-0']);
        expect(await ids('worldwide')).toEqual(['13-0']);
        expect(await ids('wor')).toEqual([]);
      });

      it('requires every term, in any order and anywhere in the message', async () => {
        await store.insertMessages([
          say('general', '10-0', 'apple and banana'),
          say('general', '11-0', 'banana split, then an apple'),
          say('general', '12-0', 'only an apple'),
          say('general', '13-0', 'only a banana'),
        ]);
        expect((await ids('apple banana')).sort()).toEqual(['10-0', '11-0']);
        expect((await ids('banana   apple')).sort()).toEqual(['10-0', '11-0']);
      });

      it('a word with inner punctuation is the phrase of its parts (e-mail, don\'t, 3.14)', async () => {
        await store.insertMessages([
          say('general', '10-0', 'send an e-mail'),
          say('general', '11-0', 'send an e mail'),
          say('general', '12-0', 'mail me, e'),
          say('general', '13-0', "don't panic, pi is 3.14"),
        ]);
        expect((await ids('e-mail')).sort()).toEqual(['10-0', '11-0']);
        expect(await ids("DON'T 3.14")).toEqual(['13-0']);
      });

      it('a query without a word finds nothing, and a limit of 0 finds nothing', async () => {
        await store.insertMessages([say('general', '10-0', 'anything at all 🎉')]);
        for (const q of ['', '   ', '🎉', '"" * - : ( )', '\u0301']) expect(await ids(q), q).toEqual([]);
        expect(await ids('anything', { limit: 0 })).toEqual([]);
      });
    });

    describe('unicode', () => {
      it('ignores accents both ways, also when written as a letter plus a combining mark', async () => {
        await store.insertMessages([
          say('general', '10-0', 'Crème brûlée au café'),
          say('general', '11-0', 'e\u0301cole du soir'), // é decomposed
          say('general', '12-0', 'NAÏVE Zürich'),
        ]);
        expect(await ids('creme BRULEE')).toEqual(['10-0']);
        expect(await ids('CAFÉ')).toEqual(['10-0']);
        expect(await ids('école')).toEqual(['11-0']);
        expect(await ids('ecole')).toEqual(['11-0']);
        expect(await ids('naive zurich')).toEqual(['12-0']);
        const [hit] = await search(store, 'cafe creme');
        expect(marked(hit!)).toEqual(['Crème', 'café']);
      });

      it('finds words of other scripts, CJK runs whole or by prefix, and gives highlights in UTF-16 offsets', async () => {
        await store.insertMessages([
          say('general', '10-0', '東京タワーに行く'),
          say('general', '11-0', '今日は 東京 です'),
          say('general', '12-0', 'Привет, МИР'),
          say('general', '13-0', '😀🎉 party 𝒳 time'),
          say('general', '14-0', 'नमस्ते दुनिया'),
        ]);
        expect(await ids('東京')).toEqual(['11-0']);
        expect((await ids('東京*')).sort()).toEqual(['10-0', '11-0']);
        expect(await ids('мир')).toEqual(['12-0']);
        expect(await ids('नमस्ते')).toEqual(['14-0']);
        // a vowel sign is part of its word: a word's consonants alone are not that word
        expect(await ids('नमस')).toEqual([]);
        const [party] = await search(store, 'party time');
        // two emoji are 4 UTF-16 units, a space, then "party"; 𝒳 is a letter of 2 units
        expect(party!.highlights).toEqual([[5, 10], [14, 18]]);
        const [tokyo] = await search(store, '東京*');
        expect(marked(tokyo!)).toEqual([tokyo!.message.id === '11-0' ? '東京' : '東京タワーに行く']);
      });
    });

    describe('phrases and prefixes', () => {
      it('a "quoted phrase" needs its words together and in order; the same words unquoted do not', async () => {
        await store.insertMessages([
          say('general', '10-0', 'the quick brown fox'),
          say('general', '11-0', 'brown and quick'),
          say('general', '12-0', 'Quick, brown!'),
        ]);
        expect((await ids('"quick brown"')).sort()).toEqual(['10-0', '12-0']);
        expect((await ids('quick brown')).sort()).toEqual(['10-0', '11-0', '12-0']);
        expect(await ids('"brown fox" the')).toEqual(['10-0']);
        const [hit] = await search(store, '"quick brown"', { room: 'general', beforeId: '11-0' });
        expect(marked(hit!)).toEqual(['quick brown']);
      });

      it('a trailing * matches the start of a word (highlighting the whole word), also at a phrase\'s end', async () => {
        await store.insertMessages([
          say('general', '10-0', 'brownies and broccoli'),
          say('general', '11-0', 'going abroad'),
          say('general', '12-0', 'Bro'),
          say('general', '13-0', 'eat broccoli now'),
        ]);
        expect((await ids('bro*')).sort()).toEqual(['10-0', '12-0', '13-0']);
        expect(await ids('bro')).toEqual(['12-0']);
        const hit = (await search(store, 'bro*')).find((h) => h.message.id === '10-0')!;
        expect(marked(hit)).toEqual(['brownies', 'broccoli']);
        expect(await ids('"eat broc"*')).toEqual(['13-0']);
        expect(await ids('ÉAT BROC*')).toEqual(['13-0']);
      });
    });

    describe('ranking', () => {
      it('ranks a message with more of the terms first, and equal ones newest first', async () => {
        await store.insertMessages([
          say('general', '10-0', 'cat bird bird bird'),
          say('general', '11-0', 'cat cat cat bird'),
          say('general', '12-0', 'cat bird dog fish'),
          say('general', '13-0', 'cat bird dog fish'),
        ]);
        const hits = await search(store, 'cat');
        // three cats first; then one cat in as many words each: equal scores, newest first
        expect(idsOf(hits)).toEqual(['11-0', '13-0', '12-0', '10-0']);
        expect(hits[1]!.score).toBe(hits[2]!.score);
        expect(hits[0]!.score).toBeGreaterThan(hits[hits.length - 1]!.score);
      });
    });

    describe('edits and deletes', () => {
      it('an edit replaces the words found, whether it arrives after or before its message', async () => {
        await store.insertMessages([say('general', '10-0', 'original wording')]);
        await store.applyEvents([ev.edit('general', '11-0', '10-0', 'revised phrasing')]);
        // the edit first, its message later (a claimed batch is not in order)
        await store.applyEvents([ev.edit('general', '21-0', '20-0', 'corrected sentence')]);
        await store.insertMessages([say('general', '20-0', 'original sentence')]);
        expect(await ids('original')).toEqual([]);
        expect(await ids('revised')).toEqual(['10-0']);
        expect(await ids('corrected sentence')).toEqual(['20-0']);
        const [hit] = await search(store, 'corrected');
        expect(hit!.message).toMatchObject({ id: '20-0', text: 'corrected sentence', editedAt: 21 });
        expect(marked(hit!)).toEqual(['corrected']);
      });

      it('the newest of several edits wins whatever their order of arrival', async () => {
        await store.insertMessages([say('general', '10-0', 'first draft')]);
        await store.applyEvents([ev.edit('general', '13-0', '10-0', 'third draft')]);
        await store.applyEvents([ev.edit('general', '12-0', '10-0', 'second draft')]); // late and older: ignored
        expect(await ids('third')).toEqual(['10-0']);
        expect(await ids('second')).toEqual([]);
        expect(await ids('first')).toEqual([]);
        // a redelivered edit changes nothing
        await store.applyEvents([ev.edit('general', '13-0', '10-0', 'third draft')]);
        expect(await ids('draft')).toEqual(['10-0']);
      });

      it('a deleted message is never found, whether the delete arrives after or before it, or among edits', async () => {
        await store.insertMessages([say('general', '10-0', 'vanishing ink'), say('general', '11-0', 'vanishing act')]);
        await store.applyEvents([ev.del('general', '12-0', '10-0')]);
        await store.applyEvents([ev.del('general', '21-0', '20-0')]);
        await store.insertMessages([say('general', '20-0', 'vanishing cream')]);
        await store.insertMessages([say('general', '30-0', 'vanishing point')]);
        await store.applyEvents([ev.edit('general', '31-0', '30-0', 'vanishing edit'), ev.del('general', '32-0', '30-0')]);
        await store.applyEvents([ev.edit('general', '33-0', '30-0', 'vanishing again')]); // after a delete: nothing
        await store.applyEvents([ev.del('general', '41-0', '40-0'), ev.edit('general', '42-0', '40-0', 'vanishing late edit')]);
        await store.insertMessages([say('general', '40-0', 'vanishing trick')]);
        expect(await ids('vanishing')).toEqual(['11-0']);
        expect(await ids('ink')).toEqual([]);
        expect(await ids('again')).toEqual([]);
      });

      it('finds thread replies (with their parent id) and shows a hit in its current state', async () => {
        await store.insertMessages([say('general', '10-0', 'parent post'), { ...say('general', '11-0', 'reply with a needle'), replyTo: '10-0' }]);
        await store.applyEvents([ev.react('general', '12-0', '11-0', '👍', true, reader)]);
        const [hit] = await search(store, 'needle');
        expect(hit!.message).toEqual({ ...say('general', '11-0', 'reply with a needle'), replyTo: '10-0', reactions: [{ emoji: '👍', count: 1, me: true }] });
        expect(hit!.message).toEqual(await store.getMessage('general', '11-0', reader.id));
      });
    });

    describe('query text is never syntax', () => {
      it('quotes, stars, minus, OR, NEAR(, colons and brackets search as text and never fail', async () => {
        await store.insertMessages([
          say('general', '10-0', 'cat or dog'),
          say('general', '11-0', 'cat and dog'),
          say('general', '12-0', 'text: cat'),
          say('general', '13-0', 'near cat'),
        ]);
        const odd = ['"', '""', '"cat', 'cat"', 'c"a"t', '*', '**', 'cat**', '*cat', '-cat', 'cat -dog', 'cat OR dog', 'cat AND', 'NOT cat',
          'NEAR(cat dog)', 'NEAR(', 'text:cat', '{text}: cat', '^cat', '(cat', 'cat)', 'cat + dog', '\\', "'", '%', '_', '\u0000cat'];
        for (const q of odd) await expect(search(store, q), q).resolves.toBeInstanceOf(Array);
        // OR is a word to find, not an operator: only the message that has it
        expect(await ids('cat OR dog')).toEqual(['10-0']);
        // a minus is not a negation
        expect((await ids('-cat')).length).toBe(4);
        // NEAR( is the word "near": "NEAR(cat" the phrase "near cat"
        expect(await ids('NEAR(cat')).toEqual(['13-0']);
        // a colon is no column filter: "text:cat" is the phrase "text cat"
        expect(await ids('text:cat')).toEqual(['12-0']);
        expect(await ids('"cat')).toHaveLength(4);
      });
    });
  });

  searchAccessContract(name, factory, cleanup);
}

/** SQLite only: the rank window, and a file written before search gets its index filled once, at its first opening. */
export function sqliteSearchSpecifics(open: (path: string) => Promise<Store>, freshPath: () => string): void {
  it(`ranks only the newest ${SEARCH_RANK_WINDOW} matches the viewer may read, after the filters`, async () => {
    const path = freshPath();
    mkdirSync(dirname(path), { recursive: true });
    const store = await open(path);
    try {
      await store.insertMessages([say('general', '10-0', 'needle needle needle, quite unique')]);
      const hay = Array.from({ length: SEARCH_RANK_WINDOW }, (_, i) => say('general', `${1000 + i}-0`, `needle in a haystack ${i}`));
      for (let i = 0; i < hay.length; i += 1000) await store.insertMessages(hay.slice(i, i + 1000));
      // the best match is older than the window: not considered
      const all = idsOf(await search(store, 'needle', { limit: 50 }));
      expect(all).toHaveLength(50);
      expect(all).not.toContain('10-0');
      // a filter that leaves it among the newest matches: ranked first
      expect(idsOf(await search(store, 'needle', { beforeId: '1010-0' }))[0]).toBe('10-0');
      // the window is of matches, not of messages: a rare word is found however old
      expect(idsOf(await search(store, 'unique needle'))).toEqual(['10-0']);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('upgrades a file of the schema before search: its messages are indexed once, in their current state', async () => {
    const path = freshPath();
    mkdirSync(dirname(path), { recursive: true });
    await (await open(path)).close();
    const raw = new Database(path);
    // back to exactly the schema before search (unversioned, as files of that era: user_version 0)
    raw.exec(`PRAGMA user_version = 0; DROP TRIGGER search_message_insert; DROP TRIGGER search_message_delete; DROP TRIGGER search_change_insert;
      DROP TRIGGER search_change_update; DROP TABLE message_fts; DROP TABLE search_docs; DROP INDEX memberships_banned;`);
    const insert = raw.prepare(
      `INSERT INTO messages (room, ms, seq, id, user_id, user_name, text, ts, cid, reply_ms, reply_seq) VALUES ('general', ?, 0, ?, ?, 'writer', ?, ?, ?, ?, ?)`,
    );
    insert.run(5, '5-0', writer.id, 'ancient scroll', 5, 'c5', null, null);
    insert.run(6, '6-0', writer.id, 'ancient draft', 6, 'c6', null, null);
    insert.run(7, '7-0', writer.id, 'ancient secret', 7, 'c7', null, null);
    insert.run(8, '8-0', writer.id, 'ancient reply', 8, 'c8', 5, 0);
    raw.prepare("INSERT INTO changes (room, ms, seq, v_ms, v_seq, text, edited_at, deleted) VALUES ('general', 6, 0, 9, 0, 'ancient final text', 9, 0)").run();
    raw.prepare("INSERT INTO changes (room, ms, seq, v_ms, v_seq, text, edited_at, deleted) VALUES ('general', 7, 0, 9, 1, NULL, NULL, 1)").run();
    raw.close();

    const store = await open(path);
    expect(idsOf(await search(store, 'ancient')).sort()).toEqual(['5-0', '6-0', '8-0']);
    expect(idsOf(await search(store, 'draft'))).toEqual([]);
    expect(idsOf(await search(store, 'final'))).toEqual(['6-0']);
    // and it keeps being kept: a new message, an edit of an old one
    await store.insertMessages([say('general', '20-0', 'ancient new')]);
    await store.applyEvents([ev.edit('general', '21-0', '5-0', 'modern scroll')]);
    expect(idsOf(await search(store, 'ancient')).sort()).toEqual(['20-0', '6-0', '8-0']);
    await store.close();
    // opening it again indexes nothing twice
    const again = await open(path);
    expect(idsOf(await search(again, 'ancient')).sort()).toEqual(['20-0', '6-0', '8-0']);
    expect(idsOf(await search(again, 'scroll'))).toEqual(['5-0']);
    await again.close();
    const check = new Database(path, { readonly: true });
    expect(check.prepare('SELECT count(*) FROM search_docs').pluck().get()).toBe(4);
    check.close();
  });
}
