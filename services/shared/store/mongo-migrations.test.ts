// The MongoDB store's migrations (mongo-migrations.ts). Without a server: the migrations create
// exactly the indexes the mongoose schemas declare (keys in order, options) and mongoose creates
// none itself. With MONGO_URL (a real server; none can be installed on the development
// machines, so this part is skipped loudly there): a fresh database and one made by the last
// release before migrations both reach the latest version with their documents; replicas
// migrating at once run each migration once; a crashed holder's lock expires; a live holder is
// waited for, boundedly; a database newer than this code is refused; a failing migration is not
// recorded and runs again.
import { randomBytes } from 'node:crypto';
import { createConnection, type Connection, type mongo } from 'mongoose';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateMongo, migrationIndexes, MIGRATIONS_COLLECTION, MONGO_MIGRATIONS, mongoSchemaVersion, type IndexSpec, type MongoMigration } from './mongo-migrations.js';
import { MONGO_SCHEMAS, openMongoStore } from './store-mongo-open.js';
import { StoreSchemaError, type MigrationReport } from './schema-version.js';

const log = pino({ level: 'silent' });
/** A raw document of any shape (what an older release wrote, or the lock as another process holds it). */
type AnyDoc = { _id: string | number } & Record<string, unknown>;
const LATEST = MONGO_MIGRATIONS.length;

/** JSON with object keys sorted (option objects compare by content), except where order is meaning (`key`). */
const canon = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : x,
  );
const indexId = (collection: string, key: Record<string, unknown>, options: Record<string, unknown> | undefined) =>
  `${collection} ${JSON.stringify(key)} ${canon(options ?? {})}`;

describe('MongoDB migrations without a server', () => {
  it('create exactly the indexes the mongoose schemas declare, with the same keys (in order) and options', () => {
    const declared = Object.values(MONGO_SCHEMAS).flatMap((schema) =>
      schema.indexes().map(([key, options]) => indexId(schema.get('collection') as string, key, options as Record<string, unknown>)),
    );
    const migrated = migrationIndexes().map((ix: IndexSpec) => indexId(ix.collection, ix.key, ix.options as Record<string, unknown> | undefined));
    expect(declared.length).toBeGreaterThan(20);
    expect([...migrated].sort()).toEqual([...declared].sort());
  });

  it('mongoose creates no index or collection by itself: every schema has autoIndex and autoCreate off', () => {
    for (const [name, schema] of Object.entries(MONGO_SCHEMAS)) {
      expect(schema.get('autoIndex'), name).toBe(false);
      expect(schema.get('autoCreate'), name).toBe(false);
    }
  });

  it('migration 1 creates every collection a schema names; versions are 1, 2, 3, … in order', () => {
    const collections = new Set(MONGO_MIGRATIONS.flatMap((m) => m.collections ?? []));
    for (const schema of Object.values(MONGO_SCHEMAS)) expect(collections.has(schema.get('collection') as string), schema.get('collection')).toBe(true);
    expect(MONGO_MIGRATIONS.map((m) => m.version)).toEqual(Array.from({ length: LATEST }, (_, i) => i + 1));
  });
});

const MONGO_URL = process.env.MONGO_URL;
if (!MONGO_URL) {
  // The default reporter only counts skips; this line makes the missing MongoDB run visible.
  process.stderr.write(
    '\n*** MongoDB migration suite SKIPPED: MONGO_URL is not set (no MongoDB server can be installed on this machine).\n' +
      '*** Run it with MONGO_URL=mongodb://HOST:27017/aurora_test npx vitest run services/shared/store/mongo-migrations.test.ts\n\n',
  );
}

