// Issue 18 audit, part 1 — every Lua script the services define, run through its real TypeScript
// wrapper (the KEYS it builds) against a real 3-master Redis Cluster, in rooms / for users /
// on partitions of EVERY master. A script that works passes; a known break is an `it.fails`
// whose name says what fails and why (knownBreak: it goes red when fixed or when it breaks
// differently). The multi-key commands are audited in cross-slot-commands.test.ts.
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventScript } from '../../services/chat/event-script.js';
import { Presence } from '../../services/chat/presence.js';
import { createReadScript } from '../../services/chat/read-script.js';
import { createSendScript, type SendResult } from '../../services/chat/send-script.js';
import { createTypingScript } from '../../services/chat/typing.js';
import { removeIdleConsumers } from '../../services/ingestion/claimer.js';
import { ensureGroups } from '../../services/ingestion/streams.js';
import { trimStream } from '../../services/ingestion/trimmer.js';
import { rebuildAcls } from '../../services/shared/acl-rebuild.js';
import { loadConfig } from '../../services/shared/config.js';
import { INGEST_GROUP } from '../../services/shared/keys.js';
import { createMemberScript } from '../../services/shared/member-script.js';
import type { RoomAclSnapshot } from '../../services/shared/store/store-membership-types.js';
import type { Store } from '../../services/shared/store/store.js';
import { createLoginThrottle } from '../../services/users/login-throttle.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { keys, PARTITIONS, spreadOverMasters, type Spread } from './spread.js';

const log = pino({ level: 'silent' });
const config = loadConfig('chat', { PARTITIONS: String(PARTITIONS), REPLICA_ID: 'audit-replica' });
const alice = { id: 'alice', name: 'alice' };
const bob = { id: 'bob', name: 'bob' };

let cluster: TestRedisCluster;
let plain: Cluster;
/** The cluster client the script wrappers get (cast: they are typed for a single-node Redis). */
let r: Redis;
let spread: Spread;

beforeAll(async () => {
  cluster = await startRedisCluster();
  plain = cluster.client();
  r = cluster.client() as unknown as Redis;
  spread = await spreadOverMasters(cluster);
});
afterAll(async () => {
  await cluster?.stop();
});

const okId = (res: SendResult): string => {
  expect(res.kind).toBe('ok');
  return (res as { id: string }).id;
};

