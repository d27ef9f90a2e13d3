// The store factory: the embedded SQLite store at SQLITE_PATH unless MONGO_URL is set, then
// MongoDB. The Mongo module is imported only when used, so SQLite deployments never load
// mongoose. Opening a store migrates its schema (sqlite-migrations.ts, mongo-migrations.ts):
// every process that opens it does, safely at once; migrateStore and storeSchemaStatus are the
// operator's view of the same (`cli store migrate`, `cli store version`).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { migrateSqlite, sqliteSchemaStatus } from './sqlite-migrations.js';
import { openSqliteDatabase, openSqliteStore } from './store-sqlite.js';
import type { MigrationReport, SchemaStatus } from './schema-version.js';
import type { Store } from './store.js';

export * from './store.js';
export { StoreSchemaError, type MigrationReport, type SchemaStatus, type StoreSchemaErrorCode } from './schema-version.js';

type StoreConfig = Pick<Config, 'MONGO_URL' | 'SQLITE_PATH'>;

function sqlitePath(config: StoreConfig): string {
  const path = config.SQLITE_PATH;
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
  return path;
}

export async function createStore(config: StoreConfig, log: Logger): Promise<Store> {
  if (config.MONGO_URL) {
    const { openMongoStore } = await import('./store-mongo-open.js');
    return openMongoStore(config.MONGO_URL, log);
  }
  return openSqliteStore(sqlitePath(config), log);
}

/** Runs the pending migrations, as opening the store would, and reports them. */
export async function migrateStore(config: StoreConfig, log: Logger): Promise<MigrationReport> {
  if (config.MONGO_URL) {
    const { migrateMongoStore } = await import('./store-mongo-open.js');
    return migrateMongoStore(config.MONGO_URL, log);
  }
  const path = sqlitePath(config);
  const db = openSqliteDatabase(path);
  try {
    return migrateSqlite(db, { log, where: path });
  } finally {
    db.close();
  }
}

/** The store's schema version and the newest this release knows; changes nothing. */
export async function storeSchemaStatus(config: StoreConfig): Promise<SchemaStatus> {
  if (config.MONGO_URL) {
    const { mongoSchemaStatus } = await import('./store-mongo-open.js');
    return mongoSchemaStatus(config.MONGO_URL);
  }
  return sqliteSchemaStatus(config.SQLITE_PATH);
}
