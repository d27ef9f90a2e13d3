// Attention end to end (issue 15): the real users service, two chat replicas and an ingestion
// worker (with its notify group) on one redis-server (AOF on, so a restart keeps its data) and one
// SQLite file. Unread and mention counts are right for two devices on two replicas, after a
// reload (REST), after a replica is killed, after Redis restarts and after Redis loses everything;
// a read on one device clears the other live; receipts reach the sender live; a mention while
// offline is exactly one notification and the right count at the next sign-in.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysFor } from '../../services/shared/keys.js';
import { dmRoomName } from '../../services/shared/rooms.js';
import { TestClient } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient, type Session } from './http.js';

const JWT_SECRET = 'attention-test-secret-0123456789abcdef0';
const ORIGIN = 'http://chat.example.test';
const keys = keysFor(2);

let redis: TestRedis;
let dir: string;
let users: RunningService;
let chatA: RunningService;
let chatB: RunningService;
let worker: RunningService;
let chatEnv: Record<string, string>;
const clients: TestClient[] = [];

const { api, signUp } = apiClient(() => users.baseUrl);
const enc = encodeURIComponent;

async function connect(replica: RunningService, s: Session): Promise<TestClient> {
  const c = await TestClient.connect(replica.baseUrl, s.token, { origin: ORIGIN });
  clients.push(c);
  return c;
}

interface Counts {
  unread: number;
  mentions: number;
  lastSeq: number;
  readSeq: number;
}

/** My room as GET /api/me/rooms lists it (the store's counts), or undefined. */
async function myRoom(s: Session, room: string): Promise<Counts | undefined> {
  const res = await api('GET', '/api/me/rooms', undefined, s.token);
  expect(res.status).toBe(200);
  return (res.json.rooms as (Counts & { name: string })[]).find((r) => r.name === room);
}

/** Waits (bounded) until the store's counts for `room` are `want` (ingestion lags the live path). */
async function countsBecome(s: Session, room: string, want: Partial<Counts>): Promise<void> {
  let last: Counts | undefined;
  await waitFor(
    async () => {
      last = await myRoom(s, room);
      return last !== undefined && Object.entries(want).every(([k, v]) => last![k as keyof Counts] === v);
    },
    { timeoutMs: 15_000, what: `counts ${JSON.stringify(want)} in ${room} (last: ${JSON.stringify(last)})` },
  ).catch(async (err: Error) => {
    const all = await api('GET', '/api/me/rooms', undefined, s.token);
    throw new Error(`${err.message}; my rooms: ${JSON.stringify(all.json)}`);
  });
}