describe('chat scripts (services/chat/lua) through their wrappers, rooms on every master', () => {
  it('send/event/read wrappers on a plain Redis.Cluster: corkPerTurn (chat/scripts.ts) is a no-op there (a Cluster has no one socket to cork)', async () => {
    const send = createSendScript(plain as unknown as Redis, keys, config);
    const rooms = await spread.roomsFor((i) => `cork-${i}`);
    // one turn's sends to rooms of every master, as many sockets would make them
    const sent = await Promise.all(rooms.map((room, n) => send(room, alice, `hi ${n}`, `cork-${n}`)));
    expect(sent.map((res) => res.kind)).toEqual(rooms.map(() => 'ok'));
  });

  it('send.lua (send-script.ts): a message, a reply with @mention, and a DM — single-slot on every master', async () => {
    const send = createSendScript(r, keys, config);
    const dms = await spread.roomsFor((i) => `dm:alice:bob${i}`);
    for (const [i, room] of spread.publicRooms.entries()) {
      const parent = okId(await send(room, alice, 'hello', `s-${i}`));
      okId(await send(room, bob, 'hi @alice', `s-reply-${i}`, parent));
      expect(await plain.xlen(keys.roomLog(room))).toBe(2);
      expect(await plain.hget(keys.thread(room, parent), 'c')).toBe('1');
      const dm = dms[i]!;
      okId(await send(dm, alice, 'psst', `dm-${i}`));
      expect(await plain.xlen(keys.ingestStreamOfRoom(dm))).toBeGreaterThan(0);
    }
  });

  it('event.lua (event-script.ts): edit, react, and delete of a reply (its thread key) on every master', async () => {
    const send = createSendScript(r, keys, config);
    const event = createEventScript(r, keys, config);
    for (const [i, room] of spread.publicRooms.entries()) {
      const parent = okId(await send(room, alice, 'to edit', `e-${i}`));
      const reply = okId(await send(room, alice, 'a reply', `e-reply-${i}`, parent));
      expect((await event(room, alice, `e-edit-${i}`, { kind: 'edit', target: parent, text: 'edited' })).kind).toBe('ok');
      expect((await event(room, bob, `e-react-${i}`, { kind: 'react', target: parent, emoji: '👍', on: true })).kind).toBe('ok');
      expect((await event(room, alice, `e-del-${i}`, { kind: 'delete', target: reply })).kind).toBe('ok');
      expect(await plain.hget(keys.thread(room, parent), 'c')).toBe('0');
    }
  });

  it('read.lua (read-script.ts): a read position moves forward on every master', async () => {
    const send = createSendScript(r, keys, config);
    const read = createReadScript(r, keys, config);
    for (const [i, room] of spread.publicRooms.entries()) {
      const id = okId(await send(room, alice, 'read me', `rd-${i}`));
      const res = await read(room, bob, id);
      expect(res.kind).toBe('ok');
      expect(await plain.hget(keys.roomReads(room), bob.id)).toMatch(new RegExp(` ${id}$`));
    }
  });

  it('presence.lua (presence.ts): join, refresh and leave on every master', async () => {
    const presence = new Presence(r, keys, log, config);
    for (const room of spread.publicRooms) {
      expect((await presence.join(room, alice)).map((u) => u.id)).toEqual(['alice']);
      expect((await presence.join(room, bob)).map((u) => u.id).sort()).toEqual(['alice', 'bob']);
    }
    await presence.refresh(); // one script call per room: rooms of every master in one tick
    for (const room of spread.publicRooms) {
      await presence.leave(room, bob);
      expect((await presence.members(room)).map((u) => u.id)).toEqual(['alice']);
    }
  });

  it('typing.lua (typing.ts): published, then throttled, on every master', async () => {
    const typing = createTypingScript(r, keys, config, 60_000);
    for (const room of spread.publicRooms) {
      expect(await typing(room, alice, true)).toEqual({ kind: 'published' });
      expect((await typing(room, alice, true)).kind).toBe('throttled');
    }
  });
});

describe('shared and users scripts', () => {
  it('member.lua (member-script.ts): create a private room, invite, mute, kick — and send.lua checks that ACL — on every master', async () => {
    const member = createMemberScript(r, keys, config);
    const send = createSendScript(r, keys, config);
    for (const [i, room] of spread.privateRooms.entries()) {
      expect((await member(room, alice, { op: 'create', title: 'audit' }, `m-c-${i}`)).kind).toBe('ok');
      expect((await member(room, alice, { op: 'invite', target: bob }, `m-i-${i}`)).kind).toBe('ok');
      okId(await send(room, bob, 'thanks', `m-s-${i}`));
      expect((await member(room, alice, { op: 'mute', target: bob, seconds: 60 }, `m-m-${i}`)).kind).toBe('ok');
      expect((await send(room, bob, 'muted?', `m-s2-${i}`)).kind).toBe('muted');
      expect((await member(room, alice, { op: 'kick', target: bob }, `m-k-${i}`)).kind).toBe('ok');
      expect((await send(room, bob, 'still here?', `m-s3-${i}`)).kind).toBe('no_access');
    }
  });

  /** A store that only answers what rebuildAcls reads: the rooms given, one page. */
  const storeOf = (rooms: string[]): Store => {
    const acls: RoomAclSnapshot[] = rooms.map((room) => ({
      room, kind: 'private', topic: '', archived: false, banned: [], mutedNonMembers: [],
      members: [{ userId: 'carol', username: 'Carol', role: 'owner' }],
    }));
    return {
      roomAcls: async (after: string | undefined) => (after === undefined ? acls : []),
      roomSeqs: async (after: string | undefined) => (after === undefined ? rooms.map((room) => ({ room, lastSeq: 7 })) : []),
    } as unknown as Store;
  };

  it('acl-merge.lua (acl-rebuild.ts rebuildAcls): works while all rooms of a page live on ONE master', async () => {
    const rooms = await spread.roomsFor((i) => `p:aclsamemaster${String(i).padStart(4, '0')}`);
    const oneMaster = [rooms[0]!, spread.privateRooms[0]!];
    await rebuildAcls(r, keys, storeOf(oneMaster), log);
    for (const room of oneMaster) {
      expect(await plain.hget(keys.roomAcl(room), 'r:carol')).toBe('owner');
      expect(Number(await plain.get(keys.roomSeq(room)))).toBeGreaterThanOrEqual(7);
    }
  });

  it('acl-rebuild.ts rebuildAcls over rooms of several masters: its page of EVALs (and restoreRoomSeqs) routed room by room', async () => {
    expect(await rebuildAcls(r, keys, storeOf(spread.privateRooms), log)).toEqual({ rooms: spread.privateRooms.length });
    for (const room of spread.privateRooms) {
      expect(await plain.hget(keys.roomAcl(room), 'r:carol')).toBe('owner');
      expect(Number(await plain.get(keys.roomSeq(room)))).toBeGreaterThanOrEqual(7);
    }
  });

  it('login-account.lua (users/login-throttle.ts) with its fixed-window MULTI: usernames on every master', async () => {
    const throttle = createLoginThrottle(r, keys, { maxFailures: 10, windowSec: 60, accountFreeFailures: 2, accountMaxDelaySec: 60 });
    const names = await spread.namesFor((n) => keys.loginAccountFailures(n), 'audit-user-');
    for (const name of names) {
      await throttle.attempt(name, '10.0.0.1');
      await throttle.attempt(name, '10.0.0.2');
      await expect(throttle.attempt(name, '10.0.0.3')).rejects.toMatchObject({ code: 'too_many_attempts' });
      await throttle.succeeded(name, '10.0.0.3');
      await throttle.attempt(name, '10.0.0.4'); // reset by the success
    }
  });
});

