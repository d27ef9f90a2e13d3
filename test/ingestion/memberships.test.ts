// Membership and room changes (membership.ts) on the ingest streams, beside messages, through a
// real worker process into real SQLite: every change applied once — also when the entries come
// back to a worker after another one applied part of them and died before XACK — a malformed
// one dead-lettered as poison, and a different change under a stored id dead-lettered as
// id_conflict. The expected states are written out from the entries, not read back.
import Database from 'better-sqlite3';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { idTime } from '../../services/shared/ids.js';
import type { Keys } from '../../services/shared/keys.js';
import { membershipFields, type MembershipEvent, type MembershipLogEntry, type Role, type RoomChangeEvent } from '../../services/shared/membership.js';
import type { Store } from '../../services/shared/store/index.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import { INGEST_GROUP, addRawEntry, allAcked, deadLetters, keysFor, openStore, produce, startWorker, tempDir } from './fixtures.js';

const PARTITIONS = 2;
const keys = keysFor(PARTITIONS);
const PRIV = 'p:opsroom000000000'; // 16 characters after the prefix (rooms.ts)
const LOBBY = 'lobby';

let redis: TestRedis;
let tmp: ReturnType<typeof tempDir>;
let store: Store | undefined;
const workers: RunningService[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop('SIGKILL');
  await store?.close();
  store = undefined;
  tmp?.cleanup();
  await redis.client().flushall();
});

afterAll(async () => {
  await redis?.stop();
});

async function setup(): Promise<Store> {
  tmp = tempDir();
  store = await openStore(tmp.dbPath); // creates the schema
  return store;
}

async function worker(consumer: string, extra: Record<string, string> = {}): Promise<RunningService> {
  const w = await startWorker({ redisUrl: redis.url, dbPath: tmp.dbPath, partitions: PARTITIONS, consumer, extra });
  workers.push(w);
  return w;
}

type Person = { id: string; name: string };
const alice = { id: 'u_alice', name: 'alice' };
const bob = { id: 'u_bob', name: 'bob' };
const carol = { id: 'u_carol', name: 'carol' };
const dave = { id: 'u_dave', name: 'dave' };
const erin = { id: 'u_erin', name: 'erin' };

let cids = 0;
const member = (room: string, action: MembershipEvent['action'], who: Person, state: { role?: Role; banned?: true; mutedUntil?: number } = {}, by: Person = who): MembershipEvent => ({
  kind: 'member', id: '', room, user: by, ts: 0, cid: `m${++cids}`, action, member: who, ...state,
});
const roomChange = (room: string, action: RoomChangeEvent['action'], state: { title?: string; topic?: string } = {}): RoomChangeEvent => ({
  kind: 'room', id: '', room, user: alice, ts: 0, cid: `r${++cids}`, action, roomKind: room.startsWith('p:') ? 'private' : 'public', ...state,
});

/**
 * What the membership scripts write (membership/member.lua): the room log entry (its id is the
 * event's id), then the ingest entry `room <room> id <id>` + the same fields. Sets each id and ts.
 */
async function produceChanges(client: Redis, k: Keys, entries: MembershipLogEntry[]): Promise<MembershipLogEntry[]> {
  for (const e of entries) {
    const fields = membershipFields(e);
    e.id = (await client.xadd(k.roomLog(e.room), '*', ...fields)) as string;
    e.ts = idTime(e.id);
    await client.xadd(k.ingestStreamOfRoom(e.room), '*', 'room', e.room, 'id', e.id, ...fields);
  }
  return entries;
}

/** A private room's first hour and a public room's joins and leaves. */
function history(): MembershipLogEntry[] {
  return [
    roomChange(PRIV, 'created', { title: 'Ops', topic: 'first' }),
    member(PRIV, 'joined', alice, { role: 'owner' }),
    member(PRIV, 'invited', bob, { role: 'member' }, alice),
    member(PRIV, 'invited', carol, { role: 'member' }, alice),
    member(PRIV, 'role', bob, { role: 'admin' }, alice),
    member(PRIV, 'muted', carol, { role: 'member', mutedUntil: 9_000_000_000_000 }, bob),
    member(PRIV, 'kicked', carol, { mutedUntil: 9_000_000_000_000 }, bob),
    roomChange(PRIV, 'topic', { title: 'Ops', topic: 'second' }),
    member(PRIV, 'banned', dave, { banned: true }, alice),
    member(LOBBY, 'joined', bob, { role: 'member' }),
    member(LOBBY, 'joined', erin, { role: 'member' }),
    member(LOBBY, 'left', erin),
  ];
}

