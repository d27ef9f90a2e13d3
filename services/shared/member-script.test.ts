// member.lua against a real redis-server: who may do what, the ACL it leaves, and the events it
// appends (room log, ingest stream, room channel, user channel) with the state after them.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { waitFor } from '../../test/helpers/ports.js';
import { logEntryFrame } from '../chat/frames.js';
import { loadConfig } from './config.js';
import { keysFor } from './keys.js';
import { createMemberScript, type MemberOp, type MemberResult, type MemberScript } from './member-script.js';
import { parseIngestEntry, type ChatUser } from './message.js';
import { newMembersOnlyRoom } from './rooms.js';

let redis: TestRedis;
let r: Redis;
let sub: Redis;
let member: MemberScript;
const keys = keysFor(4);
const config = loadConfig('users', { PARTITIONS: '4', ROOM_CREATE_MAX: '3' });
const owner = { id: 'own', name: 'olga' };
const admin = { id: 'adm', name: 'adam' };
const bob = { id: 'bob', name: 'bob' };
const eve = { id: 'eve', name: 'eve' };
let seq = 0;
const run = (room: string, actor: ChatUser, op: MemberOp): Promise<MemberResult> => member(room, actor, op, `c${++seq}`);

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  sub = redis.client();
  member = createMemberScript(r, keys, config);
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  await r.flushall();
});

/**
 * Leaves both subscriptions. Redis 7.0 counts shard and classic subscriptions apart: the reply
 * to the SUNSUBSCRIBE says 0 while the classic one is still on, and ioredis then leaves
 * subscriber mode too early — harmless here, nothing is published in between.
 */
async function unsubscribeAll(roomChannel: string, userChannel: string, listener: (ch: string, payload: string) => void): Promise<void> {
  await sub.sunsubscribe(roomChannel);
  await sub.unsubscribe(userChannel);
  sub.off('smessage', listener).off('message', listener);
}

async function logFrames(room: string): Promise<Record<string, unknown>[]> {
  const entries = (await r.xrange(keys.roomLog(room), '-', '+')) as [string, string[]][];
  return entries.map(([id, fields]) => JSON.parse(logEntryFrame(room, id, fields).json) as Record<string, unknown>);
}

