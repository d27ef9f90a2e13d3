// Rooms with members, end to end and as an attacker would try them (issue 14, "Security tests"):
// the real users service, two chat replicas and an ingestion worker on one redis-server and one
// SQLite file. A private room is invisible to non-members everywhere (ws join, send, REST history,
// members, the room itself) and answers exactly as a room that does not exist; roles are enforced
// in the script that appends the change; a kick or ban takes the user's sockets out of the room on
// every replica at once and a banned user cannot come back on any replica; invites and new DMs
// reach the user's sockets live through the per-user channel.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dmRoomName, newMembersOnlyRoom } from '../../services/shared/rooms.js';
import { TestClient } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient, PASSWORD, type Session } from './http.js';

const JWT_SECRET = 'membership-test-secret-0123456789abcdef0';
const ORIGIN = 'http://chat.example.test';

let redis: TestRedis;
let dir: string;
let users: RunningService;
let chatA: RunningService;
let chatB: RunningService;
let worker: RunningService;

const { api, signUp } = apiClient(() => users.baseUrl);

const connect = (replica: RunningService, s: Session) => TestClient.connect(replica.baseUrl, s.token, { origin: ORIGIN });
const enc = encodeURIComponent;

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-membership-'));
  const common = { REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'warn', PARTITIONS: '2', SQLITE_PATH: join(dir, 'aurora.db') };
  users = await startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000' });
  const chatEnv = { ...common, HANDSHAKE_MAX_PER_USER: '100000', HANDSHAKE_MAX_PER_IP: '100000', SHUTDOWN_DRAIN_MS: '200' };
  [chatA, chatB] = await Promise.all([
    startService('chat', { ...chatEnv, REPLICA_ID: 'chat-a' }, { waitReady: true }),
    startService('chat', { ...chatEnv, REPLICA_ID: 'chat-b' }, { waitReady: true }),
  ]);
  worker = await startService('ingestion', { ...common, INGEST_CONSUMER: 'w1', INGEST_BATCH_MS: '20' });
}, 90_000);

