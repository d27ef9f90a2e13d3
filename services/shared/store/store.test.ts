// Runs the one contract suite against every store implementation: SQLite always (a fresh temp
// file per test), MongoDB when MONGO_URL points at a real server (a unique database per test,
// dropped after). Plus what only SQLite can show here: the file's pragmas, the factory, a
// locked database rejecting, and insert throughput.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { mongo } from 'mongoose';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore, type Store } from './index.js';
import { openSqliteStore } from './store-sqlite.js';
import { msg, storeContract } from './store.contract.js';
import { ev } from './store.contract-events.js';
import { attentionContract } from './store.contract-attention.js';
import { filesContract, sqliteFilesUpgrade } from './store.contract-files.js';
import { membershipContract } from './store.contract-membership.js';
import { searchContract, sqliteSearchSpecifics } from './store.contract-search.js';
import { profilesContract } from './store.contract-profiles.js';
import { deletionContract } from './store.contract-deletion.js';
import { freePort } from '../../../test/helpers/ports.js';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'aurora-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `t${++n}`, 'aurora.db');

storeContract('SQLite', () => createStore({ SQLITE_PATH: freshPath(), MONGO_URL: undefined }, log));
membershipContract('SQLite', () => createStore({ SQLITE_PATH: freshPath(), MONGO_URL: undefined }, log));
attentionContract('SQLite', () => createStore({ SQLITE_PATH: freshPath(), MONGO_URL: undefined }, log));
filesContract('SQLite', () => createStore({ SQLITE_PATH: freshPath(), MONGO_URL: undefined }, log));
searchContract('SQLite', () => createStore({ SQLITE_PATH: freshPath(), MONGO_URL: undefined }, log));
profilesContract('SQLite', () => createStore({ SQLITE_PATH: freshPath(), MONGO_URL: undefined }, log));
deletionContract('SQLite', () => createStore({ SQLITE_PATH: freshPath(), MONGO_URL: undefined }, log));

const MONGO_URL = process.env.MONGO_URL;
if (!MONGO_URL) {
  // The default reporter only counts skips; this line makes the missing MongoDB run visible.
  process.stderr.write(
    '\n*** MongoDB store contract SKIPPED: MONGO_URL is not set (no MongoDB server can be installed on this machine).\n' +
      '*** Run it with MONGO_URL=mongodb://HOST:27017/aurora_test ./run.sh test\n\n',
  );
}
describe.skipIf(!MONGO_URL)(
  'MongoDB store contract — SKIPPED: set MONGO_URL to run against a real MongoDB (none can be installed on this machine)',
  () => {
    const stores = new Map<Store, string>();
    const open = async () => {
      const { openMongoStore } = await import('./store-mongo-open.js');
      const dbName = `aurora_test_${Date.now()}_${randomBytes(4).toString('hex')}`;
      const store = await openMongoStore(MONGO_URL!, log, { dbName });
      stores.set(store, dbName);
      return store;
    };
    const drop = async (store: Store) => {
      const { dropMongoDatabase } = await import('./store-mongo-open.js');
      await store.close();
      await dropMongoDatabase(MONGO_URL!, stores.get(store)!);
      stores.delete(store);
    };
    storeContract('MongoDB', open, drop);
    membershipContract('MongoDB', open, drop);
    attentionContract('MongoDB', open, drop);
    filesContract('MongoDB', open, drop);
    searchContract('MongoDB', open, drop);
    profilesContract('MongoDB', open, drop);
    deletionContract('MongoDB', open, drop);
  },
);