/** The state `history()` leaves, checked through the store's reads. */
async function expectHistoryState(s: Store): Promise<void> {
  expect(await s.roomMeta(PRIV)).toEqual({
    name: PRIV, kind: 'private', title: 'Ops', topic: 'second', ownerId: alice.id, archived: false, memberCount: 2, lastMessageAt: null, messageCount: 0,
  });
  expect((await s.roomMembers(PRIV, 10)).map((m) => [m.username, m.role])).toEqual([['alice', 'owner'], ['bob', 'admin']]);
  expect(await s.memberState(PRIV, carol.id)).toEqual({ banned: false, mutedUntil: 9_000_000_000_000 });
  expect(await s.memberState(PRIV, dave.id)).toEqual({ banned: true });
  expect((await s.roomMembers(LOBBY, 10)).map((m) => m.id)).toEqual([bob.id]);
  expect((await s.myRooms(bob.id, 10)).map((r) => r.name)).toEqual([LOBBY, PRIV]); // lobby has a message
  expect(await s.myRooms(erin.id, 10)).toEqual([]);
}

const storedChanges = (dbPath: string): number => {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM member_events').get() as { n: number }).n;
  } finally {
    db.close();
  }
};
const metrics = async (w: RunningService) => (await fetch(`${w.adminUrl}/metrics`)).text();

