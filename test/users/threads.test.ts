// GET /api/rooms/:room/messages/:id/replies — a thread, oldest first, paged forward with
// `after`, each reply in its current state and `me` for the caller. Seeded straight into the
// service's SQLite file from this process, the way the ingestion workers write it.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareIds } from '../../services/shared/ids.js';
import type { ChatMessage, RoomEvent } from '../../services/shared/message.js';
import { dmRoomName } from '../../services/shared/rooms.js';
import { createStore } from '../../services/shared/store/index.js';
import type { HistoryMessage, Store } from '../../services/shared/store/store.js';
import { errorCode, startUsers, type UsersHarness } from './harness.js';

/** The smallest byte bound the config allows, so a thread of heavy replies spans pages. */
const PAGE_MAX_BYTES = 16 * 1024;
const BASE = 1_700_000_000_000;
const REPLIES = 120;
/** Replies of ~6 KB as JSON (each control character is escaped to 6 bytes). */
const HEAVY_TEXT = '\u0001'.repeat(1000);

let h: UsersHarness;
let store: Store;
const tokens: Record<string, string> = {};
const users: Record<string, { id: string; username: string }> = {};
let dmRoom: string;

const id = (ms: number, seq = 0) => `${BASE + ms}-${seq}`;
const PARENT = id(0);
const QUIET = id(1);
const HEAVY = id(2);
const DM_PARENT = id(3);
/** Reply i of PARENT: several per millisecond, seq 9, 10, 11 so string order would be wrong. */
const replyId = (i: number) => id(100 + Math.floor(i / 12), i % 12);

function msg(room: string, mid: string, by: string, text: string, replyTo?: string): ChatMessage {
  const u = users[by]!;
  const ts = Number(mid.split('-')[0]);
  return { id: mid, room, user: { id: u.id, name: by }, text, ts, cid: `c-${mid}`, ...(replyTo ? { replyTo } : {}) };
}

beforeAll(async () => {
  h = await startUsers({ HISTORY_PAGE_MAX_BYTES: String(PAGE_MAX_BYTES) });
  store = await createStore({ SQLITE_PATH: h.sqlitePath, MONGO_URL: undefined }, pino({ level: 'silent' }));
  for (const name of ['alice', 'bob', 'carol']) {
    users[name] = await h.register(name);
    tokens[name] = (await h.login(name)).token;
  }
  dmRoom = dmRoomName(users.alice!.id, users.bob!.id);
  const authors = ['alice', 'bob', 'carol'];
  const replies = Array.from({ length: REPLIES }, (_, i) => msg('lobby', replyId(i), authors[i % 3]!, `reply ${i}`, PARENT));
  const heavy = Array.from({ length: 12 }, (_, i) => msg('lobby', id(5000 + i), 'bob', HEAVY_TEXT, HEAVY));
  // Shuffled, and in two batches, to prove order comes from the ids, not from insertion.
  const all = [
    msg('lobby', PARENT, 'alice', 'who is in?'),
    msg('lobby', QUIET, 'bob', 'nobody answers this'),
    msg('lobby', HEAVY, 'carol', 'long answers below'),
    ...replies,
    ...heavy,
  ].sort(() => Math.random() - 0.5);
  await store.insertMessages(all.slice(0, 70));
  await store.insertMessages(all.slice(70));
  await store.insertMessages([msg(dmRoom, DM_PARENT, 'alice', 'just us'), msg(dmRoom, id(4), 'bob', 'sure', DM_PARENT)]);

  const ev = (ms: number, by: string, target: string) => ({
    id: id(9000 + ms), room: 'lobby', user: { id: users[by]!.id, name: by }, ts: BASE + 9000 + ms, cid: `e${ms}`, target,
  });
  const events: RoomEvent[] = [
    { ...ev(1, 'alice', replyId(0)), kind: 'edit', text: 'reply 0, edited' },
    { ...ev(2, 'bob', replyId(1)), kind: 'delete', replyTo: PARENT },
    { ...ev(3, 'bob', replyId(2)), kind: 'react', emoji: '👍', on: true },
    { ...ev(4, 'carol', replyId(2)), kind: 'react', emoji: '👍', on: true },
    { ...ev(5, 'alice', PARENT), kind: 'react', emoji: '🎉', on: true },
  ];
  await store.applyEvents(events);
});
afterAll(async () => {
  await store?.close();
  await h?.stop();
});

const thread = (room: string, parent: string, query = '', user = 'alice') =>
  h.call('GET', `/api/rooms/${encodeURIComponent(room)}/messages/${encodeURIComponent(parent)}/replies${query}`, { token: tokens[user] });

