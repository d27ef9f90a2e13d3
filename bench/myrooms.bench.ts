// "My rooms" benchmark (issue 14: "GET /api/me/rooms for a user in 500 rooms answers in one store
// query, p95 beside a plain GET /api/me"): the real users service on a SQLite file where one user
// is a member of ROOMS rooms (public, private, groups and DMs, each with messages), timed over
// HTTP against GET /api/me, the cheapest signed-in route, as the anchor of the same run.
//
// Method
// - Data: written straight into the store before the service starts (store.applyMembershipEvents
//   and insertMessages, as ingestion would): ROOMS rooms of the user, a quarter each public,
//   private, group (3 people) and DM, MESSAGES messages each; plus as many rooms the user is NOT
//   in (the query must not scan them).
// - Attention (issue 15): messages carry seqs, a quarter mention the user, the user read half of
//   each room, so every room answers non-zero unread and mention counts (checked).
// - Requests alternate /api/me and /api/me/rooms (same connection pool, same load), WARMUP first;
//   p50/p95 of each and the ratio. The answer's length is checked (all ROOMS rooms).
// Sizes: BENCH_MYROOMS_ROOMS (500), BENCH_MYROOMS_MESSAGES (20), BENCH_MYROOMS_REQUESTS (1000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import type { MembershipLogEntry } from '../services/shared/membership.js';
import type { ChatMessage, ReadMark } from '../services/shared/message.js';
import { dmRoomName, newMembersOnlyRoom } from '../services/shared/rooms.js';
import { openSqliteStore } from '../services/shared/store/store-sqlite.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { startNode } from './load/servers.js';
import { envNumber as env, percentile, type BenchRow, type Benchmark } from './lib.js';

const ROOMS = env('BENCH_MYROOMS_ROOMS', 500, 4);
const MESSAGES = env('BENCH_MYROOMS_MESSAGES', 20, 1);
const REQUESTS = env('BENCH_MYROOMS_REQUESTS', 1000, 10);
const WARMUP = Math.min(200, Math.ceil(REQUESTS / 5));
const SECRET = 'bench-myrooms-secret-0123456789abcdef01234';

let seq = 0;
const nextId = (t: number) => `${t}-${seq++}`;

/** One room's membership events: created + the creator joined + invites, as member.lua appends them. */
function roomEvents(room: string, kind: 'public' | 'private' | 'group', owner: { id: string; name: string }, others: { id: string; name: string }[], t: number): MembershipLogEntry[] {
  const base = { room, user: owner, cid: `c${seq}` };
  const id1 = nextId(t);
  const events: MembershipLogEntry[] = [
    { ...base, id: id1, ts: t, kind: 'room', action: 'created', roomKind: kind, topic: '', ...(kind === 'private' ? { title: `Room ${room.slice(-4)}` } : {}) },
    { ...base, id: nextId(t), ts: t, kind: 'member', action: 'joined', member: owner, role: kind === 'group' ? 'member' : 'owner' },
  ];
  for (const o of others) events.push({ ...base, id: nextId(t), ts: t, kind: 'member', action: 'invited', member: o, role: 'member' });
  return events;
}

