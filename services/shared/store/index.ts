// The store factory: the embedded SQLite store at SQLITE_PATH unless MONGO_URL is set, then
// MongoDB. The Mongo module is imported only when used, so SQLite deployments never load
// mongoose.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { openSqliteStore } from './store-sqlite.js';
import type { Store } from './store.js';

export * from './store.js';

export async function createStore(
  config: Pick<Config, 'MONGO_URL' | 'SQLITE_PATH'>,
  log: Logger,
): Promise<Store> {
  if (config.MONGO_URL) {
    const { openMongoStore } = await import('./store-mongo-open.js');
    return openMongoStore(config.MONGO_URL, log);
  }
  const path = config.SQLITE_PATH;
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
  return openSqliteStore(path, log);
}