describe('membership changes through the ingest streams', { timeout: 120_000 }, () => {
  it('member and room entries beside messages are applied once, also when a worker that applied half of them died before XACK', async () => {
    const s = await setup();
    const client = redis.client();
    for (const st of keys.allIngestStreams()) await client.xgroup('CREATE', st, INGEST_GROUP, '0', 'MKSTREAM');
    const changes = await produceChanges(client, keys, history());
    // after the changes: the lobby's activity (this message) is newer than bob's PRIV invite
    await produce(client, keys, [{ room: LOBBY, uid: alice.id, name: 'alice', text: 'welcome' }]);
    // A "worker" reads everything, applies every other change, and dies before XACK.
    for (const st of keys.allIngestStreams()) await client.xreadgroup('GROUP', INGEST_GROUP, 'ghost', 'COUNT', 1000, 'STREAMS', st, '>');
    const half = changes.filter((_, i) => i % 2 === 0);
    expect((await s.applyMembershipEvents(half)).applied).toBe(half.length);

    const w = await worker('rescuer', { INGEST_CLAIM_IDLE_MS: '200' });
    await waitFor(() => allAcked(client, keys), { timeoutMs: 30_000, what: 'ghost entries claimed, stored and acked' });
    expect(w.logs.some((l) => l.includes('claimed idle entries'))).toBe(true);
    await expectHistoryState(s);
    expect(storedChanges(tmp.dbPath)).toBe(changes.length);
    expect(await deadLetters(client, keys.deadLetter(0))).toEqual([]);
    expect(await deadLetters(client, keys.deadLetter(1))).toEqual([]);
    // what the store took per kind, newly applied or already held
    const text = await metrics(w);
    expect(text).toMatch(new RegExp(`aurora_ingestion_events_stored_total\\{kind="member"[^}]*\\} ${changes.filter((c) => c.kind === 'member').length}\\b`));
    expect(text).toMatch(new RegExp(`aurora_ingestion_events_stored_total\\{kind="room"[^}]*\\} ${changes.filter((c) => c.kind === 'room').length}\\b`));
    // the half the ghost applied are duplicates for the rescuer, the rest newly applied
    expect(text).toMatch(new RegExp(`aurora_ingestion_memberships_stored_total\\{result="applied"[^}]*\\} ${changes.length - half.length}\\b`));
    expect(text).toMatch(new RegExp(`aurora_ingestion_memberships_stored_total\\{result="duplicate"[^}]*\\} ${half.length}\\b`));
    expect(text).toMatch(/aurora_ingestion_messages_inserted_total(\{[^}]*\})? 1\b/);
  });

  it('a malformed member or room entry is dead-lettered with its reason; the entries around it are applied', async () => {
    const s = await setup();
    const client = redis.client();
    const P = keys.partitionOf(PRIV);
    await produceChanges(client, keys, [member(PRIV, 'joined', alice, { role: 'owner' })]);
    let seq = 0;
    const raw = (fields: string[]) => addRawEntry(client, keys, P, ['room', PRIV, 'id', `${Date.now()}-${++seq}`, ...fields]);
    const base = ['uid', alice.id, 'name', 'alice', 'cid', 'bad'];
    const unknownAction = await raw(['ev', 'member', 'act', 'promoted', ...base, 'mid', bob.id, 'mname', 'bob', 'role', 'admin']);
    const badRole = await raw(['ev', 'member', 'act', 'role', ...base, 'mid', bob.id, 'mname', 'bob', 'role', 'king']);
    const badKind = await raw(['ev', 'room', 'act', 'topic', ...base, 'rk', 'secret', 'topic', 'x']);
    await produceChanges(client, keys, [member(PRIV, 'invited', bob, { role: 'member' }, alice)]);

    const w = await worker('w1');
    await waitFor(() => allAcked(client, keys), { timeoutMs: 30_000, what: 'everything acked' });
    const byEntry = new Map((await deadLetters(client, keys.deadLetter(P))).map((d) => [d.entryId, d]));
    expect(byEntry.size).toBe(3);
    expect(byEntry.get(unknownAction)).toMatchObject({ reason: 'unknown member action', ev: 'member', act: 'promoted' });
    expect(byEntry.get(badRole)).toMatchObject({ reason: 'invalid role', role: 'king' });
    expect(byEntry.get(badKind)).toMatchObject({ reason: 'invalid room kind', rk: 'secret' });
    expect((await s.roomMembers(PRIV, 10)).map((m) => [m.id, m.role])).toEqual([[alice.id, 'owner'], [bob.id, 'member']]);
    expect(storedChanges(tmp.dbPath)).toBe(2);
    expect(await metrics(w)).toMatch(/aurora_ingestion_dead_lettered_total\{kind="invalid"[^}]*\} 3\b/);
  });

  it('a different change under a stored (room, id) is dead-lettered as id_conflict, never applied; a redelivery of the same one is not', async () => {
    const s = await setup();
    const client = redis.client();
    const P = keys.partitionOf(PRIV);
    const w = await worker('w1', { INGEST_BATCH_MS: '20' });
    const [bobJoins] = await produceChanges(client, keys, [member(PRIV, 'joined', bob, { role: 'member' })]);
    await waitFor(async () => (await s.memberState(PRIV, bob.id)).role === 'member', { timeoutMs: 20_000, what: 'join applied' });

    // What Redis hands out after losing a log's tail: bob's event id for carol's join.
    const reused = { ...bobJoins!, member: carol, user: carol, cid: 'c-carol' } as MembershipEvent;
    await addRawEntry(client, keys, P, ['room', PRIV, 'id', reused.id, ...membershipFields(reused)]);
    // and the same entry as bob's once more (a re-driven copy): a silent duplicate
    await addRawEntry(client, keys, P, ['room', PRIV, 'id', bobJoins!.id, ...membershipFields(bobJoins!)]);
    await waitFor(async () => (await allAcked(client, keys)) && (await deadLetters(client, keys.deadLetter(P))).length > 0, {
      timeoutMs: 20_000,
      what: 'conflict dead-lettered',
    });
    const dead = await deadLetters(client, keys.deadLetter(P));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ id: reused.id, mid: carol.id, cid: 'c-carol' });
    expect(dead[0]!.reason).toBe(
      `id_conflict: a different event is stored under ${PRIV} ${reused.id} (Redis reused the id after losing the room log's tail); this joined of member ${carol.id} (user ${carol.id}, cid c-carol) was not applied`,
    );
    expect(await s.memberState(PRIV, carol.id)).toEqual({ banned: false });
    expect((await s.roomMembers(PRIV, 10)).map((m) => m.id)).toEqual([bob.id]);
    const text = await metrics(w);
    expect(text).toMatch(/aurora_ingestion_id_conflicts_total(\{[^}]*\})? 1\b/);
    expect(text).toMatch(/aurora_ingestion_dead_lettered_total\{kind="id_conflict"[^}]*\} 1\b/);
  });
});
