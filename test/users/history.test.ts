// History, rooms and user search served from the store. Messages and room events are seeded
// straight into the service's SQLite file from this process (WAL lets both open it), the way
// the ingestion workers would write them. Threads have their own file: threads.test.ts.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareIds } from '../../services/shared/ids.js';
import type { ChatMessage, RoomEvent } from '../../services/shared/message.js';
import { dmRoomName } from '../../services/shared/rooms.js';
import { createStore } from '../../services/shared/store/index.js';
import type { Store } from '../../services/shared/store/store.js';
import { errorCode, startUsers, type UsersHarness } from './harness.js';

let h: UsersHarness;
let store: Store;
let alice: { id: string; username: string };
let bob: { id: string; username: string };
let carol: { id: string; username: string };
const tokens: Record<string, string> = {};
let dmRoom: string;

const BASE = 1_700_000_000_000;
/** `changes`: three top-level messages changed by events, and a thread of three replies. */
const CH = BASE + 7000;
const chId = (i: number) => `${CH + i}-0`;
/** 237 messages in `lobby`: several per millisecond, with seq 9, 10, 11 so string order would be wrong. */
const lobby: ChatMessage[] = [];
for (let i = 0; i < 237; i++) {
  const ms = BASE + Math.floor(i / 12);
  const seq = i % 12;
  const id = `${ms}-${seq}`;
  lobby.push({ id, room: 'lobby', user: { id: 'seed-user', name: 'seeder' }, text: `message ${i}`, ts: ms, cid: `c${i}` });
}

beforeAll(async () => {
  h = await startUsers();
  store = await createStore({ SQLITE_PATH: h.sqlitePath, MONGO_URL: undefined }, pino({ level: 'silent' }));
  alice = await h.register('alice');
  bob = await h.register('bob');
  carol = await h.register('carol');
  for (const u of ['alice', 'bob', 'carol']) tokens[u] = (await h.login(u)).token;
  dmRoom = dmRoomName(alice.id, bob.id);
  // Shuffled, and in two batches, to prove order comes from the ids, not from insertion.
  const shuffled = [...lobby].sort(() => Math.random() - 0.5);
  await store.insertMessages(shuffled.slice(0, 100));
  await store.insertMessages(shuffled.slice(100));
  await store.insertMessages([
    { id: `${BASE + 5000}-0`, room: dmRoom, user: { id: alice.id, name: 'alice' }, text: 'psst, bob', ts: BASE + 5000, cid: 'dm1' },
    { id: `${BASE + 5001}-0`, room: dmRoom, user: { id: bob.id, name: 'bob' }, text: 'hi alice', ts: BASE + 5001, cid: 'dm2' },
    { id: `${BASE + 9000}-0`, room: 'general', user: { id: carol.id, name: 'carol' }, text: 'hello all', ts: BASE + 9000, cid: 'g1' },
  ]);
  await seedChanges();
});

async function seedChanges(): Promise<void> {
  const who = { alice, bob, carol };
  const m = (i: number, by: keyof typeof who, text: string, replyTo?: number): ChatMessage => ({
    id: chId(i), room: 'changes', user: { id: who[by].id, name: by }, text, ts: CH + i, cid: `ch${i}`,
    ...(replyTo === undefined ? {} : { replyTo: chId(replyTo) }),
  });
  const ev = (i: number, by: keyof typeof who, target: number) => ({
    id: chId(i), room: 'changes', user: { id: who[by].id, name: by }, ts: CH + i, cid: `ev${i}`, target: chId(target),
  });
  const react = (i: number, by: keyof typeof who, target: number, emoji: string, on = true): RoomEvent => ({ ...ev(i, by, target), kind: 'react', emoji, on });
  await store.insertMessages([
    m(0, 'alice', 'helo wrold'),
    m(1, 'bob', 'my password is hunter2'),
    m(2, 'alice', 'lunch?'),
    m(3, 'bob', 'yes', 2),
    m(4, 'carol', 'me too', 2),
    m(5, 'alice', 'oops, wrong thread', 2),
  ]);
  // Applied out of order and in two calls: the state comes from the ids, not the arrival.
  const events: RoomEvent[] = [
    { ...ev(10, 'alice', 0), kind: 'edit', text: 'hello world' },
    react(11, 'alice', 0, '👍'),
    react(12, 'bob', 0, '👍'),
    react(13, 'bob', 0, '🎉'),
    react(14, 'bob', 0, '🎉', false),
    react(15, 'carol', 0, '🎉'),
    react(16, 'alice', 1, '👀'),
    { ...ev(17, 'bob', 1), kind: 'delete' },
    { ...ev(18, 'alice', 5), kind: 'delete', replyTo: chId(2) },
  ];
  await store.applyEvents(events.slice(4).reverse());
  await store.applyEvents(events.slice(0, 4));
}
afterAll(async () => {
  await store?.close();
  await h?.stop();
});

