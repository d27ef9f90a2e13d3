// System lines survive in history (issue 14): membership and room changes made through REST and
// messages sent over ws, interleaved on one room log, come back from GET …/messages paged back
// with a small limit — every event exactly once, in its place among the messages, and each one
// the very frame the ws delivered live and replays in a join's backlog. The real users service, a
// chat replica and an ingestion worker on one redis-server and one SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareIds } from '../../services/shared/ids.js';
import { TestClient, type Frame } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient, type Session } from './http.js';

const JWT_SECRET = 'history-events-secret-0123456789abcdef01';
const ORIGIN = 'http://chat.example.test';

let redis: TestRedis;
let dir: string;
let users: RunningService;
let chat: RunningService;
let worker: RunningService;

const { api, signUp } = apiClient(() => users.baseUrl);
const enc = encodeURIComponent;

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-history-events-'));
  const common = { REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'warn', PARTITIONS: '2', SQLITE_PATH: join(dir, 'aurora.db') };
  users = await startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000' });
  chat = await startService('chat', { ...common, REPLICA_ID: 'chat-a', SHUTDOWN_DRAIN_MS: '200' }, { waitReady: true });
  worker = await startService('ingestion', { ...common, INGEST_CONSUMER: 'w1', INGEST_BATCH_MS: '20' });
}, 90_000);

afterAll(async () => {
  await Promise.all([users, chat, worker].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Item = { id: string } & Record<string, any>;

/** What a timeline entry says, for comparing orders: `msg:<text>`, `room:<action>`, `member:<action> <name>`. */
function label(x: Item): string {
  if (x.type === 'event' && x.kind === 'room') return `room:${x.action}`;
  if (x.type === 'event' && x.kind === 'member') return `member:${x.action} ${x.member.name}`;
  return `msg:${x.text}`;
}

/** Pages back with `limit`, passing the oldest id (message or event) of each page as `before`. */
async function pageBack(room: string, token: string, limit: number): Promise<{ items: Item[]; pages: number }> {
  const items: Item[] = [];
  let before = '';
  for (let pages = 1; pages <= 100; pages++) {
    const res = await api('GET', `/api/rooms/${enc(room)}/messages?limit=${limit}${before}`, undefined, token);
    expect(res.status).toBe(200);
    const page: Item[] = [...res.json.messages, ...res.json.events].sort((a, b) => compareIds(a.id, b.id));
    items.unshift(...page);
    if (!res.json.hasMore) return { items, pages };
    expect(page.length).toBeGreaterThan(0);
    before = `&before=${page[0]!.id}`;
  }
  throw new Error('history never ended');
}

describe('membership events in REST history', () => {
  it('invites, a kick, topic changes and a mute among messages: each once, in order, as the ws frames', async () => {
    const owner = await signUp('hana');
    const bob = await signUp('bram');
    const carol = await signUp('cleo');
    const created = await api('POST', '/api/rooms', { kind: 'private', title: 'Timeline', topic: 'first' }, owner.token);
    expect(created.status).toBe(201);
    const room: string = created.json.room.name;

    const live = await TestClient.connect(chat.baseUrl, owner.token, { origin: ORIGIN });
    await live.join(room);
    let sent = 0;
    const say = async (text: string) => {
      expect(await live.sendText(room, text, `c-${++sent}`)).toMatchObject({ type: 'ack' });
    };
    const ok = async (p: Promise<{ status: number }>) => expect((await p).status).toBeLessThan(300);
    const member = (s: Session) => `/api/rooms/${enc(room)}/members/${s.user.id}`;

    await say('m1');
    await ok(api('POST', `/api/rooms/${enc(room)}/members`, { userId: bob.user.id }, owner.token));
    await say('m2');
    await say('m3');
    await ok(api('PATCH', `/api/rooms/${enc(room)}`, { topic: 'second' }, owner.token));
    await say('m4');
    await ok(api('POST', `/api/rooms/${enc(room)}/members`, { userId: carol.user.id }, owner.token));
    await ok(api('DELETE', member(bob), undefined, owner.token));
    await say('m5');
    await ok(api('PATCH', `/api/rooms/${enc(room)}`, { topic: 'third' }, owner.token));
    await ok(api('POST', `/api/rooms/${enc(room)}/mutes`, { userId: carol.user.id, seconds: 60 }, owner.token));
    await say('m6');
    const expected = [
      'room:created',
      'member:joined hana',
      'msg:m1',
      'member:invited bram',
      'msg:m2',
      'msg:m3',
      'room:topic',
      'msg:m4',
      'member:invited cleo',
      'member:kicked bram',
      'msg:m5',
      'room:topic',
      'member:muted cleo',
      'msg:m6',
    ];

    // the messages reach the store through the ingestion worker; the events were applied at once
    await waitFor(
      async () => (await api('GET', `/api/rooms/${enc(room)}/messages`, undefined, owner.token)).json.messages.length === 6,
      { timeoutMs: 15_000, what: 'six stored messages' },
    );
    // the events this socket saw live (all but the two before it joined), and the whole log
    // as a new socket's join replays it (the backlog's `events`)
    const liveEvents = await waitFor(() => {
      const got = live.all('event', (f) => f.room === room && (f.kind === 'member' || f.kind === 'room'));
      return got.length === 6 && got;
    }, { what: 'six live membership frames' });
    const replayer = await TestClient.connect(chat.baseUrl, owner.token, { origin: ORIGIN });
    const replayed = (await replayer.join(room)).events as Frame[];
    expect(replayed).toHaveLength(8);

    for (const limit of [1, 2, 5, 50]) {
      const { items, pages } = await pageBack(room, owner.token, limit);
      expect(items.map(label), `limit ${limit}`).toEqual(expected);
      expect(new Set(items.map((x) => x.id)).size).toBe(items.length);
      if (limit === 1) expect(pages).toBeGreaterThanOrEqual(6);
      const events = items.filter((x) => x.type === 'event');
      expect(events).toEqual(replayed);
      expect(events.slice(2)).toEqual(liveEvents);
      expect(events.find((e) => e.action === 'muted')).toMatchObject({ member: { id: carol.user.id, name: 'cleo' }, role: 'member' });
      expect(events.filter((e) => e.kind === 'room').map((e) => e.topic)).toEqual(['first', 'second', 'third']);
    }
    await Promise.all([live.close(), replayer.close()]);
  }, 60_000);
});