describe.skipIf(!MONGO_URL)(
  'MongoDB migrations on a real server — SKIPPED: set MONGO_URL to run against a real MongoDB (none can be installed on this machine)',
  { timeout: 60_000 },
  () => {
    const open: { conn: Connection; dbName: string }[] = [];
    afterEach(async () => {
      const dropped = new Set<string>();
      for (const { conn, dbName } of open.splice(0)) {
        if (!dropped.has(dbName)) await conn.dropDatabase().catch(() => undefined);
        dropped.add(dbName);
        await conn.close();
      }
    });
    /** A connection to a new database (or to `dbName`: a second "replica" of the same one). */
    const connect = async (dbName = `aurora_mig_${Date.now()}_${randomBytes(4).toString('hex')}`) => {
      const conn = createConnection(MONGO_URL!, { dbName, serverSelectionTimeoutMS: 5000, bufferCommands: false, autoIndex: false, autoCreate: false });
      await conn.asPromise();
      open.push({ conn, dbName });
      return { db: conn.db!, dbName };
    };
    const lockDoc = (db: mongo.Db) => db.collection<{ _id: string }>(MIGRATIONS_COLLECTION).findOne({ _id: 'lock' });
    /** Sets the lock as another process would hold it: `ttlMs` from the server's now (negative: expired). */
    const holdLock = (db: mongo.Db, owner: string, ttlMs: number) =>
      db.collection<{ _id: string }>(MIGRATIONS_COLLECTION).updateOne({ _id: 'lock' }, [{ $set: { owner, expiresAt: { $add: ['$$NOW', ttlMs] } } }], { upsert: true });
    const all = MONGO_MIGRATIONS.map(({ version, name }) => ({ version, name }));
    /** Every index a migration should have made, by collection and name, with the options the server reports. */
    const expectIndexes = async (db: mongo.Db) => {
      for (const ix of migrationIndexes()) {
        const name = ix.options?.name ?? Object.entries(ix.key).map(([k, v]) => `${k}_${v}`).join('_');
        const found = (await db.collection(ix.collection).listIndexes().toArray()).find((i) => i.name === name);
        expect(found, `${ix.collection}.${name}`).toBeDefined();
        for (const opt of ['unique', 'sparse', 'expireAfterSeconds', 'partialFilterExpression', 'default_language', 'language_override'] as const) {
          if (ix.options?.[opt] !== undefined) expect(found![opt], `${ix.collection}.${name} ${opt}`).toEqual(ix.options[opt]);
        }
      }
    };

    it('a fresh database gets every collection and index, the versions recorded, the lock released; a second run applies nothing', async () => {
      const { db } = await connect();
      expect(await migrateMongo(db, { log })).toEqual({ kind: 'mongo', from: 0, to: LATEST, applied: all });
      const names = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
      for (const schema of Object.values(MONGO_SCHEMAS)) expect(names.has(schema.get('collection') as string)).toBe(true);
      await expectIndexes(db);
      expect(await mongoSchemaVersion(db)).toBe(LATEST);
      expect(await lockDoc(db)).toBeNull();
      expect(await migrateMongo(db, { log })).toEqual({ kind: 'mongo', from: LATEST, to: LATEST, applied: [] });
    });

    it('a database made by the last release before migrations (mongoose autoIndex) reaches the latest version with its documents', async () => {
      const { db, dbName } = await connect();
      // what that release's autoIndex did: every schema's indexes, as declared
      for (const schema of Object.values(MONGO_SCHEMAS)) {
        for (const [key, options] of schema.indexes()) await db.collection(schema.get('collection') as string).createIndex(key as mongo.IndexSpecification, options as mongo.CreateIndexesOptions);
      }
      // (collections without a declared index did not exist then: listIndexes would fail on them)
      const indexed = Object.values(MONGO_SCHEMAS).filter((s) => s.indexes().length > 0).map((s) => s.get('collection') as string);
      const indexNames = async () =>
        (await Promise.all(indexed.map(async (c) => (await db.collection(c).listIndexes().toArray()).map((i) => `${c}.${i.name}`)))).flat().sort();
      const before = await indexNames();
      // a room from before membership (no kind, no preview), its message and a user
      await db.collection<AnyDoc>('rooms').insertOne({ _id: 'lobby', messageCount: 1, lastMessageAt: 10 });
      await db.collection<AnyDoc>('messages').insertOne({ _id: 'lobby|10-0', room: 'lobby', ms: 10, seq: 0, id: '10-0', userId: 'u_old00001', userName: 'old', text: 'before migrations', ts: 10, cid: 'c' });
      await db.collection<AnyDoc>('users').insertOne({ _id: 'u_old00001', username: 'Old', usernameLower: 'old', passwordHash: 'h', createdAt: 5 });

      const store = await openMongoStore(MONGO_URL!, log, { dbName });
      try {
        expect(await mongoSchemaVersion(db)).toBe(LATEST);
        // the same indexes, none added twice under another name
        expect(await indexNames()).toEqual(before);
        expect(await store.findUserById('u_old00001')).toMatchObject({ username: 'Old', disabled: false });
        expect(await store.messagesBefore('lobby', undefined, 10)).toEqual([
          { id: '10-0', room: 'lobby', user: { id: 'u_old00001', name: 'old' }, text: 'before migrations', ts: 10, cid: 'c' },
        ]);
        const room = await db.collection<{ _id: string; kind?: string; last?: { id: string } }>('rooms').findOne({ _id: 'lobby' });
        expect(room).toMatchObject({ kind: 'public', last: { id: '10-0' } });
      } finally {
        await store.close();
      }
    });

    it('replicas migrating at once run each migration once and all end at the latest version', async () => {
      const { db, dbName } = await connect();
      const replicas = [db, (await connect(dbName)).db, (await connect(dbName)).db];
      const counted: MongoMigration = {
        version: LATEST + 1,
        name: 'test: count the runs',
        async up(d) {
          await d.collection<{ _id: string; n: number }>('test_runs').updateOne({ _id: 'runs' }, { $inc: { n: 1 } }, { upsert: true });
          await new Promise((r) => setTimeout(r, 300));
        },
      };
      const reports: MigrationReport[] = await Promise.all(replicas.map((d) => migrateMongo(d, { migrations: [...MONGO_MIGRATIONS, counted], pollMs: 50, log })));
      expect(reports.map((r) => r.to)).toEqual([LATEST + 1, LATEST + 1, LATEST + 1]);
      expect(reports.flatMap((r) => r.applied.map((a) => a.version)).sort((a, b) => a - b)).toEqual(Array.from({ length: LATEST + 1 }, (_, i) => i + 1));
      expect(await db.collection<{ _id: string; n: number }>('test_runs').findOne({ _id: 'runs' })).toEqual({ _id: 'runs', n: 1 });
      expect(await lockDoc(db)).toBeNull();
    });

    it('the lock of a holder that crashed expires: the next process takes it over', async () => {
      const { db } = await connect();
      await holdLock(db, 'crashed-host:1:dead', -1000);
      expect((await migrateMongo(db, { log, waitMs: 5000, pollMs: 50 })).applied).toEqual(all);
      expect(await lockDoc(db)).toBeNull();
    });

    it('a live holder is waited for, boundedly: a timeout names it and changes nothing; once it releases, the waiter migrates', async () => {
      const { db } = await connect();
      await holdLock(db, 'other-host:7:live', 60_000);
      const waited = migrateMongo(db, { log, waitMs: 300, pollMs: 50 });
      await expect(waited).rejects.toBeInstanceOf(StoreSchemaError);
      await expect(waited).rejects.toMatchObject({ code: 'store_migration_lock_timeout', message: expect.stringContaining('held by other-host:7:live') });
      expect(await mongoSchemaVersion(db)).toBe(0);

      const released = new Promise<void>((resolve) => {
        setTimeout(() => void db.collection<{ _id: string }>(MIGRATIONS_COLLECTION).deleteOne({ _id: 'lock' }).then(() => resolve()), 300);
      });
      expect((await migrateMongo(db, { log, waitMs: 10_000, pollMs: 50 })).applied).toEqual(all);
      await released;
    });

    it('a database newer than this code is refused, by the migrations and by opening the store, with nothing created', async () => {
      const { db, dbName } = await connect();
      await db.collection<AnyDoc>(MIGRATIONS_COLLECTION).insertOne({ _id: LATEST + 5, name: 'from the future', appliedAt: new Date() });
      const refused = { code: 'store_schema_too_new', message: expect.stringContaining(`has schema version ${LATEST + 5}, newer than this release knows (latest ${LATEST})`) };
      await expect(migrateMongo(db, { log })).rejects.toMatchObject(refused);
      await expect(openMongoStore(MONGO_URL!, log, { dbName })).rejects.toMatchObject(refused);
      expect((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)).toEqual([MIGRATIONS_COLLECTION]);
    });

    it('a failing migration is not recorded, releases the lock, and runs again next time', async () => {
      const { db } = await connect();
      const broken: MongoMigration = { version: LATEST + 1, name: 'test: fails', up: () => Promise.reject(new Error('boom')) };
      await expect(migrateMongo(db, { log, migrations: [...MONGO_MIGRATIONS, broken] })).rejects.toMatchObject({
        code: 'store_migration_failed',
        message: expect.stringMatching(/migration \d+ \(test: fails\) failed \(schema stays at version \d+; it runs again at the next start\): boom/),
      });
      expect(await mongoSchemaVersion(db)).toBe(LATEST);
      expect(await lockDoc(db)).toBeNull();
      const fixed: MongoMigration = { ...broken, up: () => Promise.resolve() };
      expect((await migrateMongo(db, { log, migrations: [...MONGO_MIGRATIONS, fixed] })).applied).toEqual([{ version: LATEST + 1, name: broken.name }]);
    });
  },
);
