// One of the two processes sqlite-migrations.test.ts races on one file (not shipped: test-*.ts
// are left out of the build). Loads everything, says `ready`, and on a line on stdin opens the
// file as openSqliteStore does and migrates it with the real migrations plus one more that
// records each run in a table and holds the write lock HOLD_MS, so the other process has to wait
// for it. Prints `start <ms>`, then `done <ms> <report as JSON>`; an error goes to stderr, exit 1.
import type Database from 'better-sqlite3';
import { migrateSqlite, SQLITE_MIGRATIONS, type SqliteMigration } from './sqlite-migrations.js';
import { openSqliteDatabase } from './store-sqlite.js';

const path = process.argv[2];
const holdMs = Number(process.argv[3] ?? 500);
if (!path) throw new Error('usage: test-sqlite-migrate-child.ts <file> [holdMs]');

const counted: SqliteMigration = {
  version: SQLITE_MIGRATIONS.length + 1,
  name: 'test: record the run',
  up(db: Database.Database) {
    db.exec('CREATE TABLE IF NOT EXISTS migration_runs (pid INTEGER NOT NULL)');
    db.prepare('INSERT INTO migration_runs VALUES (?)').run(process.pid);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, holdMs);
  },
};

process.stdout.write('ready\n');
process.stdin.once('data', () => {
  try {
    process.stdout.write(`start ${Date.now()}\n`);
    const db = openSqliteDatabase(path);
    const report = migrateSqlite(db, { migrations: [...SQLITE_MIGRATIONS, counted] });
    db.close();
    process.stdout.write(`done ${Date.now()} ${JSON.stringify(report)}\n`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  }
});