describe('ingestion and scripts/ Lua on the partitions of every master', () => {
  it('remove-idle-consumers.lua (ingestion/claimer.ts): removes an idle consumer on every master', async () => {
    await ensureGroups(r, keys.allIngestStreams(), INGEST_GROUP);
    for (const p of spread.partitionPerMaster) {
      const stream = keys.ingestStream(p);
      // a dead worker's name with nothing pending (the sends above left entries: no read here)
      await plain.xgroup('CREATECONSUMER', stream, INGEST_GROUP, 'gone-worker');
      expect(await removeIdleConsumers(r, { stream, group: INGEST_GROUP, self: 'me', minIdleMs: 0 })).toContain('gone-worker');
    }
  });

  it('trim-lagging.lua (ingestion/trimmer.ts trimStream): trims past a lagging group on every master', async () => {
    for (const p of spread.partitionPerMaster) {
      const stream = keys.ingestStream(p);
      await plain.del(stream);
      for (let i = 0; i < 3; i++) await plain.xadd(stream, '*', 'n', String(i));
      await plain.xgroup('CREATE', stream, INGEST_GROUP, '0');
      await plain.xgroup('CREATE', stream, 'laggard', '0');
      const read = (await plain.xreadgroup('GROUP', INGEST_GROUP, 'w', 'COUNT', 10, 'STREAMS', stream, '>')) as [string, [string][]][];
      await plain.xack(stream, INGEST_GROUP, ...read[0]![1].map(([id]) => id));
      const trimmed: number[] = [];
      const left = await trimStream(r, stream, undefined, INGEST_GROUP, {
        ownGroup: INGEST_GROUP, maxOtherGroupLag: 0, onUnreadTrimmed: (_s, _g, n) => trimmed.push(n),
      });
      expect(left).toBe(0);
      expect(trimmed).toEqual([3]);
    }
  });

  it('redrive-dead-letter.lua (cli dead-letters redrive): dead letter → ingest stream of its partition, on every master', async () => {
    const lua = readFileSync(new URL('../../services/cli/lua/redrive-dead-letter.lua', import.meta.url), 'utf8');
    for (const p of spread.partitionPerMaster) {
      const dl = await plain.xadd(keys.deadLetter(p), '*', 'reason', 'audit', 'room', 'x', 'id', '1-0');
      const id = (await plain.eval(lua, 2, keys.deadLetter(p), keys.ingestStream(p), dl!, 'room', 'x', 'id', '1-0')) as string | null;
      expect(id).toMatch(/^\d+-\d+$/);
      expect(await plain.xlen(keys.deadLetter(p))).toBe(0);
    }
  });
});
