// Opening the MongoDB store (index.ts imports this dynamically, only when MONGO_URL is set): the
// connection with fail-fast settings, the schema migrations (collections and indexes:
// mongo-migrations.ts; mongoose's autoIndex/autoCreate are off), and the schema registry the
// tests check write concerns and indexes against.
import { createConnection, type Connection } from 'mongoose';
import type { Logger } from '../logger.js';
import { MONGO_MIGRATIONS, migrateMongo, mongoSchemaVersion } from './mongo-migrations.js';
import type { MigrationReport, SchemaStatus } from './schema-version.js';
import { mentionSchema, notificationSchema, userRoomSchema } from './store-mongo-attention.js';
import { attachmentSchema } from './store-mongo-files.js';
import { searchDocSchema } from './store-mongo-search.js';
import {
  changeSchema,
  eventSchema,
  memberEventSchema,
  membershipSchema,
  messageSchema,
  reactionSchema,
  roomSchema,
  threadSchema,
} from './store-mongo-schemas.js';
import { tokenSchema, userSchema } from './store-mongo-users.js';
import { MongoStore } from './store-mongo.js';
import type { Store } from './store.js';

export interface MongoStoreOptions {
  /** Database name; defaults to the one in the URL. Tests use a unique one each. */
  dbName?: string;
  serverSelectionTimeoutMS?: number;
}

export { duplicateIndexes, MESSAGE_WRITE_CONCERN } from './store-mongo-schemas.js';

/** Every collection's schema (mongo-migrations.test.ts: the migrations create exactly their indexes). */
export const MONGO_SCHEMAS = {
  messages: messageSchema,
  events: eventSchema,
  changes: changeSchema,
  reactions: reactionSchema,
  threads: threadSchema,
  rooms: roomSchema,
  memberships: membershipSchema,
  member_events: memberEventSchema,
  user_rooms: userRoomSchema,
  mentions: mentionSchema,
  notifications: notificationSchema,
  users: userSchema,
  refresh_tokens: tokenSchema,
  attachments: attachmentSchema,
  search_docs: searchDocSchema,
};

/** The write concern mongoose applies to a collection's writes (a test checks the durable ones). */
export function schemaWriteConcern(collection: keyof typeof MONGO_SCHEMAS): unknown {
  return MONGO_SCHEMAS[collection].get('writeConcern');
}

function connect(url: string, options: MongoStoreOptions): Connection {
  return createConnection(url, {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5000,
    bufferCommands: false,
    // the migrations make collections and indexes, in production and tests alike
    autoIndex: false,
    autoCreate: false,
    ...(options.dbName ? { dbName: options.dbName } : {}),
  });
}

/** The connection's database handle, once connected. */
function dbOf(conn: Connection) {
  if (!conn.db) throw new Error('mongo connection has no database handle');
  return conn.db;
}

export async function openMongoStore(url: string, log: Logger, options: MongoStoreOptions = {}): Promise<Store> {
  const conn = connect(url, options);
  try {
    await conn.asPromise();
    // Every process that opens the store migrates it; a lock makes that safe with several
    // replicas at once, and a database newer than this release is refused (mongo-migrations.ts).
    const { to } = await migrateMongo(dbOf(conn), { log });
    const store = new MongoStore(conn);
    await store.init();
    log.info({ db: conn.name, schemaVersion: to }, 'mongo store open');
    return store;
  } catch (err) {
    await conn.close().catch(() => undefined);
    throw err;
  }
}

/** Runs the pending migrations and closes (`cli store migrate`). */
export async function migrateMongoStore(url: string, log: Logger, options: MongoStoreOptions = {}): Promise<MigrationReport> {
  const conn = connect(url, options);
  try {
    await conn.asPromise();
    return await migrateMongo(dbOf(conn), { log });
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** The database's schema version without changing it (`cli store version`). */
export async function mongoSchemaStatus(url: string, options: MongoStoreOptions = {}): Promise<SchemaStatus> {
  const conn = connect(url, options);
  try {
    await conn.asPromise();
    return { kind: 'mongo', version: await mongoSchemaVersion(dbOf(conn)), latest: MONGO_MIGRATIONS.length };
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Drops a database (tests: each run gets its own and throws it away). */
export async function dropMongoDatabase(url: string, dbName: string): Promise<void> {
  const conn = createConnection(url, { dbName, serverSelectionTimeoutMS: 5000, bufferCommands: false });
  try {
    await conn.asPromise();
    await conn.dropDatabase();
  } finally {
    await conn.close();
  }
}