describe('SQLite store specifics', () => {
  it('creates the parent directory and opens the file in WAL mode with the schema', async () => {
    const path = freshPath();
    const store = await createStore({ SQLITE_PATH: path, MONGO_URL: undefined }, log);
    expect(store.kind).toBe('sqlite');
    await store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()).toEqual([
      'attachments',
      'changes',
      'events',
      'member_events',
      'memberships',
      'mentions',
      // the search index (FTS5) and its shadow tables
      'message_fts',
      'message_fts_config',
      'message_fts_data',
      'message_fts_docsize',
      'message_fts_idx',
      'messages',
      'notifications',
      'reaction_summary',
      'reactions',
      'refresh_tokens',
      'rooms',
      'search_docs',
      'threads',
      'user_rooms',
      'users',
    ]);
    raw.close();
  });

  it('refuses a refresh token for a user that does not exist (foreign keys are on)', async () => {
    const store = await createStore({ SQLITE_PATH: freshPath(), MONGO_URL: undefined }, log);
    const record = { tokenHash: 'a'.repeat(64), userId: 'missinguser1', familyId: 'f', expiresAt: Date.now() + 1000 };
    await expect(store.saveRefreshToken(record)).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' });
    await store.close();
  });

  it('reopening an existing file keeps its data (schema creation is idempotent)', async () => {
    const path = freshPath();
    const a = await createStore({ SQLITE_PATH: path, MONGO_URL: undefined }, log);
    const u = await a.createUser({ username: 'persist', passwordHash: 'h' });
    await a.insertMessages([msg('general', '10-0')]);
    await a.close();
    const b = await createStore({ SQLITE_PATH: path, MONGO_URL: undefined }, log);
    expect(await b.findUserById(u.id)).toEqual(u);
    expect(await b.getRoom('general')).toEqual({ name: 'general', lastMessageAt: 10, messageCount: 1 });
    await b.close();
  });

  it('opens a file written by the schema before room events (and membership), keeps its rows and upgrades it in place', async () => {
    const path = freshPath();
    mkdirSync(dirname(path), { recursive: true });
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    // the tables exactly as the version before room events created them
    old.exec(`
      CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, family_id TEXT NOT NULL,
        expires_at INTEGER NOT NULL, used_at INTEGER, revoked_at INTEGER) WITHOUT ROWID;
      CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
      CREATE TABLE messages (room TEXT NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL,
        id TEXT NOT NULL, user_id TEXT NOT NULL, user_name TEXT NOT NULL, text TEXT NOT NULL,
        ts INTEGER NOT NULL, cid TEXT NOT NULL, PRIMARY KEY (room, ms, seq)) WITHOUT ROWID;
      CREATE TABLE rooms (name TEXT PRIMARY KEY, last_message_at INTEGER,
        message_count INTEGER NOT NULL DEFAULT 0, member_a TEXT, member_b TEXT);
      CREATE INDEX rooms_member_a ON rooms(member_a) WHERE member_a IS NOT NULL;
      CREATE INDEX rooms_member_b ON rooms(member_b) WHERE member_b IS NOT NULL;
    `);
    const old1 = msg('general', '10-0', 'stored before the upgrade');
    old.prepare('INSERT INTO messages VALUES (?, 10, 0, ?, ?, ?, ?, 10, ?)').run('general', old1.id, old1.user.id, old1.user.name, old1.text, old1.cid);
    old.prepare("INSERT INTO rooms (name, last_message_at, message_count) VALUES ('general', 10, 1)").run();
    old.prepare("INSERT INTO users VALUES ('oldUser00001', 'olduser', 'h', 5)").run();
    old.prepare("INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES ('t1', 'oldUser00001', 'fam-old', ?)").run(Date.now() + 60_000);
    old.close();

    const store = await openSqliteStore(path, log);
    expect(await store.messagesBefore('general', undefined, 10)).toEqual([old1]);
    // users of an older file are enabled, and can be disabled (their tokens revoked)
    expect(await store.findUserById('oldUser00001')).toEqual({ id: 'oldUser00001', username: 'olduser', passwordHash: 'h', createdAt: 5, disabled: false, dnd: false });
    expect(await store.setUserDisabled('oldUser00001', true)).toEqual({ found: true, families: ['fam-old'] });
    expect(await store.setUserDisabled('oldUser00001', false)).toEqual({ found: true, families: [] });
    expect(await store.getRoom('general')).toEqual({ name: 'general', lastMessageAt: 10, messageCount: 1 });
    // the old room row gets its kind from its name and its preview from the stored messages
    expect(await store.publicRooms('', 10)).toEqual([
      { name: 'general', kind: 'public', topic: '', archived: false, memberCount: 0, lastMessageAt: 10, messageCount: 1 },
    ]);
    await store.applyMembershipEvents([
      { kind: 'member', id: '10-1', room: 'general', user: old1.user, ts: 10, cid: 'j', action: 'joined', member: old1.user, role: 'member' },
    ]);
    expect((await store.myRooms(old1.user.id, 10))[0]?.lastMessage).toEqual({ id: '10-0', user: old1.user, text: old1.text, ts: 10 });
    // the old message takes part in everything new: a reply, an edit, a reaction
    await store.insertMessages([{ ...msg('general', '11-0'), replyTo: '10-0' }]);
    await store.applyEvents([ev.edit('general', '12-0', '10-0', 'edited after the upgrade'), ev.react('general', '13-0', '10-0', '👍', true, old1.user)]);
    expect(await store.messagesBefore('general', undefined, 10, old1.user.id)).toEqual([
      { ...old1, text: 'edited after the upgrade', editedAt: 12, reactions: [{ emoji: '👍', count: 1, me: true }], replyCount: 1, lastReplyAt: 11 },
    ]);
    await store.close();
    // and opening the upgraded file again is a no-op
    const again = await openSqliteStore(path, log);
    expect((await again.getMessage('general', '10-0'))?.replyCount).toBe(1);
    await again.close();
  });

  it('upgrades a file whose member_events kept no event bodies: old rows stay (idempotency) but are not listed, new ones are', async () => {
    const path = freshPath();
    await (await createStore({ SQLITE_PATH: path, MONGO_URL: undefined }, log)).close();
    const room = 'p:oldfileoldfile00';
    const old = { kind: 'member', id: '5-0', room, user: { id: 'u_a', name: 'a' }, ts: 5, cid: 'old', action: 'joined', member: { id: 'u_a', name: 'a' }, role: 'owner' } as const;
    const raw = new Database(path);
    // member_events exactly as the membership version before bodies created it, with one row
    // (an unversioned file, as every file of that era: user_version 0)
    raw.exec(`PRAGMA user_version = 0; DROP TABLE member_events;
      CREATE TABLE member_events (room TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL, action TEXT NOT NULL,
        user_id TEXT NOT NULL, cid TEXT NOT NULL, member_id TEXT, PRIMARY KEY (room, id)) WITHOUT ROWID;`);
    raw.prepare("INSERT INTO member_events VALUES (?, '5-0', 'member', 'joined', 'u_a', 'old', 'u_a')").run(room);
    raw.close();
    const store = await openSqliteStore(path, log);
    expect(await store.membershipEventsBetween(room, undefined, undefined, 10)).toEqual([]);
    // the old row still tells a redelivery from a new event
    expect(await store.applyMembershipEvents([old])).toEqual({ applied: 0, duplicates: 1, conflicts: [] });
    const later = { ...old, id: '6-0', ts: 6, cid: 'new', action: 'left' as const, role: undefined };
    delete later.role;
    expect(await store.applyMembershipEvents([later])).toEqual({ applied: 1, duplicates: 0, conflicts: [] });
    expect(await store.membershipEventsBetween(room, undefined, undefined, 10)).toEqual([later]);
    await store.close();
    const check = new Database(path, { readonly: true });
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'member_events_log'").pluck().get()).toBe('member_events_log');
    check.close();
  });

  it('upgrades a file of the schema before attention (no seqs, positions, mentions, inbox or DND): old rows count nothing, new ones count', async () => {
    const path = freshPath();
    await (await createStore({ SQLITE_PATH: path, MONGO_URL: undefined }, log)).close();
    const raw = new Database(path);
    // back to exactly the schema before attention: its tables, indexes and columns gone (and
    // unversioned, as every file of that era: user_version 0)
    raw.exec(`PRAGMA user_version = 0; DROP TABLE user_rooms; DROP TABLE mentions; DROP TABLE notifications;
      ALTER TABLE users DROP COLUMN dnd; ALTER TABLE messages DROP COLUMN room_seq;
      ALTER TABLE messages DROP COLUMN mentions; ALTER TABLE rooms DROP COLUMN top_seq;`);
    raw.prepare("INSERT INTO users (id, username, password_hash, created_at) VALUES ('oldUser00002', 'old', 'h', 5)").run();
    raw.prepare("INSERT INTO messages (room, ms, seq, id, user_id, user_name, text, ts, cid) VALUES ('general', 10, 0, '10-0', 'u_x', 'x', 'old', 10, 'c')").run();
    raw.prepare("UPDATE rooms SET last_message_at = 10, message_count = 1, last_ms = 10, last_seq = 0 WHERE name = 'general'").run();
    raw.close();

    const store = await openSqliteStore(path, log);
    expect(await store.findUserById('oldUser00002')).toMatchObject({ username: 'old', dnd: false });
    expect(await store.messagesBefore('general', undefined, 10)).toEqual([{ id: '10-0', room: 'general', user: { id: 'u_x', name: 'x' }, text: 'old', ts: 10, cid: 'c' }]);
    const reader = { id: 'u_reader', name: 'reader' };
    await store.applyMembershipEvents([{ kind: 'member', id: '11-0', room: 'general', user: reader, ts: 11, cid: 'j', action: 'joined', member: reader, role: 'member' }]);
    expect((await store.myRooms(reader.id, 10))[0]).toMatchObject({ name: 'general', lastSeq: 0, readSeq: 0, unread: 0, mentions: 0, muted: false });
    await store.insertMessages([{ ...msg('general', '12-0'), seq: 1, mentions: [reader.id] }]);
    expect((await store.myRooms(reader.id, 10))[0]).toMatchObject({ lastSeq: 1, readSeq: 0, unread: 1, mentions: 1 });
    await store.setDnd('oldUser00002', true);
    expect(await store.insertNotifications([{ userId: reader.id, kind: 'mention', room: 'general', sourceId: '12-0', actor: { id: 'u_sender01', name: 'sender' }, text: 't', ts: 12 }])).toHaveLength(1);
    await store.close();
    // opening it again is a no-op that keeps everything
    const again = await openSqliteStore(path, log);
    expect((await again.findUserById('oldUser00002'))?.dnd).toBe(true);
    expect(await again.unreadNotificationCount(reader.id)).toBe(1);
    expect((await again.getMessage('general', '12-0'))?.seq).toBe(1);
    await again.close();
  });

  sqliteFilesUpgrade((path) => openSqliteStore(path, log), freshPath);
  sqliteSearchSpecifics((path) => openSqliteStore(path, log), freshPath);

  it('rejects (does not hang or crash) while another connection holds the write lock, then recovers', async () => {
    const path = freshPath();
    const store = await createStore({ SQLITE_PATH: path, MONGO_URL: undefined }, log);
    await store.close();
    const locked = await openSqliteStore(path, log, { busyTimeoutMs: 50 });
    const other = new Database(path);
    other.exec('BEGIN EXCLUSIVE');
    await expect(locked.insertMessages([msg('lobby', '1-0')])).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    other.exec('COMMIT');
    other.close();
    expect(await locked.insertMessages([msg('lobby', '1-0')])).toEqual({ inserted: 1, duplicates: 0, conflicts: [] });
    await locked.close();
  });

  it('rejects a write to a read-only database', async () => {
    const path = freshPath();
    const store = await createStore({ SQLITE_PATH: path, MONGO_URL: undefined }, log);
    await store.close();
    // query_only makes SQLite refuse every write with SQLITE_READONLY, as a read-only file or
    // mount would (chmod cannot show it: these tests may run as root)
    const ro = await openSqliteStore(path, log);
    (ro as unknown as { db: Database.Database }).db.pragma('query_only = ON');
    await expect(ro.insertMessages([msg('lobby', '1-0')])).rejects.toBeInstanceOf(Error);
    await expect(ro.createUser({ username: 'x', passwordHash: 'h' })).rejects.toBeInstanceOf(Error);
    await ro.close();
  });

  it('inserts 50k messages in batches of 500 at a measured rate', async () => {
    const store = await createStore({ SQLITE_PATH: freshPath(), MONGO_URL: undefined }, log);
    const total = 50_000;
    const rooms = Array.from({ length: 20 }, (_, i) => `room-${i}`);
    const all = Array.from({ length: total }, (_, i) => ({
      ...msg(rooms[i % rooms.length]!, `${1_700_000_000_000 + Math.floor(i / 3)}-${i % 3}`),
      text: `message number ${i} with a typical amount of chat text in it`,
    }));
    const started = performance.now();
    for (let i = 0; i < total; i += 500) await store.insertMessages(all.slice(i, i + 500));
    const seconds = (performance.now() - started) / 1000;
    const rate = Math.round(total / seconds);
    process.stdout.write(`[store bench] SQLite insertMessages: ${total} rows in batches of 500: ${rate} rows/s\n`);
    const counts = await Promise.all(rooms.map(async (r) => (await store.getRoom(r))!.messageCount));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(total);
    // a generous floor so a loaded 2-core machine still passes; the log line has the real number
    expect(rate).toBeGreaterThan(5_000);
    await store.close();
  }, 120_000);
});

