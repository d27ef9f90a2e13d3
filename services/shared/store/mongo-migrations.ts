// The MongoDB store's schema migrations: an ordered list, the versions applied recorded in the
// `migrations` collection (one document per version, `_id` the version), and the runner every
// process calls when it opens the store (store-mongo-open.ts; `cli store migrate` too).
//
// Index creation is explicit here — mongoose's autoIndex/autoCreate are off (store-mongo-schemas.ts)
// — so production builds each index once, in order, under a lock, instead of every replica
// asking for every index at every start. Migration 1 is the baseline: the collections and
// indexes the schemas declared when migrations began (same keys and options, so on a database
// made by that code every createIndex is a no-op), and the one data upgrade that code ran at
// each start (rooms from before membership). A database without a `migrations` collection is at
// version 0 — fresh or made by that code alike.
//
// Several replicas start at once: a lock document (`_id: 'lock'` in `migrations`) is taken with
// one upsert that only matches when the lock is free or expired (server time, $$NOW: replicas'
// clocks do not matter); the holder renews it every third of LOCK_TTL_MS while it works, so a
// holder that crashed blocks the others for at most LOCK_TTL_MS. The others poll until the
// versions they need are recorded, or the lock is free, then re-check the version under it.
// Every migration is idempotent (createIndex is; data upgrades must be written so), because a
// holder that crashed midway has its migration run again by the next one.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { mongo } from 'mongoose';
import type { Logger } from '../logger.js';
import { assertOrdered, refuseNewer, StoreSchemaError, type MigrationReport } from './schema-version.js';
import { backfillRoomState } from './store-mongo-membership.js';
import type { MessageDoc, RoomDoc } from './store-mongo-schemas.js';

/** One index as createIndex takes it; `key` order matters (compound indexes). */
export interface IndexSpec {
  collection: string;
  key: Record<string, 1 | -1 | 'text'>;
  options?: mongo.CreateIndexesOptions;
}

export interface MongoMigration {
  /** 1, 2, 3, …: recorded in `migrations` once applied. */
  version: number;
  name: string;
  /** Created (createCollection) before `indexes`; existing ones are left alone. */
  collections?: readonly string[];
  /** Created with createIndex (a no-op when the same index exists). */
  indexes?: readonly IndexSpec[];
  /** Data changes, after the indexes. Must be idempotent (see the top). */
  up?(db: mongo.Db, log?: Logger): Promise<void>;
}

export const MIGRATIONS_COLLECTION = 'migrations';

/** The collections of the store when migrations began (store-mongo-open.ts registers their schemas). */
const BASELINE_COLLECTIONS = [
  'users', 'refresh_tokens', 'messages', 'events', 'changes', 'reactions', 'threads', 'rooms', 'memberships',
  'member_events', 'user_rooms', 'mentions', 'notifications', 'attachments', 'search_docs',
] as const;

/**
 * Every index the schemas declared when migrations began, with their options exactly (a
 * different option under the same name would be refused by the server). The TTL is frozen here
 * as a number: changing it later is a new migration (collMod), not an edit.
 */
const BASELINE_INDEXES: readonly IndexSpec[] = [
  // store-mongo-users.ts
  { collection: 'users', key: { usernameLower: 1 }, options: { unique: true } },
  { collection: 'users', key: { avatar: 1 }, options: { sparse: true } },
  { collection: 'refresh_tokens', key: { familyId: 1 } },
  { collection: 'refresh_tokens', key: { userId: 1 } },
  { collection: 'refresh_tokens', key: { expiresAt: 1 }, options: { expireAfterSeconds: 7 * 86_400 } },
  // store-mongo-schemas.ts
  { collection: 'messages', key: { room: 1, ms: 1, seq: 1 }, options: { unique: true } },
  { collection: 'messages', key: { room: 1, replyMs: 1, replySeq: 1, ms: 1, seq: 1 } },
  { collection: 'reactions', key: { room: 1, target: 1, active: 1 } },
  { collection: 'rooms', key: { members: 1 }, options: { sparse: true } },
  { collection: 'rooms', key: { lastMessageAt: -1, _id: 1 } },
  { collection: 'rooms', key: { kind: 1, archived: 1, memberCount: -1, _id: 1 } },
  { collection: 'memberships', key: { userId: 1, rank: 1 } },
  { collection: 'memberships', key: { room: 1, rank: 1, username: 1 } },
  { collection: 'member_events', key: { room: 1, k: 1 } },
  // store-mongo-attention.ts
  { collection: 'user_rooms', key: { room: 1, readSeq: -1, userId: 1 } },
  { collection: 'mentions', key: { userId: 1, room: 1, seq: 1 } },
  { collection: 'notifications', key: { userId: 1, ms: -1, seq: -1, room: -1 } },
  { collection: 'notifications', key: { userId: 1, read: 1, ms: -1, seq: -1, room: -1 } },
  // store-mongo-files.ts
  { collection: 'attachments', key: { ownerId: 1, size: 1 } },
  { collection: 'attachments', key: { pending: 1, createdAt: 1, _id: 1 }, options: { partialFilterExpression: { pending: true } } },
  { collection: 'attachments', key: { gone: 1, createdAt: 1, _id: 1 }, options: { partialFilterExpression: { gone: true } } },
  { collection: 'attachments', key: { room: 1, messageId: 1 }, options: { partialFilterExpression: { messageId: { $exists: true } } } },
  // store-mongo-search.ts
  { collection: 'search_docs', key: { words: 'text' }, options: { name: 'search_words', default_language: 'none', language_override: 'searchLanguage' } },
  { collection: 'search_docs', key: { room: 1, ms: -1, seq: -1 } },
];

