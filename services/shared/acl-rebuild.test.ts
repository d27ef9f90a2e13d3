// The ACL rebuild against a real redis-server and a real SQLite store: after Redis lost its data
// the ACLs come back from the store (merged with what joined since), a replace makes them the
// store's alone, and the watcher rebuilds by itself once the marker is gone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { waitFor } from '../../test/helpers/ports.js';
import { rebuildAcls, watchAcls } from './acl-rebuild.js';
import { loadConfig } from './config.js';
import { keysFor } from './keys.js';
import { createMemberScript, type MemberScript } from './member-script.js';
import { isMembershipLogEntry, type MembershipLogEntry } from './membership.js';
import { logEntryOf } from './message.js';
import { newMembersOnlyRoom } from './rooms.js';
import { createStore, type Store } from './store/index.js';

const log = pino({ level: 'silent' });
const keys = keysFor(4);
const config = loadConfig('users', { PARTITIONS: '4' });
let redis: TestRedis;
let r: Redis;
let store: Store;
let member: MemberScript;
let dir: string;
const owner = { id: 'own', name: 'olga' };
const bob = { id: 'bob', name: 'bob' };
const eve = { id: 'eve', name: 'eve' };

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  dir = mkdtempSync(join(tmpdir(), 'aurora-acl-'));
  store = await createStore({ SQLITE_PATH: join(dir, 'a.db'), MONGO_URL: undefined }, log);
  member = createMemberScript(r, keys, config);
});
afterAll(async () => {
  await store?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Everything on the room logs, applied to the store (what ingestion does). */
async function ingestAll(rooms: string[]): Promise<void> {
  const events: MembershipLogEntry[] = [];
  for (const room of rooms) {
    for (const [id, fields] of (await r.xrange(keys.roomLog(room), '-', '+')) as [string, string[]][]) {
      const { entry } = logEntryOf(room, id, fields);
      if (isMembershipLogEntry(entry)) events.push(entry);
    }
  }
  await store.applyMembershipEvents(events);
}

describe('ACL rebuild', () => {
  it('puts the ACLs back after a data loss, merged with joins since; replace drops what the store does not have', async () => {
    const priv = newMembersOnlyRoom('private');
    let n = 0;
    const run = (room: string, actor: typeof owner, op: Parameters<MemberScript>[2]) => member(room, actor, op, `c${++n}`);
    await run(priv, owner, { op: 'create', title: 'T' });
    await run(priv, owner, { op: 'invite', target: bob });
    await run(priv, owner, { op: 'mute', target: bob, seconds: 600 });
    await run('pub', owner, { op: 'create' });
    await run('pub', eve, { op: 'join' });
    await run('pub', owner, { op: 'ban', target: eve });
    await run('pub', owner, { op: 'archive' });
    await ingestAll([priv, 'pub']);
    const before = { priv: await r.hgetall(keys.roomAcl(priv)), pub: await r.hgetall(keys.roomAcl('pub')) };

    await r.flushall(); // the data loss
    // a join in the gap (eve is banned, but Redis does not know it any more)
    expect((await run('pub', eve, { op: 'join' })).kind).toBe('ok');
    // (the store may list more rooms, e.g. `general`, which it always knows)
    expect((await rebuildAcls(r, keys, store, log)).rooms).toBeGreaterThanOrEqual(2);
    expect(await r.hgetall(keys.roomAcl(priv))).toEqual(before.priv);
    // the ban is back and takes the role the gap join gave
    expect(await r.hgetall(keys.roomAcl('pub'))).toEqual(before.pub);
    expect(await r.exists(keys.aclsLoaded())).toBe(1);

    // an old snapshot: bob was kicked since, but the restored ACL still lists him
    await run(priv, owner, { op: 'kick', target: bob });
    await ingestAll([priv]);
    await r.hset(keys.roomAcl(priv), 'r:bob', 'member');
    await rebuildAcls(r, keys, store, log);
    expect(await r.hget(keys.roomAcl(priv), 'r:bob')).toBe('member'); // a merge keeps it
    await rebuildAcls(r, keys, store, log, { replace: true });
    expect(await r.hget(keys.roomAcl(priv), 'r:bob')).toBeNull();
    expect(await r.hget(keys.roomAcl(priv), 'n')).toBe('1');
  });

  it('the watcher rebuilds by itself when the marker is gone', async () => {
    const w = watchAcls(r, keys, store, log);
    try {
      await waitFor(async () => (await r.exists(keys.aclsLoaded())) === 1, { what: 'first rebuild' });
      await r.flushall();
      await w.check();
      expect(await r.exists(keys.aclsLoaded())).toBe(1);
      expect(await r.hget(keys.roomAcl('pub'), 'b:eve')).toBe('1');
    } finally {
      w.stop();
    }
  });
});
