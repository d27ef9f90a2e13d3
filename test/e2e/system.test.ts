// The whole system as a user meets it: the real users service, two chat replicas and two
// ingestion workers on one redis-server and one SQLite file. It proves DESIGN.md's first
// invariant end to end: an acked message is delivered live to members on every replica and is
// eventually in the store exactly once, under the same id — also when the client re-sends after
// a lost ack and when a worker is killed with -9 mid-stream — and history serves it back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareIds } from '../../services/shared/ids.js';
import { dmRoomName } from '../../services/shared/rooms.js';
import { TestClient, type Frame } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient } from './http.js';

const JWT_SECRET = 'system-test-secret-0123456789abcdef0123';
const ORIGIN = 'http://chat.example.test';

let redis: TestRedis;
let dir: string;
let users: RunningService;
let chatA: RunningService;
let chatB: RunningService;
let workers: RunningService[] = [];

const { api, signUp } = apiClient(() => users.baseUrl);

/** Every stored message of a room, paging backwards through REST history. */
async function history(room: string, token: string): Promise<Frame[]> {
  const pages: Frame[][] = [];
  let before: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: '200', ...(before ? { before } : {}) });
    const res = await api<{ messages: Frame[]; hasMore: boolean }>('GET', `/api/rooms/${encodeURIComponent(room)}/messages?${q}`, undefined, token);
    expect(res.status).toBe(200);
    pages.unshift(res.json.messages);
    if (!res.json.hasMore || res.json.messages.length === 0) break;
    before = res.json.messages[0]!.id;
  }
  return pages.flat();
}

function workerEnv(name: string): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    SQLITE_PATH: join(dir, 'aurora.db'),
    JWT_SECRET,
    INGEST_CONSUMER: name,
    INGEST_BATCH_SIZE: '50',
    INGEST_BATCH_MS: '20',
    INGEST_CLAIM_IDLE_MS: '1000',
    LOG_LEVEL: 'warn',
  };
}

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-system-'));
  const common = { REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'warn', PARTITIONS: '2' };
  users = await startService('users', { ...common, SQLITE_PATH: join(dir, 'aurora.db'), BCRYPT_COST: '4' });
  // This test is about delivery and storage, not abuse limits: lift the per-user and per-socket rates.
  const chatEnv = { ...common, RATE_LIMIT_MESSAGES: '1000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000', MAX_FRAMES_PER_SEC: '10000', SHUTDOWN_DRAIN_MS: '200' };
  [chatA, chatB] = await Promise.all([
    startService('chat', { ...chatEnv, REPLICA_ID: 'chat-a' }, { waitReady: true }),
    startService('chat', { ...chatEnv, REPLICA_ID: 'chat-b' }, { waitReady: true }),
  ]);
  workers = await Promise.all([
    startService('ingestion', { ...workerEnv('worker-1'), PARTITIONS: '2' }),
    startService('ingestion', { ...workerEnv('worker-2'), PARTITIONS: '2' }),
  ]);
}, 90_000);

afterAll(async () => {
  await Promise.all([users, chatA, chatB, ...workers].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the whole system', () => {
  it('delivers acked messages live across replicas and stores each exactly once, also across a lost ack and a worker killed with -9', async () => {
    const alice = await signUp('alice');
    const bob = await signUp('bob');
    const a = await TestClient.connect(chatA.baseUrl, alice.token, { origin: ORIGIN });
    const b = await TestClient.connect(chatB.baseUrl, bob.token, { origin: ORIGIN });
    expect((await a.join('general')).room).toBe('general');
    await b.join('general');

    const N = 300;
    const acks: Frame[] = [];
    for (let i = 0; i < N; i++) {
      const ack = await a.sendText('general', `message ${i}`, `c-${i}`);
      expect(ack, JSON.stringify(ack)).toMatchObject({ type: 'ack', cid: `c-${i}` });
      acks.push(ack);
      // A lost ack: the client re-sends the same cid and must get the same id back.
      if (i % 25 === 0) {
        const again = await waitFor(async () => {
          a.send({ type: 'send', room: 'general', text: `message ${i}`, cid: `c-${i}` });
          return a.next('ack', (f) => f.cid === `c-${i}` && f.duplicate === true);
        });
        expect(again.id).toBe(ack.id);
      }
      if (i === Math.floor(N / 2)) await workers[0]!.stop('SIGKILL');
    }

    // Live: bob, on the other replica, got every message once, in order, with the ack's id.
    await waitFor(() => b.all('message').length >= N, { what: `${N} live messages on replica B` });
    const live = b.all('message');
    expect(live.map((m) => m.id)).toEqual(acks.map((x) => x.id));
    expect(live.every((m) => m.user.id === alice.user.id && m.user.name === 'alice')).toBe(true);

    // Stored: every acked id exactly once, in id order, readable through REST by bob.
    const stored = await waitFor(
      async () => {
        const h = await history('general', bob.token);
        return h.length >= N ? h : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: `${N} stored messages` },
    );
    expect(stored.map((m) => m.id)).toEqual(acks.map((x) => x.id));
    expect(stored.map((m) => m.text)).toEqual(acks.map((_, i) => `message ${i}`));
    const sorted = [...stored].sort((x, y) => compareIds(x.id, y.id));
    expect(sorted.map((m) => m.id)).toEqual(stored.map((m) => m.id));

    const rooms = await api<{ rooms: { name: string; messageCount: number }[] }>('GET', '/api/rooms', undefined, bob.token);
    expect(rooms.json.rooms.find((r) => r.name === 'general')?.messageCount).toBe(N);

    await Promise.all([a.close(), b.close()]);
  }, 120_000);

  it('keeps a direct message between its two users: delivered, stored, and refused to a third', async () => {
    const carol = await signUp('carol');
    const dave = await signUp('dave');
    const eve = await signUp('eve');
    const room = dmRoomName(carol.user.id, dave.user.id);

    const c = await TestClient.connect(chatA.baseUrl, carol.token, { origin: ORIGIN });
    const d = await TestClient.connect(chatB.baseUrl, dave.token, { origin: ORIGIN });
    const e = await TestClient.connect(chatB.baseUrl, eve.token, { origin: ORIGIN });
    await c.join(room);
    await d.join(room);
    e.send({ type: 'join', room });
    expect((await e.next('error')).code).toBe('forbidden');

    const ack = await c.sendText(room, 'just between us', 'dm-1');
    expect(ack.type).toBe('ack');
    expect((await d.next('message', (m) => m.room === room)).id).toBe(ack.id);

    const stored = await waitFor(
      async () => {
        const h = await history(room, dave.token);
        return h.length === 1 ? h : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the DM in the store' },
    );
    expect(stored[0]!.id).toBe(ack.id);
    const refused = await api('GET', `/api/rooms/${encodeURIComponent(room)}/messages`, undefined, eve.token);
    expect(refused.status).toBe(403);
    expect(e.all('message')).toEqual([]);

    await Promise.all([c.close(), d.close(), e.close()]);
  }, 60_000);
});