// What can be shown about the Mongo adapter without a MongoDB server: it loads, it gives up
// within its server-selection timeout when nothing answers, and it classifies insertMany
// failures correctly (built from the driver's own error classes).
describe('MongoDB adapter without a server', () => {
  it('writes messages, events, membership, the state they change, room counters, read positions, mentions and the inbox with w:majority and j:true (the workers XACK only after a durable write)', async () => {
    const { MESSAGE_WRITE_CONCERN, schemaWriteConcern } = await import('./store-mongo-open.js');
    expect(MESSAGE_WRITE_CONCERN).toEqual({ w: 'majority', j: true });
    for (const c of ['messages', 'events', 'changes', 'reactions', 'threads', 'rooms', 'memberships', 'member_events', 'user_rooms', 'mentions', 'notifications', 'attachments', 'search_docs'] as const) {
      expect(schemaWriteConcern(c), c).toEqual({ w: 'majority', j: true });
    }
  });

  it('membership and room update pipelines carry every user-supplied value inside $literal (a "$x" topic stays text)', async () => {
    const { bumpUpdate, memberUpdate, roomUpdate } = await import('./store-mongo-room-updates.js');
    const { raiseUpdate } = await import('./store-mongo-attention.js');
    const { searchUpdate } = await import('./store-mongo-search.js');
    const evil = '$evil';
    const user = { id: 'u1', name: evil };
    const pipelines = [
      memberUpdate({ kind: 'member', id: '5-0', room: 'lobby', user, ts: 5, cid: evil, action: 'joined', member: { id: 'u2', name: evil }, role: 'member' }),
      roomUpdate({ kind: 'room', id: '6-0', room: 'lobby', user, ts: 6, cid: evil, action: 'created', roomKind: 'public', title: evil, topic: evil }),
      bumpUpdate('lobby', { count: 1, first: 7, last: 7, top: { id: '7-0', k: 'k', userId: 'u1', userName: evil, text: evil, ts: 7 } }),
      raiseUpdate(evil, evil, evil, 3),
      searchUpdate({ _id: evil, room: evil, ms: 1, seq: 0, userId: evil, v: evil, deleted: false, words: evil }),
    ];
    // every occurrence of the value is inside a $literal
    const outside = (node: unknown, literal: boolean): number => {
      if (node === evil) return literal ? 0 : 1;
      if (Array.isArray(node)) return node.reduce((n: number, x) => n + outside(x, literal), 0);
      if (node && typeof node === 'object') return Object.entries(node).reduce((n, [k, x]) => n + outside(x, literal || k === '$literal'), 0);
      return 0;
    };
    for (const p of pipelines) {
      expect(JSON.stringify(p)).toContain(evil);
      expect(outside(p, false)).toBe(0);
    }
  });

  it('createStore with MONGO_URL set to an unreachable server rejects within the selection timeout', async () => {
    const port = await freePort();
    const { openMongoStore } = await import('./store-mongo-open.js');
    const started = Date.now();
    await expect(
      openMongoStore(`mongodb://127.0.0.1:${port}/aurora`, log, { serverSelectionTimeoutMS: 300 }),
    ).rejects.toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(10_000);
    // the factory takes the Mongo branch when MONGO_URL is set (and rejects within its default 5 s)
    await expect(createStore({ SQLITE_PATH: freshPath(), MONGO_URL: `mongodb://127.0.0.1:${port}/aurora` }, log)).rejects.toBeInstanceOf(Error);
  }, 30_000);

  it('counts duplicate-key write errors of an unordered insertMany as duplicates and rethrows anything else', async () => {
    const { duplicateIndexes } = await import('./store-mongo-open.js');
    const bulk = (writeErrors: { index: number; code: number; errmsg: string }[]) =>
      new mongo.MongoBulkWriteError(
        // the driver's WriteError keeps the server's entry in `err` and reads code/index from it
        { message: 'bulk', code: writeErrors[0]!.code, writeErrors: writeErrors.map((err) => ({ err })) as never },
        { insertedCount: 0 } as never,
      );
    const dup = (index: number) => ({ index, code: 11000, errmsg: 'E11000 duplicate key error' });
    expect(duplicateIndexes(bulk([dup(0), dup(3)]), 5)).toEqual(new Set([0, 3]));
    const mixed = bulk([dup(0), { index: 1, code: 121, errmsg: 'Document failed validation' }]);
    expect(() => duplicateIndexes(mixed, 5)).toThrow(mixed);
    const lone = new mongo.MongoServerError({ message: 'E11000 duplicate key error', code: 11000 });
    expect(duplicateIndexes(lone, 1)).toEqual(new Set([0]));
    expect(() => duplicateIndexes(lone, 2)).toThrow(lone);
    const network = new mongo.MongoNetworkError('connection reset');
    expect(() => duplicateIndexes(network, 5)).toThrow(network);
    const wc = Object.assign(bulk([dup(0)]), { writeConcernError: { code: 64, errmsg: 'waiting for replication timed out' } });
    expect(() => duplicateIndexes(wc, 5)).toThrow(wc);
  });
});