const history = (room: string, query: string, user = 'alice') =>
  h.call('GET', `/api/rooms/${room}/messages${query}`, { token: tokens[user] });

describe('GET /api/rooms/:room/messages', () => {
  it('returns the newest 50 by default, oldest first, with hasMore', async () => {
    const res = await history('lobby', '');
    expect(res.status).toBe(200);
    expect(res.json.hasMore).toBe(true);
    expect(res.json.messages.map((m: ChatMessage) => m.id)).toEqual(lobby.slice(-50).map((m) => m.id));
    expect(res.json.messages[0]).toEqual(lobby[lobby.length - 50]);
  });

  it('pages backwards with `before` through the whole room with no gap and no repeat', async () => {
    const seen: string[] = [];
    let before: string | undefined;
    let pages = 0;
    for (;;) {
      const res = await history('lobby', `?limit=40${before ? `&before=${before}` : ''}`);
      expect(res.status).toBe(200);
      const ids: string[] = res.json.messages.map((m: ChatMessage) => m.id);
      for (let i = 1; i < ids.length; i++) expect(compareIds(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
      seen.unshift(...ids);
      pages++;
      if (!res.json.hasMore) break;
      expect(ids).toHaveLength(40);
      before = ids[0];
    }
    expect(pages).toBe(Math.ceil(lobby.length / 40));
    expect(seen).toEqual(lobby.map((m) => m.id));
  });

  it('caps the limit at 200', async () => {
    const res = await history('lobby', '?limit=1000');
    expect(res.status).toBe(200);
    expect(res.json.messages).toHaveLength(200);
    expect(res.json.hasMore).toBe(true);
  });

  it('reports hasMore false when the page reaches the first message', async () => {
    const res = await history('lobby', `?before=${lobby[5]!.id}&limit=5`);
    expect(res.json.messages.map((m: ChatMessage) => m.id)).toEqual(lobby.slice(0, 5).map((m) => m.id));
    expect(res.json.hasMore).toBe(false);
    const none = await history('lobby', `?before=${lobby[0]!.id}`);
    expect(none.json).toEqual({ messages: [], hasMore: false, events: [] });
  });

  it('accepts a `before` id that is not stored (pages from where it would be)', async () => {
    const res = await history('lobby', `?before=${BASE + 1}-999&limit=3`);
    expect(res.json.messages.map((m: ChatMessage) => m.id)).toEqual([`${BASE + 1}-9`, `${BASE + 1}-10`, `${BASE + 1}-11`]);
  });

  it('answers an empty page for a valid room nobody wrote in', async () => {
    const res = await history('quiet-room', '');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ messages: [], hasMore: false, events: [] });
  });

  it('serves a DM to its two members, with the colons URL-encoded or not', async () => {
    for (const [user, path] of [
      ['alice', encodeURIComponent(dmRoom)],
      ['bob', encodeURIComponent(dmRoom)],
      ['bob', dmRoom],
    ] as const) {
      const res = await history(path, '', user);
      expect(res.status, `${user} ${path}`).toBe(200);
      expect(res.json.messages.map((m: ChatMessage) => m.text)).toEqual(['psst, bob', 'hi alice']);
    }
  });

  it("refuses a DM's history to a third user with 403 forbidden", async () => {
    const res = await history(encodeURIComponent(dmRoom), '', 'carol');
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('forbidden');
    expect(res.text).not.toContain('psst');
  });

  it("shows each message's current state: edited text and editedAt, a tombstone, reactions, the thread's count; replies stay in their thread", async () => {
    const res = await history('changes', '');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      hasMore: false,
      events: [],
      messages: [
        {
          id: chId(0), room: 'changes', user: { id: alice.id, name: 'alice' }, text: 'hello world', ts: CH, cid: 'ch0',
          editedAt: CH + 10,
          // 👍 first: its oldest current reaction (alice's) is older than carol's 🎉; bob took his 🎉 back
          reactions: [{ emoji: '👍', count: 2, me: true }, { emoji: '🎉', count: 1, me: false }],
        },
        // a tombstone keeps who and when, nothing of what (its 👀 gone too)
        { id: chId(1), room: 'changes', user: { id: bob.id, name: 'bob' }, text: '', ts: CH + 1, cid: 'ch1', deleted: true },
        // three replies, one deleted: two counted, the newest kept is carol's
        { id: chId(2), room: 'changes', user: { id: alice.id, name: 'alice' }, text: 'lunch?', ts: CH + 2, cid: 'ch2', replyCount: 2, lastReplyAt: CH + 4 },
      ],
    });
    expect(res.text).not.toContain('hunter2');
    expect(res.text).not.toContain('helo wrold');
  });

  it('marks `me` for the caller: the same page differs per user', async () => {
    const reactionsFor = async (user: string) => (await history('changes', '', user)).json.messages[0].reactions;
    expect(await reactionsFor('alice')).toEqual([{ emoji: '👍', count: 2, me: true }, { emoji: '🎉', count: 1, me: false }]);
    expect(await reactionsFor('bob')).toEqual([{ emoji: '👍', count: 2, me: true }, { emoji: '🎉', count: 1, me: false }]);
    expect(await reactionsFor('carol')).toEqual([{ emoji: '👍', count: 2, me: false }, { emoji: '🎉', count: 1, me: true }]);
  });

  it('pages top-level messages only: `before` and `limit` step over thread replies', async () => {
    const res = await history('changes', `?before=${chId(5)}&limit=2`);
    expect(res.json.messages.map((m: ChatMessage) => m.id)).toEqual([chId(1), chId(2)]);
    expect(res.json.hasMore).toBe(true);
  });

  it('requires a bearer token', async () => {
    const res = await h.call('GET', '/api/rooms/general/messages');
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('unauthorized');
  });
});

