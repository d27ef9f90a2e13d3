// Account deletion end to end (issue 16 "Profiles", docs/REST.md `DELETE /api/me`): two users
// services (one with DELETE_MESSAGES_WITH_ACCOUNT), a chat replica and an ingestion worker on one
// redis-server and one SQLite file. Deleting an account asks for the password again, ends every
// session at once, leaves every room (an owner's room goes to its best-ranked member first), tells
// the rooms live, and keeps the username taken; the account's messages stay (shown as from a
// deleted user) or, with the flag, are removed from history and search within seconds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient, PASSWORD, type Session } from './http.js';

const JWT_SECRET = 'deletion-test-secret-0123456789abcdef01';
const ORIGIN = 'http://chat.example.test';

let redis: TestRedis;
let dir: string;
let users: RunningService;
let purging: RunningService;
let chat: RunningService;
let worker: RunningService;
const open: TestClient[] = [];

const { api, signUp } = apiClient(() => users.baseUrl);
const viaPurging = apiClient(() => purging.baseUrl).api;
const enc = encodeURIComponent;

async function connect(token: string): Promise<TestClient> {
  const c = await TestClient.connect(chat.baseUrl, token, { origin: ORIGIN });
  open.push(c);
  return c;
}

/** Polls a history page until `pred` holds (the worker stores asynchronously); bounded. */
async function historyUntil(room: string, token: string, pred: (msgs: any[]) => boolean): Promise<any[]> {
  let last: any[] = [];
  await waitFor(
    async () => {
      const r = await api<{ messages: any[] }>('GET', `/api/rooms/${enc(room)}/messages?limit=100`, undefined, token);
      last = r.json.messages ?? [];
      return pred(last) || undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100, what: `history of ${room}` },
  );
  return last;
}

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-deletion-'));
  const common = { REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'warn', PARTITIONS: '2', SQLITE_PATH: join(dir, 'aurora.db'), FILES_DIR: join(dir, 'files') };
  const usersEnv = { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000', LOGIN_MAX_PER_IP: '100000' };
  [users, purging, chat, worker] = await Promise.all([
    startService('users', usersEnv),
    startService('users', { ...usersEnv, DELETE_MESSAGES_WITH_ACCOUNT: 'true' }),
    startService('chat', { ...common, REPLICA_ID: 'chat-a', HANDSHAKE_MAX_PER_USER: '100000', HANDSHAKE_MAX_PER_IP: '100000', SHUTDOWN_DRAIN_MS: '200' }, { waitReady: true }),
    startService('ingestion', { ...common, INGEST_CONSUMER: 'w1', INGEST_BATCH_MS: '20' }),
  ]);
}, 90_000);