export const myroomsBenchmark: Benchmark = {
  name: 'myrooms',
  description: `GET /api/me/rooms of a user in ${ROOMS} rooms (${MESSAGES} messages each) vs GET /api/me, users service on SQLite, over HTTP`,
  async run(log) {
    const dir = mkdtempSync(join(tmpdir(), 'aurora-bench-myrooms-'));
    const redis = await startRedis();
    let users: Awaited<ReturnType<typeof startNode>> | undefined;
    try {
      const dbPath = join(dir, 'aurora.db');
      // Accounts through the service (real password hashes), then the rooms straight into the file.
      users = await startNode('services/users/main.ts', { REDIS_URL: redis.url, SQLITE_PATH: dbPath, JWT_SECRET: SECRET, BCRYPT_COST: '4', REST_MAX_PER_USER: '1000000', LOG_LEVEL: 'warn' }, (p) => `http://127.0.0.1:${p}`);
      const register = async (username: string) => {
        const res = await fetch(`${users!.url}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'a long enough password' }) });
        if (res.status !== 201) throw new Error(`register ${username}: ${res.status}`);
        return ((await res.json()) as { user: { id: string; username: string } }).user;
      };
      const me = await register('bencher');
      const peers = [await register('peer-one'), await register('peer-two')];
      const login = await fetch(`${users.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bencher', password: 'a long enough password' }) });
      const token = ((await login.json()) as { token: string }).token;

      const store = await openSqliteStore(dbPath, pino({ level: 'silent' }));
      const t0 = Date.now() - 86_400_000;
      const meUser = { id: me.id, name: me.username };
      const peerUsers = peers.map((p) => ({ id: p.id, name: p.username }));
      const events: MembershipLogEntry[] = [];
      const messages: ChatMessage[] = [];
      const rooms: string[] = [];
      const reads: ReadMark[] = [];
      for (let i = 0; i < 2 * ROOMS; i++) {
        const mine = i < ROOMS;
        const kinds = ['public', 'private', 'group', 'dm'] as const;
        const kind = kinds[i % 4]!;
        const t = t0 + i * 1000;
        let room: string;
        if (kind === 'dm') {
          // DMs with distinct partners: synthetic ids (the store lists a DM by its name and messages)
          room = mine ? dmRoomName(me.id, `peer${String(i).padStart(8, '0')}`) : dmRoomName(`other${i}`, `peer${String(i).padStart(8, '0')}`);
        } else {
          room = kind === 'public' ? `room-${i}` : newMembersOnlyRoom(kind);
          const owner = mine ? meUser : peerUsers[0]!;
          events.push(...roomEvents(room, kind, owner, kind === 'group' ? peerUsers : mine ? [peerUsers[0]!] : [peerUsers[1]!], t));
        }
        if (mine) rooms.push(room);
        // Issue 15: every room has messages from someone else, a quarter of them mentioning the
        // user, and the user read half of them — so each room answers real unread/mention counts.
        for (let m = 0; m < MESSAGES; m++) {
          const ts = t + 10 + m;
          const id = nextId(ts);
          const msg: ChatMessage = { id, room, user: peerUsers[1]!, text: `message ${m} in ${room}`, ts, cid: `m${seq}`, seq: m + 1 };
          if (mine && kind !== 'dm' && (m % 4 === 3 || m === MESSAGES - 1)) msg.mentions = [me.id];
          messages.push(msg);
          if (mine && m === Math.floor((MESSAGES - 1) / 2)) reads.push({ room, user: meUser, id, seq: m + 1 });
        }
      }
      await store.applyMembershipEvents(events);
      for (let i = 0; i < messages.length; i += 1000) await store.insertMessages(messages.slice(i, i + 1000));
      await store.applyReads(reads);
      await store.close();
      log(`${ROOMS} rooms of the user (+${ROOMS} of others), ${messages.length} messages`);

      const get = async (path: string): Promise<{ ms: number; body: unknown }> => {
        const t = performance.now();
        const res = await fetch(`${users!.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
        const body = (await res.json()) as unknown;
        if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
        return { ms: performance.now() - t, body };
      };
      const first = (await get('/api/me/rooms')).body as { rooms: { unread: number; mentions: number }[] };
      if (first.rooms.length !== Math.min(ROOMS, 500)) throw new Error(`GET /api/me/rooms listed ${first.rooms.length} rooms, not ${ROOMS}`);
      const unread = first.rooms.reduce((n, r) => n + r.unread, 0);
      const mentions = first.rooms.reduce((n, r) => n + r.mentions, 0);
      if (MESSAGES >= 2 && (unread === 0 || mentions === 0)) throw new Error(`GET /api/me/rooms counted ${unread} unread, ${mentions} mentions: the data should give both`);
      log(`counts answered: ${unread} unread, ${mentions} mentions over ${first.rooms.length} rooms`);
      const times = { me: [] as number[], rooms: [] as number[] };
      for (let i = 0; i < WARMUP + REQUESTS; i++) {
        const order = i % 2 === 0 ? (['me', 'rooms'] as const) : (['rooms', 'me'] as const);
        for (const which of order) {
          const { ms } = await get(which === 'me' ? '/api/me' : '/api/me/rooms');
          if (i >= WARMUP) times[which].push(ms);
        }
      }
      const me50 = percentile(times.me.sort((a, b) => a - b), 50);
      const me95 = percentile(times.me, 95);
      const r50 = percentile(times.rooms.sort((a, b) => a - b), 50);
      const r95 = percentile(times.rooms, 95);
      log(`GET /api/me p50 ${me50.toFixed(2)} p95 ${me95.toFixed(2)} ms; GET /api/me/rooms p50 ${r50.toFixed(2)} p95 ${r95.toFixed(2)} ms`);
      const bytes = Buffer.byteLength(JSON.stringify(first));
      const rows: BenchRow[] = [
        { metric: 'GET /api/me p50 (anchor)', value: me50, unit: 'ms' },
        { metric: 'GET /api/me p95 (anchor)', value: me95, unit: 'ms' },
        { metric: `GET /api/me/rooms, ${ROOMS} rooms, p50`, value: r50, unit: 'ms', ratio: { of: '/api/me p50', value: r50 / me50 }, note: `${(bytes / 1024).toFixed(0)} KiB answer` },
        { metric: `GET /api/me/rooms, ${ROOMS} rooms, p95`, value: r95, unit: 'ms', ratio: { of: '/api/me p95', value: r95 / me95 }, note: `${REQUESTS} requests each, alternating` },
      ];
      return rows;
    } finally {
      await users?.stop();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
