// Message search end to end (docs/REST.md "Search"): the real users service, a chat replica and
// an ingestion worker on one redis-server and one SQLite file. Messages sent over ws are found
// through GET /api/search once the worker stored them — ranked, highlighted, grouped by room,
// paged with an opaque cursor, an edit by its new words and a delete never; a private room the
// caller is not in and someone else's DM never leak; every bad input is a clear 400. Then the
// history page around a result (GET /api/rooms/:room/messages?around=<id>).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dmRoomName } from '../../services/shared/rooms.js';
import { TestClient } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient, type Session } from './http.js';

const JWT_SECRET = 'search-e2e-secret-0123456789abcdef0123';
const ORIGIN = 'http://chat.example.test';

let redis: TestRedis;
let dir: string;
let users: RunningService;
let chat: RunningService;
let worker: RunningService;

const { api, signUp } = apiClient(() => users.baseUrl);
const enc = encodeURIComponent;

interface Result {
  message: { id: string; room: string; text: string; user: { id: string; name: string }; editedAt?: number; replyTo?: string };
  highlights: [number, number][];
  room: { name: string; kind: string; title?: string };
}
type Page = { results: Result[]; nextCursor?: string };

const find = async (s: Session, query: string) => {
  const r = await api<Page>('GET', `/api/search?${query}`, undefined, s.token);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json;
};
const texts = (p: Page) => p.results.map((r) => r.message.text);
/** Waits until the worker has stored what makes `query` give `n` results. */
const until = (s: Session, query: string, n: number) =>
  waitFor(async () => ((await find(s, query)).results.length === n ? true : undefined), { timeoutMs: 15_000, what: `${n} results for ${query}` });

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-search-'));
  const common = { REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'warn', PARTITIONS: '2', SQLITE_PATH: join(dir, 'aurora.db') };
  users = await startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000' });
  chat = await startService('chat', { ...common, REPLICA_ID: 'chat-a', HANDSHAKE_MAX_PER_USER: '100000', HANDSHAKE_MAX_PER_IP: '100000', SHUTDOWN_DRAIN_MS: '200' }, { waitReady: true });
  worker = await startService('ingestion', { ...common, INGEST_CONSUMER: 'w1', INGEST_BATCH_MS: '20' });
}, 90_000);