afterAll(async () => {
  for (const c of open) await c.close().catch(() => {});
  await Promise.all([users, purging, chat, worker].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('DELETE /api/me', { timeout: 60_000 }, () => {
  it('asks for the password; ends every session, leaves every room (handing an owned one over), keeps the messages and the name taken', async () => {
    const ann = await signUp('ann');
    const phone = (await api<Session>('POST', '/api/auth/login', { username: 'ann', password: PASSWORD })).json;
    const bob = await signUp('bob'); // the older member
    const cal = await signUp('cal'); // the admin: gets the room
    const created = await api('POST', '/api/rooms', { kind: 'private', title: 'Plans', members: [bob.user.id, cal.user.id] }, ann.token);
    expect(created.status).toBe(201);
    const room: string = created.json.room.name;
    expect((await api('PATCH', `/api/rooms/${enc(room)}/members/${cal.user.id}`, { role: 'admin' }, ann.token)).status).toBe(200);

    const annSock = await connect(ann.token);
    const phoneSock = await connect(phone.token);
    const bobSock = await connect(bob.token);
    await annSock.join(room);
    await bobSock.join(room);
    const said = await annSock.sendText(room, 'my last words here', 'ann-1');
    expect(said.type).toBe('ack');
    await historyUntil(room, bob.token, (m) => m.some((x) => x.id === said.id));

    // refused: no password, a wrong one, a stolen token alone is not enough
    expect(await api('DELETE', '/api/me', {}, ann.token)).toMatchObject({ status: 400, json: { error: { code: 'invalid_field' } } });
    expect(await api('DELETE', '/api/me', { password: 'not my password' }, ann.token)).toMatchObject({ status: 401, json: { error: { code: 'invalid_credentials' } } });
    expect(await api('DELETE', '/api/me', { password: PASSWORD })).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });
    expect(annSock.closeCode).toBeNull();

    expect(await api('DELETE', '/api/me', { password: PASSWORD }, ann.token)).toEqual({ status: 204, json: null });

    // every session ends at once: sockets 4001, access and refresh tokens refused, no login
    expect(await annSock.closed).toBe(4001);
    expect(await phoneSock.closed).toBe(4001);
    expect((await api('GET', '/api/me', undefined, phone.token)).status).toBe(401);
    expect((await api('POST', '/api/auth/refresh', { refreshToken: ann.refreshToken })).status).toBe(401);
    expect(await api('POST', '/api/auth/login', { username: 'ann', password: PASSWORD })).toMatchObject({ status: 401, json: { error: { code: 'invalid_credentials' } } });

    // the room is told live: the hand-over, the leave, and the profile of a deleted user
    const member = (action: string, id: string) => (f: any) => f.kind === 'member' && f.action === action && f.member.id === id;
    expect(await bobSock.next('event', member('role', cal.user.id))).toMatchObject({ role: 'owner', user: { id: ann.user.id } });
    await bobSock.next('event', member('left', ann.user.id));
    expect(await bobSock.find('profile', (f) => f.user.id === ann.user.id)).toEqual({ type: 'profile', user: { id: ann.user.id, name: 'ann' }, deleted: true });
    const members = await api('GET', `/api/rooms/${enc(room)}/members`, undefined, bob.token);
    expect(members.json.members.map((m: any) => [m.username, m.role])).toEqual([['cal', 'owner'], ['bob', 'member']]);

    // the messages stay, their author resolves to a deleted user; the name is taken, unfindable, uninvitable
    const kept = await historyUntil(room, bob.token, () => true);
    expect(kept.find((m) => m.id === said.id)).toMatchObject({ text: 'my last words here', user: { id: ann.user.id } });
    expect((await api('GET', `/api/users/profiles?ids=${ann.user.id}`, undefined, bob.token)).json.profiles).toEqual([{ id: ann.user.id, username: 'ann', deleted: true }]);
    expect((await api('POST', '/api/auth/register', { username: 'ANN', password: PASSWORD })).status).toBe(409);
    expect((await api('GET', '/api/users?query=ann', undefined, bob.token)).json.users).toEqual([]);
    expect((await api('POST', `/api/rooms/${enc(room)}/members`, { userId: ann.user.id }, cal.token)).status).toBe(404);
  });

  it('with DELETE_MESSAGES_WITH_ACCOUNT the messages, replies included, leave history and search within seconds', async () => {
    const dan = await signUp('dan');
    const eve = await signUp('eve');
    const danSock = await connect(dan.token);
    const eveSock = await connect(eve.token);
    await danSock.join('general');
    await eveSock.join('general');
    const top = await danSock.sendText('general', 'gooseberry jam recipe', 'dan-1');
    const hers = await eveSock.sendText('general', 'gooseberry question', 'eve-1');
    const reply = await danSock.request({ type: 'send', room: 'general', text: 'gooseberry answer', replyTo: hers.id, cid: 'dan-2' });
    expect(reply.type).toBe('ack');
    await historyUntil('general', eve.token, (m) => m.some((x) => x.id === top.id) && m.find((x) => x.id === hers.id)?.replyCount === 1);

    expect(await viaPurging('DELETE', '/api/me', { password: PASSWORD }, dan.token)).toEqual({ status: 204, json: null });
    expect(await eveSock.find('profile', (f) => f.user.id === dan.user.id)).toMatchObject({ deleted: true, messagesRemoved: true });

    const after = await historyUntil('general', eve.token, (m) => m.find((x) => x.id === top.id)?.deleted === true);
    expect(after.find((x) => x.id === top.id)).toMatchObject({ text: '', deleted: true });
    expect(after.find((x) => x.id === hers.id)).toMatchObject({ text: 'gooseberry question' });
    expect(after.find((x) => x.id === hers.id)?.replyCount).toBeUndefined();
    const found = await api('GET', '/api/search?q=gooseberry', undefined, eve.token);
    expect(found.json.results.map((h: any) => h.message.id)).toEqual([hers.id]);
  });
});
