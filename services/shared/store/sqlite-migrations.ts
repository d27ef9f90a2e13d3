// The SQLite store's schema migrations: an ordered list, the file's version in `PRAGMA
// user_version`, and the runner every process calls when it opens the file
// (store-sqlite.ts openSqliteStore; `cli store migrate` too).
//
// Version 0 is any file written before versions existed — of whatever age: migration 1 is the
// baseline (store-sqlite-schema.ts), idempotent, so it brings a fresh file, a file of the last
// unversioned release and a much older one alike to version 1, keeping their rows.
//
// Each migration runs in its own BEGIN IMMEDIATE transaction together with its user_version bump
// (SQLite keeps the version in the file header, inside the transaction): it is applied whole or
// not at all. Several processes may open the file at once (users, ingestion, assistant, the
// CLI): the first takes the write lock, the others wait for it (busy_timeout, raised to
// MIGRATION_WAIT_MS while migrating), then re-read user_version inside their own transaction
// and find nothing left to do. A file whose version is newer than the last migration here was
// written by a newer release: refused before anything is written.
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Logger } from '../logger.js';
import { assertOrdered, refuseNewer, StoreSchemaError, type MigrationReport, type SchemaStatus } from './schema-version.js';
import { applyBaselineSchema } from './store-sqlite-schema.js';

export interface SqliteMigration {
  /** 1, 2, 3, …: the user_version the file has once it ran. */
  version: number;
  name: string;
  /** Runs inside the migration's IMMEDIATE transaction; throwing rolls all of it back. */
  up(db: Database.Database): void;
}

/** Append only: a released migration is never edited (files at its version never run it again). */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  { version: 1, name: 'baseline: the schema of the last unversioned release, upgrading any older file', up: applyBaselineSchema },
];

/** How long a process opening the file waits for another one's migration (or a long write) to finish. */
export const MIGRATION_WAIT_MS = 120_000;

export interface SqliteMigrateOptions {
  migrations?: readonly SqliteMigration[];
  log?: Logger;
  /** Longest wait for the write lock while migrating; default MIGRATION_WAIT_MS (never below the connection's busy_timeout). */
  waitMs?: number;
  /** Names the file in messages (the path). */
  where?: string;
}

export function sqliteSchemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Brings the file to the latest version (see the top); returns what this process applied. */
export function migrateSqlite(db: Database.Database, options: SqliteMigrateOptions = {}): MigrationReport {
  const migrations = options.migrations ?? SQLITE_MIGRATIONS;
  const latest = assertOrdered(migrations);
  const where = options.where ?? db.name;
  const from = sqliteSchemaVersion(db);
  refuseNewer('sqlite', where, from, latest);
  const report: MigrationReport = { kind: 'sqlite', from, to: from, applied: [] };
  if (from === latest) return report;

  const busy = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma(`busy_timeout = ${Math.max(busy, Math.floor(options.waitMs ?? MIGRATION_WAIT_MS))}`);
  try {
    for (const m of migrations) {
      if (m.version <= report.to) continue;
      const started = Date.now();
      const ran = db
        .transaction((): boolean => {
          // Re-read under the write lock: another process may have migrated while this one waited.
          const current = sqliteSchemaVersion(db);
          refuseNewer('sqlite', where, current, latest);
          if (current >= m.version) return false;
          try {
            m.up(db);
          } catch (err) {
            throw new StoreSchemaError(
              'store_migration_failed',
              `sqlite store ${where}: migration ${m.version} (${m.name}) failed, rolled back (schema stays at version ${current}): ${err instanceof Error ? err.message : String(err)}`,
              { cause: err },
            );
          }
          db.pragma(`user_version = ${m.version}`);
          return true;
        })
        .immediate();
      report.to = Math.max(report.to, sqliteSchemaVersion(db));
      if (ran) {
        report.applied.push({ version: m.version, name: m.name });
        options.log?.info({ where, version: m.version, migration: m.name, ms: Date.now() - started }, 'store migration applied');
      }
    }
  } finally {
    db.pragma(`busy_timeout = ${busy}`);
  }
  if (report.applied.length > 0) options.log?.info({ where, from: report.from, to: report.to }, 'store schema migrated');
  return report;
}

/** The version of the file at `path` without changing it (`cli store version`). */
export function sqliteSchemaStatus(path: string): SchemaStatus {
  if (!existsSync(path)) throw new Error(`no SQLite store at ${path} (SQLITE_PATH)`);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return { kind: 'sqlite', version: sqliteSchemaVersion(db), latest: SQLITE_MIGRATIONS.length };
  } finally {
    db.close();
  }
}