beforeAll(async () => {
  redis = await startRedis({ appendonly: true, appendfsync: 'always' }); // a kill -9 loses nothing acked
  dir = mkdtempSync(join(tmpdir(), 'aurora-attention-'));
  const common = { REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'warn', PARTITIONS: '2', SQLITE_PATH: join(dir, 'aurora.db') };
  users = await startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000' });
  chatEnv = { ...common, HANDSHAKE_MAX_PER_USER: '100000', HANDSHAKE_MAX_PER_IP: '100000', SHUTDOWN_DRAIN_MS: '200' };
  [chatA, chatB] = await Promise.all([
    startService('chat', { ...chatEnv, REPLICA_ID: 'chat-a' }, { waitReady: true }),
    startService('chat', { ...chatEnv, REPLICA_ID: 'chat-b' }, { waitReady: true }),
  ]);
  worker = await startService('ingestion', { ...common, INGEST_CONSUMER: 'w1', INGEST_BATCH_MS: '20' });
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all([users, chatA, chatB, worker].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('attention', () => {
  it('counts stay right across two devices on two replicas, a reload, a replica kill -9, a Redis restart and a Redis loss', async () => {
    const alice = await signUp('attn_alice');
    const bob = await signUp('attn_bob');
    const room = 'attn-counts';
    const a = await connect(chatA, alice);
    await a.join(room);
    const bobPhone = await connect(chatA, bob);
    const bobLaptop = await connect(chatB, bob);
    await bobPhone.join(room);
    await bobLaptop.join(room);

    const ids: string[] = [];
    for (const text of ['one', 'two', 'three for @attn_bob']) {
      const ack = await a.sendText(room, text, `c-${ids.length}`);
      expect(ack.type).toBe('ack');
      ids.push(ack.id as string);
    }
    const live = await bobLaptop.find('message', (f) => f.id === ids[2]);
    expect(live).toMatchObject({ seq: 3, mentions: [bob.user.id] });
    await countsBecome(bob, room, { unread: 3, mentions: 1, lastSeq: 3 });
    await countsBecome(alice, room, { unread: 0, readSeq: 3 }); // her own messages moved her position

    // read on the laptop (replica B): the phone (replica A) hears it live; the store follows
    bobLaptop.send({ type: 'read', room, id: ids[1] });
    expect(await bobPhone.find('read', (f) => f.room === room)).toMatchObject({ id: ids[1], seq: 2 });
    await countsBecome(bob, room, { unread: 1, mentions: 1, readSeq: 2 });
    bobLaptop.send({ type: 'read', room, id: ids[2] });
    await bobPhone.find('read', (f) => f.room === room && f.seq === 3);
    await countsBecome(bob, room, { unread: 0, mentions: 0, readSeq: 3 });
    // a read that goes back changes nothing
    bobPhone.send({ type: 'read', room, id: ids[0] });
    await bobPhone.send({ type: 'ping', t: 'after-old-read' });
    await bobPhone.find('pong', (f) => f.t === 'after-old-read');
    expect(bobLaptop.all('read', (f) => f.seq === 1)).toEqual([]);

    // replica A dies mid-conversation: alice reconnects to B and keeps writing
    await chatA.stop('SIGKILL');
    const a2 = await connect(chatB, alice);
    await a2.join(room);
    for (const text of ['four', 'five']) expect((await a2.sendText(room, text, `d-${text}`)).type).toBe('ack');
    await countsBecome(bob, room, { unread: 2, lastSeq: 5 });
    chatA = await startService('chat', { ...chatEnv, REPLICA_ID: 'chat-a' }, { waitReady: true });

    // Redis restarts (AOF): the room counter survives and seqs go on
    await redis.restart();
    const a3 = await connect(chatB, alice);
    await a3.join(room);
    const six = await waitFor(async () => {
      const ack = await a3.sendText(room, 'six', 'e-six'); // one cid: a retry never makes a second message
      return ack.type === 'ack' ? ack : undefined;
    }, { timeoutMs: 15_000, what: 'a send after the Redis restart' });
    expect(six.type).toBe('ack');
    await countsBecome(bob, room, { unread: 3, lastSeq: 6 });

    // Redis loses everything: ingestion puts the counters back from the store (with the ACLs)
    const r = redis.client();
    await r.flushall();
    await waitFor(async () => Number(await r.get(keys.roomSeq(room))) >= 6, { timeoutMs: 20_000, what: 'the room counter rebuilt from the store' });
    const a4 = await connect(chatB, alice);
    await a4.join(room);
    expect((await a4.sendText(room, 'seven', 'f-seven')).type).toBe('ack');
    await countsBecome(bob, room, { unread: 4, lastSeq: 7 });
  }, 120_000);

  it('the first message of a new DM is unread for the peer; receipts reach the sender live', async () => {
    const ann = await signUp('attn_ann');
    const ben = await signUp('attn_ben');
    const dm = dmRoomName(ann.user.id, ben.user.id);
    const annWs = await connect(chatA, ann);
    await annWs.join(dm);
    const first = await annWs.sendText(dm, 'hi ben', 'dm-1');
    expect(first.type).toBe('ack');
    await countsBecome(ben, dm, { unread: 1, lastSeq: 1, readSeq: 0 });

    const benWs = await connect(chatB, ben);
    await benWs.join(dm);
    benWs.send({ type: 'read', room: dm, id: first.id });
    const receipt = await annWs.find('receipt', (f) => f.room === dm);
    expect(receipt).toMatchObject({ user: { id: ben.user.id, name: 'attn_ben' }, id: first.id, seq: 1 });
    await countsBecome(ben, dm, { unread: 0 });
    await waitFor(async () => {
      const res = await api('GET', `/api/rooms/${enc(dm)}/reads`, undefined, ann.token);
      return res.status === 200 && res.json.receipts === true && res.json.reads.some((x: { user: { id: string }; id: string }) => x.user.id === ben.user.id && x.id === first.id);
    }, { timeoutMs: 15_000, what: "ben's position in GET …/reads" });
  }, 60_000);

  it('a mention while offline is exactly one notification and the right count at the next sign-in; online, a notify frame', async () => {
    const max = await signUp('attn_max');
    const cleo = await signUp('attn_cleo');
    const room = 'attn-notify';
    const cleoWs = await connect(chatA, cleo);
    await cleoWs.join(room);
    await cleoWs.close(); // cleo goes offline, still a member
    const maxWs = await connect(chatB, max);
    await maxWs.join(room);
    const ack = await maxWs.sendText(room, 'ping @attn_cleo, and @nobody', 'n-1');
    expect(ack.type).toBe('ack');
    await countsBecome(cleo, room, { unread: 1, mentions: 1 });
    const list = await waitFor(async () => {
      const res = await api('GET', '/api/me/notifications', undefined, cleo.token);
      return res.status === 200 && res.json.notifications.length > 0 ? res.json : undefined;
    }, { timeoutMs: 15_000, what: "cleo's notification" });
    expect(list.notifications).toHaveLength(1);
    expect(list.notifications[0]).toMatchObject({ kind: 'mention', room, sourceId: ack.id, actor: { id: max.user.id }, read: false });
    expect(list.unread).toBe(1);
    // nothing for the sender's own message
    expect((await api('GET', '/api/me/notifications', undefined, max.token)).json.notifications).toEqual([]);

    // back online: the next mention arrives live on her user channel
    const cleoBack = await connect(chatA, cleo);
    const ack2 = await maxWs.sendText(room, '@attn_cleo again', 'n-2');
    const frame = await cleoBack.find('notify', () => true, 15_000);
    expect(frame.notification).toMatchObject({ kind: 'mention', room, sourceId: ack2.id });
    const after = (await api('GET', '/api/me/notifications', undefined, cleo.token)).json;
    expect(after.notifications.map((n: { sourceId: string }) => n.sourceId)).toEqual([ack2.id, ack.id]);
  }, 60_000);

  it('member lists and DM peers show presence: online, away when a device says so, offline with lastSeen', async () => {
    const ola = await signUp('attn_ola');
    const per = await signUp('attn_per');
    const room = 'attn-presence';
    const olaWs = await connect(chatA, ola);
    await olaWs.join(room);
    const perWs = await connect(chatB, per);
    await perWs.join(room);
    const statusOf = async (id: string) => {
      const res = await api('GET', `/api/rooms/${enc(room)}/members`, undefined, ola.token);
      expect(res.status).toBe(200);
      return res.json.members.find((m: { id: string }) => m.id === id) as { status: string; lastSeen?: number };
    };
    await waitFor(async () => (await statusOf(per.user.id)).status === 'online', { timeoutMs: 10_000, what: 'per online' });
    perWs.send({ type: 'status', status: 'away' });
    await waitFor(async () => (await statusOf(per.user.id)).status === 'away', { timeoutMs: 10_000, what: 'per away' });
    // what a client does by itself (a join, as after a reconnect) is not the person coming back
    await perWs.join('attn-presence-elsewhere');
    expect((await statusOf(per.user.id)).status).toBe('away');
    expect((await perWs.sendText(room, 'back', 'p-1')).type).toBe('ack'); // activity: online again
    await waitFor(async () => (await statusOf(per.user.id)).status === 'online', { timeoutMs: 10_000, what: 'per online again' });
    const before = Date.now();
    await perWs.close();
    await waitFor(async () => (await statusOf(per.user.id)).status === 'offline', { timeoutMs: 10_000, what: 'per offline' });
    expect((await statusOf(per.user.id)).lastSeen).toBeGreaterThanOrEqual(before - 1000);

    // a DM's peer carries the same presence in GET /api/me/rooms
    const dm = dmRoomName(ola.user.id, per.user.id);
    await olaWs.join(dm);
    expect((await olaWs.sendText(dm, 'you there?', 'p-2')).type).toBe('ack');
    await waitFor(async () => {
      const res = await api('GET', '/api/me/rooms', undefined, ola.token);
      const peer = res.json.rooms.find((r: { name: string }) => r.name === dm)?.peers?.[0];
      return peer?.id === per.user.id && peer.status === 'offline' && typeof peer.lastSeen === 'number';
    }, { timeoutMs: 15_000, what: 'the DM peer with presence' });
  }, 60_000);
});
