// Opening the MongoDB store (index.ts imports this dynamically, only when MONGO_URL is set): the
// connection with fail-fast settings, the collections and indexes created, and the schema registry
// the tests check write concerns against.
import { createConnection } from 'mongoose';
import type { Logger } from '../logger.js';
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

const schemas = {
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
export function schemaWriteConcern(collection: keyof typeof schemas): unknown {
  return schemas[collection].get('writeConcern');
}

export async function openMongoStore(url: string, log: Logger, options: MongoStoreOptions = {}): Promise<Store> {
  const conn = createConnection(url, {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5000,
    bufferCommands: false,
    autoIndex: true,
    autoCreate: true,
    ...(options.dbName ? { dbName: options.dbName } : {}),
  });
  try {
    await conn.asPromise();
    const store = new MongoStore(conn);
    await store.init();
    log.info({ db: conn.name }, 'mongo store open');
    return store;
  } catch (err) {
    await conn.close().catch(() => undefined);
    throw err;
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

