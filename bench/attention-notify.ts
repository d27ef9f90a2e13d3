// The attention benchmark's second part (attention.bench.ts): how fast the `notify` consumer
// group gets through a backlog compared with the storage group, both in ONE ingestion process
// (NOTIFY_ENABLED=true, as deployed), on the same ingest streams.
//
// Method
// - A fresh SQLite file holds USERS users and ROOMS public rooms of ROOM_MEMBERS members each
//   (store.applyMembershipEvents, as ingestion would write them), so the notifier finds real
//   members; DMs need no rows (membership by the room's name).
// - N ingest entries (ingestEntryFields, increasing ids, per-room seqs) over PARTITIONS=4
//   streams: every DM_EVERY-th one in a DM, about half of the others mention another member of their
//   room. Expected: one notification per mention and one per DM message.
// - Then one ingestion process starts. XINFO GROUPS of every stream is polled every 20 ms; a
//   group is done when nothing is pending and its last delivered id is the stream's last id.
//   Throughput = entries processed (entries-read - pending) between the first poll and the
//   poll that sees the group done, over that time (process start-up excluded, as in ingest).
// - Finally the inbox is counted through the store API (unreadNotificationCount per user).
// - The same backlog first runs with NOTIFY_ENABLED=false: storage alone, so the report shows
//   what sharing the process (one event loop, one SQLite file) with the notifier costs storage.
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { compareIds } from '../services/shared/ids.js';
import { keysFor } from '../services/shared/keys.js';
import type { MembershipLogEntry } from '../services/shared/membership.js';
import { ingestEntryFields, type ChatMessage, type ChatUser } from '../services/shared/message.js';
import { dmRoomName } from '../services/shared/rooms.js';
import { openSqliteStore } from '../services/shared/store/store-sqlite.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { tempDir } from '../test/ingestion/fixtures.js';
import { startNode, type ServerProc } from './load/servers.js';

const PARTITIONS = 4;
const USERS = 60;
const ROOMS = 16;
const ROOM_MEMBERS = 12;
const DM_PAIRS = 6;
/** One message in DM_EVERY goes to a DM (they notify the peer, like a mention). */
const DM_EVERY = 10;
const POLL_MS = 20;
const TIMEOUT_MS = 300_000;
const GROUPS = ['ingestion', 'notify'] as const;
type Group = (typeof GROUPS)[number];

export interface NotifyResult {
  messages: number;
  expected: number;
  /** Notifications in the inbox at the end (0 with the notifier off). */
  created: number;
  /** msg/s; notify is NaN when the notifier is off. */
  rate: Record<Group, number>;
  /** Seconds from spawning the process until the group was done. */
  wall: Record<Group, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Strictly increasing `<ms>-<seq>` ids in the past (what the room logs would have handed out). */
function idClock(startMs: number): () => string {
  let ms = startMs;
  let seq = 0;
  return () => {
    if (++seq > 20) {
      ms++;
      seq = 0;
    }
    return `${ms}-${seq}`;
  };
}

function membership(rooms: string[], users: ChatUser[], nextId: () => string): MembershipLogEntry[] {
  const events: MembershipLogEntry[] = [];
  rooms.forEach((room, r) => {
    const owner = users[r % users.length]!;
    const id = nextId();
    const ts = Number(id.split('-')[0]);
    events.push({ id, room, user: owner, ts, cid: `c-${id}`, kind: 'room', action: 'created', roomKind: 'public', topic: '' });
    for (let m = 0; m < ROOM_MEMBERS; m++) {
      const member = users[(r * 7 + m) % users.length]!;
      const mid = nextId();
      events.push({ id: mid, room, user: member, ts: Number(mid.split('-')[0]), cid: `c-${mid}`, kind: 'member', action: 'joined', member, role: member === owner ? 'owner' : 'member' });
    }
  });
  return events;
}

/** The backlog, and how many notifications it must produce. */
function backlog(count: number, rooms: string[], users: ChatUser[], nextId: () => string): { messages: ChatMessage[]; expected: number } {
  const membersOf = rooms.map((_, r) => Array.from(new Set(Array.from({ length: ROOM_MEMBERS }, (_, m) => users[(r * 7 + m) % users.length]!))));
  const dms = Array.from({ length: DM_PAIRS }, (_, i) => [users[i]!, users[users.length - 1 - i]!] as const);
  const seqs = new Map<string, number>();
  const messages: ChatMessage[] = [];
  let expected = 0;
  for (let i = 0; i < count; i++) {
    const id = nextId();
    let room: string;
    let user: ChatUser;
    let mentions: string[] | undefined;
    let text = `attention benchmark message ${i}, some sixty characters of chat`;
    if (i % DM_EVERY === DM_EVERY - 1) {
      const pair = dms[i % DM_PAIRS]!;
      user = pair[i % 2]!;
      room = dmRoomName(pair[0].id, pair[1].id);
      expected++;
    } else {
      const r = i % ROOMS;
      const members = membersOf[r]!;
      room = rooms[r]!;
      user = members[i % members.length]!;
      if (i % 2 === 0) {
        const target = members[(i + 1) % members.length]!;
        mentions = [target.id];
        text = `@${target.name} ${text}`;
        expected++;
      }
    }
    const seq = (seqs.get(room) ?? 0) + 1;
    seqs.set(room, seq);
    messages.push({ id, room, user, text, ts: Number(id.split('-')[0]), cid: `n${i}`, seq, ...(mentions ? { mentions } : {}) });
  }
  return { messages, expected };
}

interface GroupInfo {
  name: string;
  pending: number;
  'last-delivered-id': string;
  'entries-read': number | null;
}

async function groupsOf(redis: Redis, stream: string): Promise<GroupInfo[]> {
  const raw = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
  return raw.map((flat) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
    return o as unknown as GroupInfo;
  });
}