afterAll(async () => {
  await Promise.all([users, chat, worker].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('search REST', { timeout: 60_000 }, () => {
  it('finds what the caller may read — ranked, highlighted, with its room — reflects edits and deletes, and never leaks', async () => {
    const ana = await signUp('ana_s');
    const bo = await signUp('bo_s');
    const cy = await signUp('cy_s');
    const created = await api('POST', '/api/rooms', { kind: 'private', title: 'Garden club' }, bo.token);
    expect(created.status).toBe(201);
    const secret: string = created.json.room.name;
    const myDm = dmRoomName(ana.user.id, bo.user.id);
    const theirDm = dmRoomName(bo.user.id, cy.user.id);

    const bos = await TestClient.connect(chat.baseUrl, bo.token, { origin: ORIGIN });
    let n = 0;
    const say = async (room: string, text: string) => {
      await bos.join(room);
      const ack = await bos.sendText(room, text, `s-${++n}`);
      expect(ack).toMatchObject({ type: 'ack' });
      return ack.id as string;
    };
    await say('general', 'Tulips bloom in spring 🌷');
    const most = await say('general', 'tulips, tulips and more TULIPS');
    await say('general', 'the crème brûlée was great');
    const typo = await say('general', 'orchids need shade');
    const gone = await say('general', 'tulip bulbs for sale');
    await say(secret, 'secret tulips in the greenhouse');
    await say(myDm, 'tulips for you');
    await say(theirDm, 'tulips for cy only');
    await bos.request({ type: 'edit', room: 'general', id: typo, text: 'orchids need light', cid: `s-${++n}` });
    await bos.request({ type: 'delete', room: 'general', id: gone, cid: `s-${++n}` });
    // every room's messages, the edit and the delete stored (the worker is asynchronous)
    const history = async (room: string) => (await api('GET', `/api/rooms/${enc(room)}/messages`, undefined, bo.token)).json.messages as { id: string; deleted?: true; editedAt?: number }[];
    await waitFor(
      async () => {
        const g = await history('general');
        return g.length === 5 && g.find((m) => m.id === gone)?.deleted && g.find((m) => m.id === typo)?.editedAt !== undefined ? true : undefined;
      },
      { timeoutMs: 15_000, what: 'general stored, edited and deleted' },
    );
    for (const room of [secret, myDm, theirDm]) await waitFor(async () => ((await history(room)).length === 1 ? true : undefined), { timeoutMs: 15_000, what: room });

    const page = await find(ana, 'q=tulips');
    expect(page.results[0]!.message.id).toBe(most); // three matches rank first
    expect(texts(page).sort()).toEqual(['Tulips bloom in spring 🌷', 'tulips for you', 'tulips, tulips and more TULIPS']);
    const first = page.results[0]!;
    expect(first.highlights).toEqual([[0, 6], [8, 14], [24, 30]]);
    expect(first.room).toEqual({ name: 'general', kind: 'public' });
    expect(first.message).toMatchObject({ room: 'general', user: { id: bo.user.id, name: 'bo_s' } });
    expect(page.results.find((r) => r.message.room === myDm)!.room).toEqual({ name: myDm, kind: 'dm' });
    expect(page.nextCursor).toBeUndefined();
    // accents either way; an edit by its new words only; a deleted message never
    expect(texts(await find(ana, `q=${enc('CREME brulee')}`))).toEqual(['the crème brûlée was great']);
    expect((await find(ana, 'q=shade')).results).toEqual([]);
    expect((await find(ana, 'q=light')).results[0]!.message).toMatchObject({ id: typo, text: 'orchids need light', editedAt: expect.any(Number) });
    expect((await find(ana, 'q=bulbs')).results).toEqual([]);
    // the member sees the private room (with its title) and their DM; the stranger sees neither
    expect((await find(bo, 'q=tulips')).results).toHaveLength(5);
    expect((await find(bo, `q=greenhouse`)).results[0]!.room).toEqual({ name: secret, kind: 'private', title: 'Garden club' });
    expect(texts(await find(cy, 'q=tulips')).sort()).toEqual(['Tulips bloom in spring 🌷', 'tulips for cy only', 'tulips, tulips and more TULIPS']);

    // filters: room (checked as history checks it), author, before
    expect(texts(await find(ana, `q=tulips&room=${enc(myDm)}`))).toEqual(['tulips for you']);
    expect((await api('GET', `/api/search?q=tulips&room=${enc(secret)}`, undefined, ana.token)).status).toBe(404);
    expect((await api('GET', `/api/search?q=tulips&room=${enc(theirDm)}`, undefined, ana.token)).status).toBe(403);
    expect((await find(ana, 'q=tulips&from=bo_s')).results).toHaveLength(3);
    expect((await find(ana, 'q=tulips&from=ana_s')).results).toEqual([]);
    expect((await find(ana, 'q=tulips&from=nobody_here')).results).toEqual([]);
    expect((await find(ana, 'q=tulips&before=2000-01-01')).results).toEqual([]);
    expect((await find(ana, `q=tulips&before=${Date.now() + 60_000}`)).results).toHaveLength(3);

    // paging with the opaque cursor: each result once
    const p1 = await find(ana, 'q=tulips&limit=2');
    expect(p1.results).toHaveLength(2);
    const p2 = await find(ana, `q=tulips&limit=2&cursor=${enc(p1.nextCursor!)}`);
    expect(p2.results).toHaveLength(1);
    expect(p2.nextCursor).toBeUndefined();
    expect([...p1.results, ...p2.results].map((r) => r.message.id)).toEqual(page.results.map((r) => r.message.id));
    await bos.close();
  });

  it('refuses bad input with 400s and a missing token with 401', async () => {
    const s = await signUp('dee_s');
    const bad = async (query: string, code: string) => {
      const r = await api('GET', `/api/search?${query}`, undefined, s.token);
      expect(r, query).toMatchObject({ status: 400, json: { error: { code } } });
    };
    await bad('', 'invalid_query');
    await bad('q=', 'invalid_query');
    await bad(`q=${'a'.repeat(201)}`, 'invalid_query');
    await bad(`q=${enc('🎉 "" * -')}`, 'invalid_query');
    await bad('q=a&q=b', 'invalid_field');
    await bad('q=a&limit=51', 'invalid_limit');
    await bad('q=a&limit=0', 'invalid_limit');
    await bad('q=a&cursor=nope', 'invalid_field');
    await bad('q=a&before=yesterday', 'invalid_field');
    await bad('q=a&from=no%20spaces', 'invalid_field');
    await bad('q=a&room=Not%20A%20Room', 'invalid_room');
    // FTS syntax is text, never an error
    for (const q of ['"unclosed', 'NEAR(a b)', 'a OR b', '-x', 'col:x', '*', 'a*b*']) {
      expect((await api('GET', `/api/search?q=${enc(q)}`, undefined, s.token)).status, q).toBe(q === '*' ? 400 : 200);
    }
    expect((await api('GET', '/api/search?q=a')).status).toBe(401);
    expect((await api('POST', '/api/search?q=a', {}, s.token)).status).toBe(405);
  });

  it('a page around a message: half before, the message, half after, and paging on from both ends', async () => {
    const eve = await signUp('eve_s');
    const eves = await TestClient.connect(chat.baseUrl, eve.token, { origin: ORIGIN });
    const room = 'around-room';
    await eves.join(room);
    const ids: string[] = [];
    for (let i = 0; i < 15; i++) ids.push((await eves.sendText(room, `line ${i}`, `a-${i}`)).id as string);
    const reply = await eves.request({ type: 'send', room, text: 'a reply in a thread', replyTo: ids[7], cid: 'a-reply' });
    expect(reply).toMatchObject({ type: 'ack' });
    const around = (id: string, limit: number) => api('GET', `/api/rooms/${room}/messages?around=${id}&limit=${limit}`, undefined, eve.token);
    await waitFor(async () => ((await around(ids[14]!, 1)).status === 200 ? true : undefined), { timeoutMs: 15_000, what: 'the last line stored' });
    await until(eve, `q=reply&room=${room}`, 1);

    const mid = await around(ids[7]!, 5);
    expect(mid.status).toBe(200);
    expect(mid.json.messages.map((m: { text: string }) => m.text)).toEqual(['line 5', 'line 6', 'line 7', 'line 8', 'line 9']);
    expect(mid.json).toMatchObject({ hasOlder: true, hasNewer: true });
    // near the start and the end, the page is shorter on that side
    const start = await around(ids[1]!, 6);
    expect(start.json.messages.map((m: { text: string }) => m.text)).toEqual(['line 0', 'line 1', 'line 2', 'line 3']);
    expect(start.json).toMatchObject({ hasOlder: false, hasNewer: true });
    const end = await around(ids[14]!, 4);
    expect(end.json.messages.map((m: { text: string }) => m.text)).toEqual(['line 12', 'line 13', 'line 14']);
    expect(end.json).toMatchObject({ hasOlder: true, hasNewer: false });
    // a reply: the page around its parent
    const thread = await around(reply.id as string, 3);
    expect(thread.json.messages.map((m: { text: string }) => m.text)).toEqual(['line 6', 'line 7', 'line 8']);
    // from the page, history pages back as usual
    const older = await api('GET', `/api/rooms/${room}/messages?before=${mid.json.messages[0].id}&limit=50`, undefined, eve.token);
    expect(older.json.messages.map((m: { text: string }) => m.text)).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);

    // errors: an unknown id, a bad id, around with before; a room the caller may not read
    expect((await around('1-0', 5)).json).toMatchObject({ error: { code: 'not_found' } });
    expect((await around('nope', 5)).json).toMatchObject({ error: { code: 'invalid_id' } });
    expect((await api('GET', `/api/rooms/${room}/messages?around=${ids[3]}&before=${ids[5]}`, undefined, eve.token)).status).toBe(400);
    const other = await signUp('fay_s');
    const dm = dmRoomName(other.user.id, (await signUp('gus_s')).user.id);
    expect((await api('GET', `/api/rooms/${enc(dm)}/messages?around=${ids[3]}`, undefined, eve.token)).status).toBe(403);
    await eves.close();
  });
});
