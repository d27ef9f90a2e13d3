// Which store errors may blame the data (and so dead-letter a message) and which say the store
// cannot write right now. Real SQLite errors from better-sqlite3.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { isStoreUnavailable } from './store-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'aurora-store-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('isStoreUnavailable', () => {
  it('a write lock held elsewhere (SQLITE_BUSY) and a closed handle are the store, not the data', () => {
    const path = join(dir, 'busy.db');
    const a = new Database(path);
    a.pragma('journal_mode = WAL');
    a.exec('CREATE TABLE t (x TEXT)');
    const b = new Database(path, { timeout: 10 });
    a.exec('BEGIN EXCLUSIVE');
    const busy = caught(() => b.prepare('INSERT INTO t VALUES (?)').run('x'));
    expect((busy as { code: string }).code).toBe('SQLITE_BUSY');
    expect(isStoreUnavailable(busy)).toBe(true);
    a.exec('ROLLBACK');
    a.close();
    const closed = caught(() => a.prepare('SELECT 1').get());
    expect(isStoreUnavailable(closed)).toBe(true);
    b.close();
  });

  it('a row the database refuses (trigger, constraint) is the data', () => {
    const db = new Database(join(dir, 'rows.db'));
    db.exec(`CREATE TABLE t (x TEXT NOT NULL);
             CREATE TRIGGER no_poison BEFORE INSERT ON t WHEN NEW.x = 'poison' BEGIN SELECT RAISE(ABORT, 'rejected'); END`);
    expect(isStoreUnavailable(caught(() => db.prepare('INSERT INTO t VALUES (?)').run('poison')))).toBe(false);
    expect(isStoreUnavailable(caught(() => db.prepare('INSERT INTO t VALUES (?)').run(null)))).toBe(false);
    expect(isStoreUnavailable(new TypeError('bad id'))).toBe(false);
    db.close();
  });

  it('MongoDB network, step-down and write-concern failures are the store', () => {
    expect(isStoreUnavailable(Object.assign(new Error('x'), { name: 'MongoNetworkError' }))).toBe(true);
    expect(isStoreUnavailable(Object.assign(new Error('x'), { name: 'MongoServerError', code: 10107 }))).toBe(true);
    expect(isStoreUnavailable(Object.assign(new Error('x'), { name: 'MongoBulkWriteError', code: 121, writeConcernErrors: [{}] }))).toBe(true);
    expect(isStoreUnavailable(Object.assign(new Error('Document failed validation'), { name: 'MongoBulkWriteError', code: 121 }))).toBe(false);
  });
});