/** Per group: entries processed (read and acked) over every stream, and whether it is done. */
async function progress(redis: Redis, lastIds: Map<string, string>): Promise<Record<Group, { processed: number; done: boolean }>> {
  const out = { ingestion: { processed: 0, done: true }, notify: { processed: 0, done: true } };
  for (const [stream, lastId] of lastIds) {
    const infos = await groupsOf(redis, stream);
    for (const g of GROUPS) {
      const info = infos.find((i) => i.name === g);
      if (!info) {
        out[g].done = false;
        continue;
      }
      out[g].processed += Math.max(0, Number(info['entries-read'] ?? 0) - Number(info.pending));
      if (Number(info.pending) > 0 || compareIds(info['last-delivered-id'], lastId) < 0) out[g].done = false;
    }
  }
  return out;
}

/** `notify` false: the same backlog with NOTIFY_ENABLED=false (what the notifier costs storage). */
export async function notifyThroughput(count: number, secret: string, notify: boolean, log: (l: string) => void): Promise<NotifyResult> {
  const groups: readonly Group[] = notify ? GROUPS : ['ingestion'];
  const redis = await startRedis();
  const tmp = tempDir('aurora-bench-attn-');
  let ingestion: ServerProc | undefined;
  try {
    const store = await openSqliteStore(tmp.dbPath, pino({ level: 'silent' }));
    const users: ChatUser[] = [];
    for (let u = 0; u < USERS; u++) {
      const user = await store.createUser({ username: `attn${u}`, passwordHash: 'not-a-login' });
      users.push({ id: user.id, name: user.username });
    }
    const rooms = Array.from({ length: ROOMS }, (_, r) => `attn-${r}`);
    const nextId = idClock(Date.now() - 86_400_000);
    await store.applyMembershipEvents(membership(rooms, users, nextId));
    await store.close();

    const { messages, expected } = backlog(count, rooms, users, nextId);
    const client = redis.client();
    const keys = keysFor(PARTITIONS);
    const lastIds = new Map<string, string>();
    for (let i = 0; i < messages.length; i += 2000) {
      const pipeline = client.pipeline();
      for (const m of messages.slice(i, i + 2000)) pipeline.xadd(keys.ingestStreamOfRoom(m.room), '*', ...ingestEntryFields(m));
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([err, id], j) => {
        if (err) throw err;
        lastIds.set(keys.ingestStreamOfRoom(messages[i + j]!.room), String(id));
      });
    }
    log(`notify: ${messages.length} entries in ${lastIds.size} streams (${ROOMS} rooms of ${ROOM_MEMBERS}, ${DM_PAIRS} DMs), ${expected} notifications due`);

    const spawnedAt = performance.now();
    ingestion = await startNode(
      'services/ingestion/main.ts',
      { REDIS_URL: redis.url, SQLITE_PATH: tmp.dbPath, PARTITIONS: String(PARTITIONS), NOTIFY_ENABLED: String(notify), JWT_SECRET: secret, LOG_LEVEL: 'warn' },
      () => '',
    );
    const first = { t: performance.now(), p: await progress(client, lastIds) };
    const doneAt: Partial<Record<Group, { t: number; processed: number }>> = {};
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const p = await progress(client, lastIds);
      const t = performance.now();
      for (const g of groups) if (p[g].done && !doneAt[g]) doneAt[g] = { t, processed: p[g].processed };
      if (groups.every((g) => doneAt[g])) break;
      if (Date.now() > deadline) {
        throw new Error(`not done after ${TIMEOUT_MS / 1000} s: ingestion ${p.ingestion.processed}, notify ${p.notify.processed} of ${messages.length} (is the notify group wired into services/ingestion/main.ts?)`);
      }
      await sleep(POLL_MS);
    }
    const rate: Record<Group, number> = { ingestion: NaN, notify: NaN };
    const wall: Record<Group, number> = { ingestion: NaN, notify: NaN };
    for (const g of groups) {
      const d = doneAt[g]!;
      wall[g] = (d.t - spawnedAt) / 1000;
      const moved = messages.length - first.p[g].processed;
      // Done before the first poll (a tiny backlog): only the time since spawning is known.
      rate[g] = moved > 0 && d.t > first.t ? moved / ((d.t - first.t) / 1000) : messages.length / wall[g];
      log(`notify ${notify ? 'on' : 'off'}: group ${g} done ${wall[g].toFixed(2)} s after spawn (${first.p[g].processed} processed at the first poll): ${Math.round(rate[g])} msg/s`);
    }

    if (!notify) return { messages: messages.length, expected, created: 0, rate, wall };
    const counter = await openSqliteStore(tmp.dbPath, pino({ level: 'silent' }));
    let created = 0;
    try {
      for (const u of users) created += await counter.unreadNotificationCount(u.id);
    } finally {
      await counter.close();
    }
    log(`notify: ${created} notifications in the inbox (${expected} due)`);
    return { messages: messages.length, expected, created, rate, wall };
  } finally {
    await ingestion?.stop();
    await redis.stop();
    tmp.cleanup();
  }
}