afterAll(async () => {
  await Promise.all([users, chatA, chatB, worker].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('rooms with members', () => {
  it('a private room is invisible to a non-member: ws join and send, history, members, the room — the same answers as for no room', async () => {
    const owner = await signUp('pia');
    const member = await signUp('max');
    const outsider = await signUp('oscar');
    const created = await api('POST', '/api/rooms', { kind: 'private', title: 'Launch plans', topic: 'secret', members: [member.user.id] }, owner.token);
    expect(created.status).toBe(201);
    const room: string = created.json.room.name;
    expect(room).toMatch(/^p:/);
    expect(created.json.room).toMatchObject({ kind: 'private', title: 'Launch plans', topic: 'secret', role: 'owner', memberCount: 2 });
    const ghost = newMembersOnlyRoom('private');

    // REST: the same status and body for the real room and one that never existed
    for (const path of ['', '/messages', '/members']) {
      const real = await api('GET', `/api/rooms/${enc(room)}${path}`, undefined, outsider.token);
      const none = await api('GET', `/api/rooms/${enc(ghost)}${path}`, undefined, outsider.token);
      expect(real.status).toBe(404);
      expect(real).toEqual(none);
    }
    const inviteReal = await api('POST', `/api/rooms/${enc(room)}/members`, { userId: outsider.user.id }, outsider.token);
    const inviteNone = await api('POST', `/api/rooms/${enc(ghost)}/members`, { userId: outsider.user.id }, outsider.token);
    expect(inviteReal.status).toBe(404);
    expect(inviteReal).toEqual(inviteNone);

    // ws: join refused alike; a send without a join is refused as ever
    const o = await connect(chatA, outsider);
    o.send({ type: 'join', room });
    const e1 = await o.next('error');
    o.send({ type: 'join', room: ghost });
    const e2 = await o.next('error');
    // the same answer, but for the room each names (a refused join carries its room)
    expect(e1).toMatchObject({ code: 'forbidden', room });
    expect(e2).toEqual({ ...e1, room: ghost });
    expect(await o.sendText(room, 'let me in', 'o-1')).toMatchObject({ type: 'error', code: 'not_joined' });

    // members see it, in their rooms and in the member list
    const m = await connect(chatB, member);
    expect((await m.join(room)).room).toBe(room);
    const list = await api('GET', `/api/rooms/${enc(room)}/members`, undefined, member.token);
    expect(list.json.members.map((x: { username: string; role: string }) => [x.username, x.role])).toEqual([
      ['pia', 'owner'],
      ['max', 'member'],
    ]);
    const mine = await api('GET', '/api/me/rooms', undefined, member.token);
    expect(mine.json.rooms.map((r: { name: string }) => r.name)).toContain(room);
    expect((await api('GET', '/api/me/rooms', undefined, outsider.token)).json.rooms.map((r: { name: string }) => r.name)).not.toContain(room);
    // and the directory lists public rooms only
    expect((await api('GET', '/api/directory', undefined, outsider.token)).json.rooms.map((r: { name: string }) => r.name)).not.toContain(room);
    await Promise.all([o.close(), m.close()]);
  });

  it('roles: a member cannot kick or ban, an admin cannot demote the owner, only the owner changes roles', async () => {
    const owner = await signUp('olga');
    const admin = await signUp('adam');
    const plain = await signUp('pete');
    expect((await api('POST', '/api/rooms', { kind: 'public', name: 'ranked', members: [admin.user.id, plain.user.id] }, owner.token)).status).toBe(201);
    expect((await api('PATCH', `/api/rooms/ranked/members/${admin.user.id}`, { role: 'admin' }, owner.token)).status).toBe(200);
    expect((await api('DELETE', `/api/rooms/ranked/members/${admin.user.id}`, undefined, plain.token)).status).toBe(403);
    expect((await api('POST', '/api/rooms/ranked/bans', { userId: admin.user.id }, plain.token)).status).toBe(403);
    expect((await api('PATCH', `/api/rooms/ranked/members/${owner.user.id}`, { role: 'member' }, admin.token)).status).toBe(403);
    expect((await api('DELETE', `/api/rooms/ranked/members/${owner.user.id}`, undefined, admin.token)).status).toBe(403);
    expect((await api('PATCH', `/api/rooms/ranked/members/${plain.user.id}`, { role: 'admin' }, admin.token)).status).toBe(403);
    // the owner leaving others behind must hand the room over first
    expect((await api('DELETE', `/api/rooms/ranked/members/${owner.user.id}`, undefined, owner.token)).status).toBe(409);
    expect((await api('PATCH', `/api/rooms/ranked/members/${admin.user.id}`, { role: 'owner' }, owner.token)).status).toBe(200);
    const members = (await api('GET', '/api/rooms/ranked/members', undefined, plain.token)).json.members;
    expect(members.map((x: { username: string; role: string }) => [x.username, x.role])).toEqual([
      ['adam', 'owner'],
      ['olga', 'admin'],
      ['pete', 'member'],
    ]);
  });

  it('a kick reaches the kicked user on every replica at once; a banned user cannot come back on any replica; a mute refuses sends with retryAfterMs', async () => {
    const mod = await signUp('mona');
    const troll = await signUp('trent');
    const bystander = await signUp('bea');
    expect((await api('POST', '/api/rooms', { kind: 'public', name: 'moderated' }, mod.token)).status).toBe(201);
    const tA = await connect(chatA, troll);
    const tB = await connect(chatB, troll);
    const by = await connect(chatA, bystander);
    await tA.join('moderated');
    await tB.join('moderated');
    await by.join('moderated');
    expect((await tA.sendText('moderated', 'hello', 't-1')).type).toBe('ack');

    // mute: sends refused with the time left, reads go on
    expect((await api('POST', '/api/rooms/moderated/mutes', { userId: troll.user.id, seconds: 60 }, mod.token)).status).toBe(200);
    const muted = await tB.sendText('moderated', 'spam', 't-2');
    expect(muted).toMatchObject({ type: 'error', code: 'muted', ref: 't-2' });
    expect(muted.retryAfterMs).toBeGreaterThan(50_000);
    await by.find('event', (f) => f.kind === 'member' && f.action === 'muted' && f.member.id === troll.user.id);
    expect((await api('DELETE', `/api/rooms/moderated/mutes/${troll.user.id}`, undefined, mod.token)).status).toBe(200);
    expect((await tB.sendText('moderated', 'sorry', 't-3')).type).toBe('ack');

    // kick: both sockets, on both replicas, leave the room with the reason
    expect((await api('DELETE', `/api/rooms/moderated/members/${troll.user.id}`, undefined, mod.token)).status).toBe(200);
    await tA.find('left', (f) => f.room === 'moderated' && f.reason === 'kicked');
    await tB.find('left', (f) => f.room === 'moderated' && f.reason === 'kicked');
    expect(await tA.sendText('moderated', 'still here?', 't-4')).toMatchObject({ type: 'error', code: 'not_joined' });
    await by.find('event', (f) => f.kind === 'member' && f.action === 'kicked' && f.member.id === troll.user.id);

    // a kicked user may come back (public room); a banned one may not, on any replica or socket
    await tA.join('moderated');
    expect((await api('POST', '/api/rooms/moderated/bans', { userId: troll.user.id }, mod.token)).status).toBe(200);
    await tA.find('left', (f) => f.room === 'moderated' && f.reason === 'banned');
    for (const replica of [chatA, chatB]) {
      const fresh = await connect(replica, troll);
      fresh.send({ type: 'join', room: 'moderated' });
      expect(await fresh.next('error')).toMatchObject({ code: 'forbidden', message: 'you are banned from this room' });
      await fresh.close();
    }
    expect((await api('POST', '/api/rooms/moderated/members', { userId: troll.user.id }, troll.token)).status).toBe(403);
    expect((await api('GET', '/api/rooms/moderated/messages', undefined, troll.token)).status).toBe(403);
    await Promise.all([tA.close(), tB.close(), by.close()]);
  });

  it('the per-user channel: an invite and a new DM reach the user live on whatever replica, without joining first', async () => {
    const alice = await signUp('alicia');
    const bob = await signUp('bobby');
    const bobA = await connect(chatA, bob);
    const bobB = await connect(chatB, bob);
    // the subscription is live once a frame from the user channel can arrive: an invite is one
    await waitFor(async () => Number(((await redis.client().pubsub('NUMSUB', `aurora:user:${bob.user.id}`)) as [string, number])[1]) === 2, {
      what: "both replicas subscribed to bob's channel",
    });
    const created = await api('POST', '/api/rooms', { kind: 'private', title: 'Surprise', members: [bob.user.id] }, alice.token);
    const room: string = created.json.room.name;
    for (const c of [bobA, bobB]) await c.find('event', (f) => f.room === room && f.kind === 'member' && f.action === 'invited' && f.member.id === bob.user.id);

    const dm = dmRoomName(alice.user.id, bob.user.id);
    const a = await connect(chatA, alice);
    await a.join(dm);
    const sentAt = Date.now();
    expect((await a.sendText(dm, 'psst', 'dm-1')).type).toBe('ack');
    const first = await bobB.find('message', (f) => f.room === dm && f.cid === 'dm-1', 2000);
    expect(Date.now() - sentAt).toBeLessThan(1000);
    expect(first.text).toBe('psst');
    // once bob has joined the DM, its messages come on the room channel only (no duplicates)
    await bobB.join(dm);
    expect((await a.sendText(dm, 'second', 'dm-2')).type).toBe('ack');
    await bobB.find('message', (f) => f.cid === 'dm-2');
    await new Promise((r) => setTimeout(r, 200));
    expect(bobB.all('message', (f) => f.cid === 'dm-2')).toHaveLength(1);
    await Promise.all([bobA.close(), bobB.close(), a.close()]);
  });

  it('forged, replayed and outsider REST calls on other people\'s rooms are refused', async () => {
    const owner = await signUp('rhea');
    const member = await signUp('remy');
    const outsider = await signUp('rolf');
    const room: string = (await api('POST', '/api/rooms', { kind: 'private', title: 'R', members: [member.user.id] }, owner.token)).json.room.name;
    const ghost = newMembersOnlyRoom('private');
    // an outsider: every change answers exactly as for a room that does not exist
    const attempts: [string, string, unknown?][] = [
      ['DELETE', `/members/${member.user.id}`],
      ['PATCH', `/members/${outsider.user.id}`, { role: 'owner' }],
      ['POST', '/bans', { userId: member.user.id }],
      ['POST', '/mutes', { userId: member.user.id, seconds: 60 }],
      ['PATCH', '', { topic: 'mine now' }],
      ['PATCH', '', { archived: true }],
    ];
    for (const [method, path, body] of attempts) {
      const real = await api(method, `/api/rooms/${enc(room)}${path}`, body, outsider.token);
      const none = await api(method, `/api/rooms/${enc(ghost)}${path}`, body, outsider.token);
      expect(real.status, `${method} ${path}`).toBe(404);
      expect(real).toEqual(none);
    }
    // a forged token (another secret) and a replayed one after logout: 401, nothing changes
    const forged = owner.token.replace(/\.[^.]+$/, '.AAAA');
    expect((await api('DELETE', `/api/rooms/${enc(room)}/members/${member.user.id}`, undefined, forged)).status).toBe(401);
    const login = await api<Session>('POST', '/api/auth/login', { username: 'rhea', password: PASSWORD });
    expect((await api('POST', '/api/auth/logout', { refreshToken: login.json.refreshToken }, login.json.token)).status).toBeLessThan(300);
    expect((await api('DELETE', `/api/rooms/${enc(room)}/members/${member.user.id}`, undefined, login.json.token)).status).toBe(401);
    const members = (await api('GET', `/api/rooms/${enc(room)}/members`, undefined, member.token)).json.members;
    expect(members.map((m: { username: string }) => m.username)).toEqual(['rhea', 'remy']);
  });

  it('after Redis loses its data the ACLs come back from the store: members in, outsiders and the banned still out', async () => {
    const owner = await signUp('lena');
    const member = await signUp('lars');
    const banned = await signUp('lotte');
    const room: string = (await api('POST', '/api/rooms', { kind: 'private', title: 'L', members: [member.user.id] }, owner.token)).json.room.name;
    expect((await api('POST', '/api/rooms', { kind: 'public', name: 'lost-and-found' }, owner.token)).status).toBe(201);
    expect((await api('POST', '/api/rooms/lost-and-found/bans', { userId: banned.user.id }, owner.token)).status).toBe(200);
    await redis.client().flushall(); // a Redis without persistence, restarted
    const m = await connect(chatA, member);
    // the ingestion service notices the missing marker and rebuilds within ACL_CHECK_MS
    await waitFor(
      async () => {
        m.send({ type: 'join', room });
        const f = await m.next('joined', (x) => x.room === room, 500).catch(() => null);
        return f !== null;
      },
      { what: 'the member joins again after the rebuild', timeoutMs: 15_000 },
    );
    const b = await connect(chatB, banned);
    b.send({ type: 'join', room: 'lost-and-found' });
    expect(await b.next('error')).toMatchObject({ code: 'forbidden', message: 'you are banned from this room' });
    b.send({ type: 'join', room });
    expect(await b.next('error')).toMatchObject({ code: 'forbidden' });
    await Promise.all([m.close(), b.close()]);
  });

  it('groups: 3–10 people, named by members, listed in each member\'s rooms with their peers', async () => {
    const [g1, g2, g3] = await Promise.all([signUp('gina'), signUp('gus'), signUp('gwen')]);
    expect((await api('POST', '/api/rooms', { kind: 'group', members: [g2.user.id] }, g1.token)).status).toBe(400);
    const created = await api('POST', '/api/rooms', { kind: 'group', members: [g2.user.id, g3.user.id] }, g1.token);
    expect(created.status).toBe(201);
    const room: string = created.json.room.name;
    expect(room).toMatch(/^g:/);
    const mine = (await api('GET', '/api/me/rooms', undefined, g3.token)).json.rooms.find((r: { name: string }) => r.name === room);
    expect(mine).toMatchObject({ kind: 'group', role: 'member', memberCount: 3 });
    expect(mine.peers.map((p: { username: string }) => p.username).sort()).toEqual(['gina', 'gus']);
  });
});