describe('member.lua', () => {
  it('creates a private room: created + the owner joined, on the log, the ingest stream, the room and user channels', async () => {
    const room = newMembersOnlyRoom('private');
    const got: [string, string][] = [];
    const listener = (ch: string, payload: string) => got.push([ch, payload]);
    // the room channel is a shard channel (SPUBLISH), the user channel classic (PUBLISH)
    sub.on('smessage', listener).on('message', listener);
    await sub.ssubscribe(keys.roomChannel(room));
    await sub.subscribe(keys.userChannel(owner.id));
    const res = await run(room, owner, { op: 'create', title: 'Plans "Q3"', topic: 'roadmap' });
    expect(res.kind).toBe('ok');
    const frames = await logFrames(room);
    expect(frames).toMatchObject([
      { type: 'event', kind: 'room', room, action: 'created', roomKind: 'private', title: 'Plans "Q3"', topic: 'roadmap', user: owner },
      { type: 'event', kind: 'member', room, action: 'joined', member: owner, role: 'owner' },
    ]);
    await waitFor(() => got.length === 3, { timeoutMs: 2000 });
    // Published bytes are what logEntryFrame rebuilds (join replay and recovery are byte-identical).
    const log = (await r.xrange(keys.roomLog(room), '-', '+')) as [string, string[]][];
    expect(got.filter(([ch]) => ch === keys.roomChannel(room)).map(([, p]) => p)).toEqual(log.map(([id, f]) => logEntryFrame(room, id, f).json));
    expect(got.filter(([ch]) => ch === keys.userChannel(owner.id)).map(([, p]) => JSON.parse(p).action)).toEqual(['joined']);
    const ingest = (await r.xrange(keys.ingestStreamOfRoom(room), '-', '+')) as [string, string[]][];
    expect(ingest.map(([, f]) => parseIngestEntry(f))).toMatchObject([
      { kind: 'room', action: 'created', title: 'Plans "Q3"', topic: 'roadmap' },
      { kind: 'member', action: 'joined', member: owner, role: 'owner' },
    ]);
    expect(await r.hgetall(keys.roomAcl(room))).toEqual({ k: 'private', n: '1', 'r:own': 'owner', 'u:olga': 'own' });
    expect((await run(room, owner, { op: 'create' })).kind).toBe('exists');
    await unsubscribeAll(keys.roomChannel(room), keys.userChannel(owner.id), listener);
  });

  it('keeps a private room invisible: a non-member gets not_found for it and for a room that does not exist', async () => {
    const room = newMembersOnlyRoom('private');
    await run(room, owner, { op: 'create' });
    const ghost = newMembersOnlyRoom('private');
    for (const op of [{ op: 'join' }, { op: 'leave' }, { op: 'topic', topic: 'x' }, { op: 'invite', target: eve }] as MemberOp[]) {
      expect((await run(room, eve, op)).kind).toBe('not_found');
      expect((await run(ghost, eve, op)).kind).toBe('not_found');
    }
    // Members-only rooms are entered by invitation only; an invited member's join is a no-op.
    expect((await run(room, owner, { op: 'invite', target: bob })).kind).toBe('ok');
    expect((await run(room, bob, { op: 'join' })).kind).toBe('unchanged');
    // a plain member of a private room cannot invite
    expect((await run(room, bob, { op: 'invite', target: eve })).kind).toBe('forbidden');
  });

  it('public rooms: the first join creates (capped), joins are idempotent, bans keep the banned out', async () => {
    expect((await run('lobby', bob, { op: 'join' })).kind).toBe('ok');
    expect((await run('lobby', bob, { op: 'join' })).kind).toBe('unchanged');
    expect(await r.hgetall(keys.roomAcl('lobby'))).toEqual({ k: 'public', n: '1', 'r:bob': 'member', 'u:bob': 'bob' });
    // nobody owns a room made by joining it: there is nobody to moderate it
    expect((await run('lobby', bob, { op: 'kick', target: eve })).kind).toBe('forbidden');
    await run('made', owner, { op: 'create' });
    await run('made', admin, { op: 'join' });
    await run('made', owner, { op: 'role', target: admin, role: 'admin' });
    await run('made', eve, { op: 'join' });
    expect((await run('made', admin, { op: 'ban', target: eve })).kind).toBe('ok');
    expect((await run('made', eve, { op: 'join' })).kind).toBe('banned');
    expect((await logFrames('made')).at(-1)).toMatchObject({ action: 'banned', member: eve, banned: true });
    expect((await run('made', admin, { op: 'unban', target: eve })).kind).toBe('ok');
    expect((await run('made', eve, { op: 'join' })).kind).toBe('ok');
    // ROOM_CREATE_MAX = 3 per (user, partition), as for sends: eve creates three in one partition
    const names = Array.from({ length: 40 }, (_, i) => `e${i}`).filter((n) => keys.partitionOf(n) === keys.partitionOf('e0'));
    for (const name of names.slice(0, 3)) expect((await run(name, eve, { op: 'join' })).kind).toBe('ok');
    expect((await run(names[3]!, eve, { op: 'join' })).kind).toBe('room_rate');
    // joining a room that exists is no creation
    expect((await run('lobby', eve, { op: 'join' })).kind).toBe('ok');
  });

  it('ranks: admins moderate members, never the owner or each other; only the owner changes roles and transfers', async () => {
    const room = 'ranked';
    await run(room, owner, { op: 'create' });
    for (const u of [admin, bob, eve]) await run(room, u, { op: 'join' });
    expect((await run(room, admin, { op: 'role', target: bob, role: 'admin' })).kind).toBe('forbidden');
    expect((await run(room, owner, { op: 'role', target: admin, role: 'admin' })).kind).toBe('ok');
    expect((await run(room, owner, { op: 'role', target: bob, role: 'admin' })).kind).toBe('ok');
    expect((await run(room, admin, { op: 'kick', target: bob })).kind).toBe('forbidden');
    expect((await run(room, admin, { op: 'kick', target: owner })).kind).toBe('forbidden');
    expect((await run(room, eve, { op: 'kick', target: bob })).kind).toBe('forbidden');
    expect((await run(room, admin, { op: 'mute', target: eve, seconds: 60 })).kind).toBe('ok');
    const muted = (await logFrames(room)).at(-1)!;
    expect(muted).toMatchObject({ action: 'muted', member: eve, role: 'member' });
    expect(muted.mutedUntil).toBeGreaterThan(Date.now() + 55_000);
    expect((await run(room, admin, { op: 'kick', target: eve })).kind).toBe('ok');
    expect((await logFrames(room)).at(-1)).toMatchObject({ action: 'kicked', member: eve });
    expect((await logFrames(room)).at(-1)).not.toHaveProperty('role');
    expect((await run(room, admin, { op: 'kick', target: eve })).kind).toBe('not_member');
    // the owner cannot leave others behind; a transfer makes them an admin
    expect((await run(room, owner, { op: 'leave' })).kind).toBe('owner_must_transfer');
    const t = await run(room, owner, { op: 'role', target: bob, role: 'owner' });
    expect(t).toMatchObject({ kind: 'ok', secondId: expect.any(String) });
    expect((await logFrames(room)).slice(-2)).toMatchObject([
      { action: 'role', member: bob, role: 'owner' },
      { action: 'role', member: owner, role: 'admin' },
    ]);
    expect((await run(room, owner, { op: 'leave' })).kind).toBe('ok');
    expect(await r.hget(keys.roomAcl(room), 'n')).toBe('2');
  });

  it('archived rooms are read only; groups cap at GROUP_MAX_MEMBERS and have no moderators', async () => {
    await run('arch', owner, { op: 'create' });
    await run('arch', bob, { op: 'join' });
    expect((await run('arch', bob, { op: 'archive' })).kind).toBe('forbidden');
    expect((await run('arch', owner, { op: 'archive' })).kind).toBe('ok');
    expect((await run('arch', owner, { op: 'archive' })).kind).toBe('unchanged');
    expect((await run('arch', eve, { op: 'join' })).kind).toBe('archived');
    expect((await run('arch', owner, { op: 'topic', topic: 'x' })).kind).toBe('archived');
    expect((await run('arch', owner, { op: 'unarchive' })).kind).toBe('ok');
    expect((await run('arch', owner, { op: 'topic', topic: 'back' })).kind).toBe('ok');
    expect((await logFrames('arch')).at(-1)).toMatchObject({ kind: 'room', action: 'topic', topic: 'back' });

    const g = newMembersOnlyRoom('group');
    await run(g, owner, { op: 'create' });
    for (let i = 1; i < 10; i++) expect((await run(g, owner, { op: 'invite', target: { id: `u${i}`, name: `u${i}` } })).kind).toBe('ok');
    expect((await run(g, owner, { op: 'invite', target: eve })).kind).toBe('full');
    expect((await run(g, owner, { op: 'kick', target: { id: 'u1', name: 'u1' } })).kind).toBe('forbidden');
    expect((await run(g, { id: 'u2', name: 'u2' }, { op: 'topic', topic: 'friends' })).kind).toBe('ok');
  });
});

