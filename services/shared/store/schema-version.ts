// What both stores' schema migrations share (sqlite-migrations.ts, mongo-migrations.ts): the
// report of a run, the status the operator CLI prints, and the one error class a refused or
// failed migration throws — with a stable code, so a service that will not start says why in
// one line, and an operator can tell "run a newer release" from "a migration broke".

export type StoreKind = 'sqlite' | 'mongo';

/** One migration applied by this process. */
export interface AppliedMigration {
  version: number;
  name: string;
}

/** What one run did: `from` is the version found, `to` the version left (the latest, on success). */
export interface MigrationReport {
  kind: StoreKind;
  from: number;
  to: number;
  /** Applied by THIS process (another replica may have applied the rest while this one waited). */
  applied: AppliedMigration[];
}

/** The store's schema version and the newest this code knows (0: a store from before versions). */
export interface SchemaStatus {
  kind: StoreKind;
  version: number;
  latest: number;
}

export type StoreSchemaErrorCode =
  /** The store was migrated by a newer release: this (older) code must not write to it. */
  | 'store_schema_too_new'
  /** A migration threw; its changes were rolled back (SQLite) or it is retried at the next start (MongoDB). */
  | 'store_migration_failed'
  /** Another process held the migration lock for longer than this one would wait. */
  | 'store_migration_lock_timeout';

export class StoreSchemaError extends Error {
  constructor(
    readonly code: StoreSchemaErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreSchemaError';
  }
}

/** Refuses a store whose schema is newer than the newest migration this code has. */
export function refuseNewer(kind: StoreKind, where: string, version: number, latest: number): void {
  if (version <= latest) return;
  throw new StoreSchemaError(
    'store_schema_too_new',
    `${kind} store ${where} has schema version ${version}, newer than this release knows (latest ${latest}): ` +
      'refusing to start so an older release never writes a newer schema; run the release that migrated it (or newer)',
  );
}

/** Versions must be 1, 2, 3, … in order: a gap or a duplicate is a programming error, caught at the first open. */
export function assertOrdered(migrations: readonly { version: number }[]): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`store migrations out of order: position ${i} has version ${m.version}, expected ${i + 1}`);
  });
  return migrations.length;
}
