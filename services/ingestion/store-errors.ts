// Is a failed store write the store's fault (down, locked, full, failing over) or the data's?
// The worker only ever blames — and dead-letters — a message when the answer is "the data":
// a store that cannot write at the moment would otherwise reject every message it is given,
// and dead-lettering them all would empty the stream into the dead-letter stream. Unknown
// errors count as the data's only when store.ping() succeeds as well (checked by the worker).

/** SQLite result codes that describe the database file or the connection, never one row. */
const SQLITE_UNAVAILABLE =
  /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|PROTOCOL|NOMEM|INTERRUPT|CORRUPT|NOTADB|PERM|AUTH|SCHEMA|NOLFS)/;

/**
 * MongoDB server codes that are about the deployment, not one document: network, step-down,
 * shutdown, disk, locks, write concern, missing privileges.
 */
const MONGO_UNAVAILABLE = new Set([
  6, 7, 13, 24, 46, 50, 64, 89, 91, 100, 112, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436, 14031,
]);

const MONGO_UNAVAILABLE_NAME = /^Mongo(Network|NetworkTimeout|ServerSelection|NotConnected|Topology|PoolCleared|Expired|Runtime)/;

interface ErrorLike {
  code?: unknown;
  writeConcernErrors?: unknown;
  name?: unknown;
  message?: unknown;
  hasErrorLabel?: (label: string) => boolean;
}

/** True when `err` says the store cannot write at the moment, whatever it was given. */
export function isStoreUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as ErrorLike;
  if (typeof e.code === 'string' && SQLITE_UNAVAILABLE.test(e.code)) return true;
  if (typeof e.code === 'number' && MONGO_UNAVAILABLE.has(e.code)) return true;
  if (typeof e.name === 'string' && MONGO_UNAVAILABLE_NAME.test(e.name)) return true;
  if (Array.isArray(e.writeConcernErrors) && e.writeConcernErrors.length > 0) return true;
  if (typeof e.hasErrorLabel === 'function') {
    try {
      if (e.hasErrorLabel('RetryableWriteError') || e.hasErrorLabel('TransientTransactionError')) return true;
    } catch {
      // not a MongoError after all
    }
  }
  // better-sqlite3 on a closed handle: "The database connection is not open" (a TypeError).
  if (typeof e.message === 'string' && /connection is not open|not connected|ECONNREFUSED|ETIMEDOUT/i.test(e.message)) return true;
  return false;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