describe('member.lua automute', () => {
  it('mutes a member as the system user, without a rank, once; not a non-member nor in a room without an ACL', async () => {
    const { SYSTEM_USER } = await import('./member-script.js');
    await run('flood', owner, { op: 'create' });
    await run('flood', bob, { op: 'join' });
    const r1 = await member('flood', SYSTEM_USER, { op: 'automute', target: bob, seconds: 300 }, 'a1');
    expect(r1.kind).toBe('ok');
    const ev = (await logFrames('flood')).at(-1)!;
    expect(ev).toMatchObject({ kind: 'member', action: 'muted', user: SYSTEM_USER, member: bob, role: 'member' });
    expect(ev.mutedUntil).toBeGreaterThan(Date.now() + 290_000);
    expect((await member('flood', SYSTEM_USER, { op: 'automute', target: bob, seconds: 300 }, 'a2')).kind).toBe('unchanged');
    expect((await member('flood', SYSTEM_USER, { op: 'automute', target: eve, seconds: 300 }, 'a3')).kind).toBe('not_member');
    expect((await member('wave1-room', SYSTEM_USER, { op: 'automute', target: eve, seconds: 300 }, 'a4')).kind).toBe('not_member');
    // and a plain member cannot use it
    expect((await run('flood', bob, { op: 'automute', target: owner, seconds: 300 })).kind).not.toBe('ok');
  });
});

describe('member.lua in big rooms', () => {
  it('logs and queues a join into a room past PRESENCE_EVENTS_MAX_MEMBERS but publishes it only to the joiner', async () => {
    const small = createMemberScript(r, keys, { ...config, PRESENCE_EVENTS_MAX_MEMBERS: 2 });
    const got: [string, string][] = [];
    const listener = (ch: string, payload: string) => got.push([ch, JSON.parse(payload).member.id]);
    sub.on('smessage', listener).on('message', listener);
    await sub.ssubscribe(keys.roomChannel('big'));
    await sub.subscribe(keys.userChannel('u3'));
    for (let i = 1; i <= 3; i++) expect((await small('big', { id: `u${i}`, name: `u${i}` }, { op: 'join' }, `b${i}`)).kind).toBe('ok');
    await waitFor(() => got.length === 3, { timeoutMs: 2000 });
    // u1 and u2 announced to the room; u3 (the third member) only on u3's own channel
    expect(got).toEqual([
      [keys.roomChannel('big'), 'u1'],
      [keys.roomChannel('big'), 'u2'],
      [keys.userChannel('u3'), 'u3'],
    ]);
    expect((await logFrames('big')).map((f) => (f.member as { id: string }).id)).toEqual(['u1', 'u2', 'u3']);
    await unsubscribeAll(keys.roomChannel('big'), keys.userChannel('u3'), listener);
  });
});