describe('GET /api/rooms', () => {
  it('lists public rooms with lastMessageAt and messageCount, most recent first, and the caller\'s DMs', async () => {
    const res = await h.call('GET', '/api/rooms', { token: tokens.alice });
    expect(res.status).toBe(200);
    expect(res.json.rooms).toEqual([
      { name: 'general', lastMessageAt: BASE + 9000, messageCount: 1 },
      { name: 'changes', lastMessageAt: CH + 5, messageCount: 6 },
      { name: dmRoom, lastMessageAt: BASE + 5001, messageCount: 2 },
      { name: 'lobby', lastMessageAt: lobby[lobby.length - 1]!.ts, messageCount: lobby.length },
    ]);
  });

  it('shows a DM only to its members', async () => {
    const forBob = await h.call('GET', '/api/rooms', { token: tokens.bob });
    expect(forBob.json.rooms.map((r: { name: string }) => r.name)).toContain(dmRoom);
    const forCarol = await h.call('GET', '/api/rooms', { token: tokens.carol });
    expect(forCarol.json.rooms.map((r: { name: string }) => r.name)).toEqual(['general', 'changes', 'lobby']);
  });

  it('requires a bearer token', async () => {
    expect((await h.call('GET', '/api/rooms')).status).toBe(401);
  });
});

describe('GET /api/users', () => {
  it('finds users whose name contains the query, case-insensitively, including the caller, as {id, username}', async () => {
    const res = await h.call('GET', '/api/users?query=AL', { token: tokens.alice });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ users: [{ id: alice.id, username: 'alice' }] });
    // inside a name too: `lic` is in alice
    const inner = await h.call('GET', '/api/users?query=lic', { token: tokens.alice });
    expect(inner.json).toEqual({ users: [{ id: alice.id, username: 'alice' }] });
  });

  it('returns at most 20 users', async () => {
    for (let i = 0; i < 23; i++) await h.register(`zed${String(i).padStart(2, '0')}`);
    const res = await h.call('GET', '/api/users?query=zed', { token: tokens.alice });
    expect(res.json.users).toHaveLength(20);
    expect(res.json.users[0].username).toBe('zed00');
  });

  it('treats _ and % in the query literally, not as wildcards', async () => {
    await h.register('x_ray');
    await h.register('xyray');
    const res = await h.call('GET', `/api/users?query=${encodeURIComponent('x_')}`, { token: tokens.alice });
    expect(res.json.users.map((u: { username: string }) => u.username)).toEqual(['x_ray']);
    const pct = await h.call('GET', `/api/users?query=${encodeURIComponent('%')}`, { token: tokens.alice });
    expect(pct.json.users).toEqual([]);
  });

  it('requires a bearer token', async () => {
    expect((await h.call('GET', '/api/users?query=a')).status).toBe(401);
  });
});
