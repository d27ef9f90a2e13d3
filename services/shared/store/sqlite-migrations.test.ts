// The SQLite store's versioned migrations (sqlite-migrations.ts) on real files: a fresh file and
// a file of the last unversioned release (recorded in sqlite-before-migrations.fixture.sql) both
// end at the latest version with the same schema and their rows; two processes opening one file
// at once run each migration once; a file newer than this code is refused before anything is
// written; a failing migration leaves the file as it was. Plus `cli store version|migrate`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/helpers/cli.js';
import { StoreSchemaError, type MigrationReport } from './schema-version.js';
import { migrateSqlite, SQLITE_MIGRATIONS, sqliteSchemaVersion, type SqliteMigration } from './sqlite-migrations.js';
import { openSqliteDatabase, openSqliteStore } from './store-sqlite.js';

const log = pino({ level: 'silent' });
const LATEST = SQLITE_MIGRATIONS.length;
const dir = mkdtempSync(join(tmpdir(), 'aurora-migrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `m${++n}.db`);
const FIXTURE = readFileSync(new URL('./sqlite-before-migrations.fixture.sql', import.meta.url), 'utf8');

/** Everything sqlite_master says about a file's schema, in a comparable order. */
function schemaOf(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name').all() as Record<string, unknown>[]).map((r) => JSON.stringify(r));
  } finally {
    db.close();
  }
}

function withDb<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** A file exactly as the last release before versioned migrations left it, with a few rows. */
function previousReleaseFile(): string {
  const path = freshPath();
  withDb(path, (db) => {
    db.pragma('journal_mode = WAL');
    db.exec(FIXTURE);
    db.prepare("INSERT INTO users (id, username, password_hash, created_at, display_name) VALUES ('oldUser00001', 'olduser', 'h', 5, 'Old User')").run();
    db.prepare("INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES ('t1', 'oldUser00001', 'fam-old', ?)").run(Date.now() + 60_000);
    db.prepare(
      "INSERT INTO messages (room, ms, seq, id, user_id, user_name, text, ts, cid, room_seq) VALUES ('general', 10, 0, '10-0', 'oldUser00001', 'olduser', 'hello from the old file', 10, 'c1', 1)",
    ).run();
    db.prepare(
      "INSERT INTO rooms (name, kind, last_message_at, message_count, last_ms, last_seq, last_user_id, last_user_name, last_text, last_ts, top_seq) VALUES ('general', 'public', 10, 1, 10, 0, 'oldUser00001', 'olduser', 'hello from the old file', 10, 1)",
    ).run();
    expect(sqliteSchemaVersion(db)).toBe(0);
  });
  return path;
}

describe('SQLite schema migrations', () => {
  it('a fresh file ends at the latest version; opening it again applies nothing', () => {
    const path = freshPath();
    const db = openSqliteDatabase(path);
    expect(migrateSqlite(db, { log })).toEqual({ kind: 'sqlite', from: 0, to: LATEST, applied: SQLITE_MIGRATIONS.map(({ version, name }) => ({ version, name })) });
    expect(sqliteSchemaVersion(db)).toBe(LATEST);
    expect(migrateSqlite(db, { log })).toEqual({ kind: 'sqlite', from: LATEST, to: LATEST, applied: [] });
    db.close();
  });

  it('migration 1 still builds exactly the schema the last unversioned release built (it is frozen)', () => {
    const fresh = freshPath();
    const db = openSqliteDatabase(fresh);
    migrateSqlite(db, { migrations: SQLITE_MIGRATIONS.slice(0, 1) });
    db.close();
    const recorded = freshPath();
    withDb(recorded, (raw) => raw.exec(FIXTURE));
    expect(schemaOf(fresh)).toEqual(schemaOf(recorded));
  });

  it('a file of the last unversioned release is migrated to the latest version with its rows, and has the schema of a fresh file', async () => {
    const path = previousReleaseFile();
    const store = await openSqliteStore(path, log);
    expect(await store.findUserById('oldUser00001')).toMatchObject({ username: 'olduser', displayName: 'Old User', disabled: false });
    expect(await store.messagesBefore('general', undefined, 10)).toEqual([
      { id: '10-0', room: 'general', user: { id: 'oldUser00001', name: 'olduser' }, text: 'hello from the old file', ts: 10, cid: 'c1', seq: 1 },
    ]);
    expect(await store.getRoom('general')).toEqual({ name: 'general', lastMessageAt: 10, messageCount: 1 });
    // the search index the old file's triggers kept is still there and still used
    const hits = await store.searchMessages({ viewerId: 'someone', q: 'old file', offset: 0, limit: 10 });
    expect(hits.map((h) => h.message.id)).toEqual(['10-0']);
    expect(await store.setUserDisabled('oldUser00001', true)).toEqual({ found: true, families: ['fam-old'] });
    await store.close();
    withDb(path, (db) => expect(sqliteSchemaVersion(db)).toBe(LATEST));

    const fresh = freshPath();
    await (await openSqliteStore(fresh, log)).close();
    expect(schemaOf(path)).toEqual(schemaOf(fresh));
  });

  it('two processes opening one file at once: each migration runs once, both end at the latest version', { timeout: 60_000 }, async () => {
    const path = freshPath();
    const children = [0, 1].map(() => {
      const proc = spawn(process.execPath, ['--import', 'tsx', 'services/shared/store/test-sqlite-migrate-child.ts', path, '500'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stderr = '';
      proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const lines: string[] = [];
      let onLine = () => {};
      createInterface({ input: proc.stdout }).on('line', (l) => {
        lines.push(l);
        onLine();
      });
      const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
      const line = (prefix: string) =>
        new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no "${prefix}" line within 30 s: ${stderr}`)), 30_000);
          const check = () => {
            const found = lines.find((l) => l.startsWith(prefix));
            if (found !== undefined) {
              clearTimeout(timer);
              resolve(found);
            }
          };
          onLine = check;
          check();
          void exited.then(() => {
            check();
            reject(new Error(`child exited before "${prefix}": ${stderr}`));
          });
        });
      return { proc, exited, line };
    });
    try {
      await Promise.all(children.map((c) => c.line('ready')));
      for (const c of children) c.proc.stdin.write('go\n');
      const ends = await Promise.all(children.map((c) => c.line('done ')));
      const starts = await Promise.all(children.map((c) => c.line('start ')));
      expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0]);

      // they really overlapped: both started before either finished (the last migration holds the lock 500 ms)
      const startMs = starts.map((l) => Number(l.split(' ')[1]));
      const doneMs = ends.map((l) => Number(l.split(' ')[1]));
      expect(Math.max(...startMs)).toBeLessThan(Math.min(...doneMs));
      const reports = ends.map((l) => JSON.parse(l.split(' ').slice(2).join(' ')) as MigrationReport);
      expect(reports.map((r) => r.to)).toEqual([LATEST + 1, LATEST + 1]);
      const applied = reports.flatMap((r) => r.applied.map((a) => a.version)).sort((a, b) => a - b);
      expect(applied).toEqual(Array.from({ length: LATEST + 1 }, (_, i) => i + 1));
      withDb(path, (db) => {
        expect(db.prepare('SELECT count(*) FROM migration_runs').pluck().get()).toBe(1);
        expect(sqliteSchemaVersion(db)).toBe(LATEST + 1);
      });
    } finally {
      for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    }
  });

  it('a file whose version is newer than this code knows is refused, before anything is written', async () => {
    const path = freshPath();
    withDb(path, (db) => db.pragma('user_version = 99'));
    const opening = openSqliteStore(path, log);
    await expect(opening).rejects.toBeInstanceOf(StoreSchemaError);
    await expect(opening).rejects.toMatchObject({
      code: 'store_schema_too_new',
      message: expect.stringMatching(new RegExp(`schema version 99, newer than this release knows \\(latest ${LATEST}\\): refusing to start`)),
    });
    withDb(path, (db) => {
      expect(sqliteSchemaVersion(db)).toBe(99);
      expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get()).toBe(0);
    });
  });

  it('a failing migration is rolled back whole (version, tables and columns as before) and runs again next time', () => {
    const path = freshPath();
    const db = openSqliteDatabase(path);
    migrateSqlite(db);
    const broken: SqliteMigration = {
      version: LATEST + 1,
      name: 'test: fails halfway',
      up(d) {
        d.exec('CREATE TABLE half_done (x INTEGER); ALTER TABLE users ADD COLUMN half_col TEXT');
        d.exec('INSERT INTO no_such_table VALUES (1)');
      },
    };
    expect(() => migrateSqlite(db, { migrations: [...SQLITE_MIGRATIONS, broken], where: 'the test file' })).toThrow(
      expect.objectContaining({
        code: 'store_migration_failed',
        message: expect.stringMatching(/the test file: migration \d+ \(test: fails halfway\) failed, rolled back \(schema stays at version \d+\): no such table: no_such_table/),
      }),
    );
    expect(sqliteSchemaVersion(db)).toBe(LATEST);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").pluck().get()).toBe(0);
    expect((db.prepare('PRAGMA table_info(users)').all() as { name: string }[]).map((c) => c.name)).not.toContain('half_col');
    // fixed, it runs at the next open
    const fixed: SqliteMigration = { ...broken, up: (d) => d.exec('CREATE TABLE half_done (x INTEGER)') };
    expect(migrateSqlite(db, { migrations: [...SQLITE_MIGRATIONS, fixed] }).applied).toEqual([{ version: LATEST + 1, name: broken.name }]);
    expect(sqliteSchemaVersion(db)).toBe(LATEST + 1);
    db.close();
  });

  it('refuses a migration list with a gap (a programming error, caught at the first open)', () => {
    const db = openSqliteDatabase(':memory:');
    const gap: SqliteMigration = { version: LATEST + 2, name: 'skips one', up: () => {} };
    expect(() => migrateSqlite(db, { migrations: [...SQLITE_MIGRATIONS, gap] })).toThrow(/out of order/);
    expect(sqliteSchemaVersion(db)).toBe(0);
    db.close();
  });
});

describe('cli store version / migrate (SQLite)', { timeout: 60_000 }, () => {
  it('shows an unversioned file, migrates it, then shows it up to date; a newer file fails with the reason', async () => {
    const path = previousReleaseFile();
    const env = { SQLITE_PATH: path, LOG_LEVEL: 'info' };
    const before = await runCli(['store', 'version'], env);
    expect(before.stdout).toBe(`sqlite store: schema version 0 (from before versioned migrations), this release knows up to ${LATEST}: ${LATEST} migration(s) pending: cli store migrate, or start any service\n`);
    expect(before.code).toBe(0);
    const migrated = await runCli(['store', 'migrate'], env);
    expect(migrated.stdout).toContain(`applied migration 1: ${SQLITE_MIGRATIONS[0]!.name}\n`);
    expect(migrated.stdout).toContain(`sqlite store: schema version 0 → ${LATEST}\n`);
    expect(migrated.code).toBe(0);
    expect((await runCli(['store', 'version'], env)).stdout).toContain(`schema version ${LATEST}, this release knows up to ${LATEST}: up to date`);
    expect((await runCli(['store', 'migrate'], env)).stdout).toBe(`sqlite store: schema version ${LATEST}, up to date\n`);

    withDb(path, (db) => db.pragma('user_version = 99'));
    const refused = await runCli(['store', 'migrate'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('store: failed: sqlite store');
    expect(refused.stderr).toContain('has schema version 99, newer than this release knows');
    expect((await runCli(['store', 'vers'], env)).code).toBe(2);
  });
});