/** Append only: a released migration is never edited (databases at its version never run it again). */
export const MONGO_MIGRATIONS: readonly MongoMigration[] = [
  {
    version: 1,
    name: 'baseline: the collections and indexes of the last release before migrations, rooms from before membership filled in',
    collections: BASELINE_COLLECTIONS,
    indexes: BASELINE_INDEXES,
    async up(db, log) {
      const n = await backfillRoomState(db.collection<RoomDoc>('rooms'), db.collection<MessageDoc>('messages'));
      if (n > 0) log?.info({ rooms: n }, 'rooms from before membership filled in');
    },
  },
];

/** A crashed holder blocks the others this long at most; the live holder renews every third of it. */
export const LOCK_TTL_MS = 60_000;
/** How long a process waits for another one's migrations before giving up (index builds on big collections take time). */
export const MIGRATION_WAIT_MS = 10 * 60_000;

export interface MongoMigrateOptions {
  migrations?: readonly MongoMigration[];
  log?: Logger;
  lockTtlMs?: number;
  waitMs?: number;
  /** Between two looks at the lock while another process holds it (jittered). */
  pollMs?: number;
}

interface VersionDoc {
  _id: number;
  name: string;
  appliedAt: Date;
  ms: number;
  by: string;
}
interface LockDoc {
  _id: 'lock';
  owner: string;
  expiresAt: Date;
}

const MAJORITY = { w: 'majority' as const, j: true };
const NAMESPACE_EXISTS = 48;
const DUPLICATE_KEY = 11000;

/** The highest version recorded (0: none, a database from before migrations or a fresh one). */
export async function mongoSchemaVersion(db: mongo.Db): Promise<number> {
  // $gt 0 compares numbers only (BSON type bracketing): the lock document is not among them
  const top = await db
    .collection<VersionDoc>(MIGRATIONS_COLLECTION)
    .find({ _id: { $gt: 0 } }, { projection: { _id: 1 } })
    .sort({ _id: -1 })
    .limit(1)
    .next();
  return top?._id ?? 0;
}

