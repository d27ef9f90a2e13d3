// `cli membership rebuild [--replace]` (services/cli/membership.ts; `npm run rebuild-acls`) as an
// operator runs it, against a real redis-server and a real SQLite store: after Redis lost its
// data the room ACLs come back from the store; after an OLD snapshot, --replace drops a member
// the store no longer has where a plain rebuild (a merge) keeps them. The rebuild itself is
// tested in services/shared/acl-rebuild.test.ts; this is the command around it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/shared/config.js';
import { keysFor } from '../../services/shared/keys.js';
import { createMemberScript, type MemberScript } from '../../services/shared/member-script.js';
import { isMembershipLogEntry, type MembershipLogEntry } from '../../services/shared/membership.js';
import { logEntryOf } from '../../services/shared/message.js';
import { newMembersOnlyRoom } from '../../services/shared/rooms.js';
import { createStore, type Store } from '../../services/shared/store/index.js';
import { runCli } from '../helpers/cli.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const PARTITIONS = 2;
const keys = keysFor(PARTITIONS);
const owner = { id: 'own', name: 'olga' };
const bob = { id: 'bob', name: 'bob' };

let redis: TestRedis;
let r: Redis;
let dir: string;
let store: Store;
let member: MemberScript;
let env: Record<string, string>;

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  dir = mkdtempSync(join(tmpdir(), 'aurora-cli-acl-'));
  env = { REDIS_URL: redis.url, PARTITIONS: String(PARTITIONS), SQLITE_PATH: join(dir, 'aurora.db'), LOG_LEVEL: 'info' };
  store = await createStore({ SQLITE_PATH: env.SQLITE_PATH!, MONGO_URL: undefined }, pino({ level: 'silent' }));
  member = createMemberScript(r, keys, loadConfig('ingestion', { PARTITIONS: String(PARTITIONS) }));
});

afterAll(async () => {
  await store?.close();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the ingestion workers do: the room's membership log applied to the store. */
async function ingest(room: string): Promise<void> {
  const events: MembershipLogEntry[] = [];
  for (const [id, fields] of (await r.xrange(keys.roomLog(room), '-', '+')) as [string, string[]][]) {
    const { entry } = logEntryOf(room, id, fields);
    if (isMembershipLogEntry(entry)) events.push(entry);
  }
  await store.applyMembershipEvents(events);
}

describe('cli membership rebuild', { timeout: 60_000 }, () => {
  it('puts the ACLs back from the store; --replace makes them the store\'s alone', async () => {
    const room = newMembersOnlyRoom('private');
    let n = 0;
    await member(room, owner, { op: 'create', title: 'T' }, `c${++n}`);
    await member(room, owner, { op: 'invite', target: bob }, `c${++n}`);
    await ingest(room);
    const acl = await r.hgetall(keys.roomAcl(room));
    expect(acl['r:bob']).toBe('member');

    await r.flushall(); // Redis lost its data
    const merged = await runCli(['membership', 'rebuild'], env);
    expect(merged).toMatchObject({ code: 0, stderr: '' });
    expect(merged.stdout).toMatch(/^rebuilt the ACLs of \d+ rooms \(merged with what Redis had\)\n$/);
    expect(await r.hgetall(keys.roomAcl(room))).toEqual(acl);

    // An old snapshot: bob was kicked since (the store knows), the restored ACL still lists him.
    await member(room, owner, { op: 'kick', target: bob }, `c${++n}`);
    await ingest(room);
    await r.hset(keys.roomAcl(room), 'r:bob', 'member');
    expect((await runCli(['membership', 'rebuild'], env)).code).toBe(0);
    expect(await r.hget(keys.roomAcl(room), 'r:bob')).toBe('member'); // a merge keeps him
    const replaced = await runCli(['membership', 'rebuild', '--replace'], env);
    expect(replaced).toMatchObject({ code: 0, stderr: '' });
    expect(replaced.stdout).toContain('(replaced: each is the store\'s alone)');
    expect(await r.hget(keys.roomAcl(room), 'r:bob')).toBeNull();
  });

  it('bad usage exits 2 and a Redis that cannot be reached exits 1, each with one line on stderr', async () => {
    for (const args of [['membership'], ['membership', 'rebuild', '--replace-all'], ['membership', 'rebuild', 'now'], ['membership', 'repair']]) {
      const run = await runCli(args, env);
      expect(run, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(run.stderr).toMatch(/^membership: .+; usage: membership rebuild \[--replace\]\n$/);
    }
    const down = await runCli(['membership', 'rebuild'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(down).toMatchObject({ code: 1, stdout: '' });
    expect(down.stderr).toMatch(/^membership: failed: cannot connect to Redis \(REDIS_URL\): [^\n]+\n$/);
  });
});