describe('GET /api/rooms/:room/messages/:id/replies', () => {
  it('returns the parent and its first 50 replies, oldest first, in their current state, with hasMore', async () => {
    const res = await thread('lobby', PARENT);
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['hasMore', 'parent', 'replies']);
    expect(res.json.hasMore).toBe(true);
    // 120 replies, one deleted: 119 counted; the newest is the last one.
    expect(res.json.parent).toEqual({
      ...msg('lobby', PARENT, 'alice', 'who is in?'),
      reactions: [{ emoji: '🎉', count: 1, me: true }],
      replyCount: REPLIES - 1,
      lastReplyAt: Number(replyId(REPLIES - 1).split('-')[0]),
    });
    const replies = res.json.replies as HistoryMessage[];
    expect(replies.map((r) => r.id)).toEqual(Array.from({ length: 50 }, (_, i) => replyId(i)));
    expect(replies[0]).toEqual({ ...msg('lobby', replyId(0), 'alice', 'reply 0, edited', PARENT), editedAt: BASE + 9001 });
    // a deleted reply stays in its place as a tombstone, as in the room's history
    expect(replies[1]).toEqual({ ...msg('lobby', replyId(1), 'bob', '', PARENT), deleted: true });
    expect(replies[2]!.reactions).toEqual([{ emoji: '👍', count: 2, me: false }]);
    expect(replies[3]).toEqual(msg('lobby', replyId(3), 'alice', 'reply 3', PARENT));
  });

  it('marks `me` for the caller', async () => {
    const reactionsOf = async (user: string) => {
      const res = await thread('lobby', PARENT, '?limit=3', user);
      return [res.json.parent.reactions, res.json.replies[2].reactions];
    };
    expect(await reactionsOf('alice')).toEqual([[{ emoji: '🎉', count: 1, me: true }], [{ emoji: '👍', count: 2, me: false }]]);
    expect(await reactionsOf('carol')).toEqual([[{ emoji: '🎉', count: 1, me: false }], [{ emoji: '👍', count: 2, me: true }]]);
  });

  it('pages forward with `after` through the whole thread with no gap and no repeat', async () => {
    const seen: string[] = [];
    let after = '';
    let pages = 0;
    for (;;) {
      const res = await thread('lobby', PARENT, `?limit=40${after}`);
      expect(res.status).toBe(200);
      const ids = (res.json.replies as HistoryMessage[]).map((r) => r.id);
      for (let i = 1; i < ids.length; i++) expect(compareIds(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
      seen.push(...ids);
      pages++;
      if (!res.json.hasMore) break;
      expect(ids).toHaveLength(40);
      after = `&after=${ids[ids.length - 1]}`;
    }
    expect(pages).toBe(REPLIES / 40);
    expect(seen).toEqual(Array.from({ length: REPLIES }, (_, i) => replyId(i)));
  });

  it('takes a limit above 200 as 200 (the page then stops at the byte bound, with hasMore), and answers an `after` past the last reply with an empty page', async () => {
    const big = await thread('lobby', PARENT, '?limit=1000');
    expect(big.status).toBe(200);
    const n = (big.json.replies as HistoryMessage[]).length;
    expect(n).toBeGreaterThan(50);
    expect(n).toBeLessThan(REPLIES); // 120 replies are ~21 KB of JSON: more than PAGE_MAX_BYTES
    expect(Buffer.byteLength(big.text)).toBeLessThanOrEqual(PAGE_MAX_BYTES);
    expect(big.json.hasMore).toBe(true);
    const rest = await thread('lobby', PARENT, `?limit=200&after=${big.json.replies[n - 1].id}`);
    expect(rest.json.replies).toHaveLength(REPLIES - n);
    expect(rest.json.hasMore).toBe(false);
    const past = await thread('lobby', PARENT, `?after=${replyId(REPLIES - 1)}`);
    expect(past.status).toBe(200);
    expect(past.json.replies).toEqual([]);
    expect(past.json.hasMore).toBe(false);
  });

  it('answers a message without replies with an empty thread', async () => {
    const res = await thread('lobby', QUIET);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ parent: msg('lobby', QUIET, 'bob', 'nobody answers this'), replies: [], hasMore: false });
  });

  it('keeps a page of heavy replies within HISTORY_PAGE_MAX_BYTES, parent included, and pages on to every reply once', async () => {
    const seen: string[] = [];
    let after = '';
    for (let pages = 0; pages < 20; pages++) {
      const res = await thread('lobby', HEAVY, `?limit=200${after}`);
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(res.text)).toBeLessThanOrEqual(PAGE_MAX_BYTES + 64);
      const ids = (res.json.replies as HistoryMessage[]).map((r) => r.id);
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.length).toBeLessThan(12);
      seen.push(...ids);
      if (!res.json.hasMore) break;
      after = `&after=${ids[ids.length - 1]}`;
    }
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => id(5000 + i)));
  });

  it('answers 404 not_found for a message not stored, a message of another room, and a reply (it has no thread)', async () => {
    for (const [room, parent] of [['lobby', id(777)], ['general', PARENT], ['lobby', replyId(5)]] as const) {
      const res = await thread(room, parent);
      expect(res.status, `${room} ${parent}`).toBe(404);
      expect(errorCode(res)).toBe('not_found');
    }
  });

  it('answers 400 for a malformed message id, `after` or limit, and a bad room name', async () => {
    for (const [room, parent, query, code] of [
      ['lobby', 'abc', '', 'invalid_id'],
      ['lobby', '1700000000000', '', 'invalid_id'],
      ['lobby', PARENT, '?after=abc', 'invalid_id'],
      ['lobby', PARENT, '?limit=0', 'invalid_limit'],
      ['Not A Room', PARENT, '', 'invalid_room'],
    ] as const) {
      const res = await thread(room, parent, query);
      expect(res.status, `${room} ${parent} ${query}`).toBe(400);
      expect(errorCode(res)).toBe(code);
    }
  });

  it("serves a DM's thread to its members and refuses it to a third user with 403", async () => {
    const bob = await thread(dmRoom, DM_PARENT, '', 'bob');
    expect(bob.status).toBe(200);
    expect((bob.json.replies as HistoryMessage[]).map((r) => r.text)).toEqual(['sure']);
    const carol = await thread(dmRoom, DM_PARENT, '', 'carol');
    expect(carol.status).toBe(403);
    expect(errorCode(carol)).toBe('forbidden');
    expect(carol.text).not.toContain('just us');
  });

  it('requires a bearer token and allows only GET', async () => {
    expect((await h.call('GET', `/api/rooms/lobby/messages/${PARENT}/replies`)).status).toBe(401);
    const post = await h.call('POST', `/api/rooms/lobby/messages/${PARENT}/replies`, { token: tokens.alice, body: {} });
    expect(post.status).toBe(405);
    expect(errorCode(post)).toBe('method_not_allowed');
  });
});