/** Brings the database to the latest version (see the top); returns what this process applied. */
export async function migrateMongo(db: mongo.Db, options: MongoMigrateOptions = {}): Promise<MigrationReport> {
  const migrations = options.migrations ?? MONGO_MIGRATIONS;
  const latest = assertOrdered(migrations);
  const where = `database ${db.databaseName}`;
  const log = options.log;
  const from = await mongoSchemaVersion(db);
  refuseNewer('mongo', where, from, latest);
  const report: MigrationReport = { kind: 'mongo', from, to: from, applied: [] };
  if (from === latest) return report;

  const lock = new MigrationLock(db.collection<LockDoc>(MIGRATIONS_COLLECTION), options.lockTtlMs ?? LOCK_TTL_MS, log);
  const waitMs = options.waitMs ?? MIGRATION_WAIT_MS;
  const pollMs = options.pollMs ?? 500;
  const deadline = Date.now() + waitMs;
  let waiting = false;
  while (!(await lock.acquire())) {
    // Another process migrates: done once the versions this code needs are recorded.
    report.to = await mongoSchemaVersion(db);
    refuseNewer('mongo', where, report.to, latest);
    if (report.to >= latest) return report;
    const holder = await lock.holder();
    if (Date.now() >= deadline) {
      throw new StoreSchemaError(
        'store_migration_lock_timeout',
        `mongo store ${where}: waited ${waitMs} ms for the migration lock held by ${holder ?? 'another process'} (schema at version ${report.to}, this release needs ${latest})`,
      );
    }
    if (!waiting) log?.info({ holder, version: report.to, latest }, 'waiting for another process to migrate the store');
    waiting = true;
    await new Promise((r) => setTimeout(r, pollMs / 2 + Math.random() * pollMs));
  }
  try {
    report.to = await mongoSchemaVersion(db);
    refuseNewer('mongo', where, report.to, latest);
    for (const m of migrations) {
      if (m.version <= report.to) continue;
      const started = Date.now();
      try {
        await applyMigration(db, m, log);
      } catch (err) {
        throw new StoreSchemaError(
          'store_migration_failed',
          `mongo store ${where}: migration ${m.version} (${m.name}) failed (schema stays at version ${report.to}; it runs again at the next start): ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
      const ms = Date.now() - started;
      await db
        .collection<VersionDoc>(MIGRATIONS_COLLECTION)
        .updateOne({ _id: m.version }, { $set: { name: m.name, appliedAt: new Date(), ms, by: lock.owner } }, { upsert: true, writeConcern: MAJORITY });
      report.to = m.version;
      report.applied.push({ version: m.version, name: m.name });
      log?.info({ where, version: m.version, migration: m.name, ms }, 'store migration applied');
    }
  } finally {
    await lock.release();
  }
  if (report.applied.length > 0) log?.info({ where, from: report.from, to: report.to }, 'store schema migrated');
  return report;
}

async function applyMigration(db: mongo.Db, m: MongoMigration, log: Logger | undefined): Promise<void> {
  if (m.collections && m.collections.length > 0) {
    const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (const name of m.collections) {
      if (existing.has(name)) continue;
      try {
        await db.createCollection(name);
      } catch (err) {
        // a holder whose lock expired may still be running: it made it first
        if (!(err instanceof mongo.MongoServerError && err.code === NAMESPACE_EXISTS)) throw err;
      }
    }
  }
  for (const ix of m.indexes ?? []) await db.collection(ix.collection).createIndex(ix.key, ix.options ?? {});
  await m.up?.(db, log);
}

/** The lock document (see the top). */
class MigrationLock {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly coll: mongo.Collection<LockDoc>,
    private readonly ttlMs: number,
    private readonly log: Logger | undefined,
  ) {}

  /** Takes the lock when it is free or expired; false while another process holds it. */
  async acquire(): Promise<boolean> {
    try {
      await this.coll.findOneAndUpdate(
        // no match (held, unexpired) → the upsert inserts _id 'lock' again → duplicate key
        { _id: 'lock', $or: [{ owner: this.owner }, { $expr: { $lt: ['$expiresAt', '$$NOW'] } }] },
        [{ $set: { owner: { $literal: this.owner }, expiresAt: { $add: ['$$NOW', this.ttlMs] } } }],
        { upsert: true, writeConcern: MAJORITY },
      );
    } catch (err) {
      if (err instanceof mongo.MongoServerError && err.code === DUPLICATE_KEY) return false;
      throw err;
    }
    this.renewal = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.renewal.unref();
    return true;
  }

  async holder(): Promise<string | null> {
    return (await this.coll.findOne({ _id: 'lock' }))?.owner ?? null;
  }

  private async renew(): Promise<void> {
    try {
      const r = await this.coll.updateOne({ _id: 'lock', owner: this.owner }, [{ $set: { expiresAt: { $add: ['$$NOW', this.ttlMs] } } }]);
      // Lost it (a pause longer than the TTL): the migrations are idempotent, so carrying on is safe.
      if (r.matchedCount === 0) this.log?.warn({ owner: this.owner }, 'store migration lock expired while migrating');
    } catch (err) {
      this.log?.warn({ err, owner: this.owner }, 'store migration lock renewal failed');
    }
  }

  async release(): Promise<void> {
    clearInterval(this.renewal);
    try {
      await this.coll.deleteOne({ _id: 'lock', owner: this.owner }, { writeConcern: MAJORITY });
    } catch (err) {
      // it expires by itself within the TTL
      this.log?.warn({ err, owner: this.owner }, 'store migration lock release failed');
    }
  }
}

/** The union of every migration's indexes (mongo-migrations.test.ts compares it with the schemas). */
export function migrationIndexes(migrations: readonly MongoMigration[] = MONGO_MIGRATIONS): IndexSpec[] {
  return migrations.flatMap((m) => m.indexes ?? []);
}
