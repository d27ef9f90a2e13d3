// `cli store version` / `cli store migrate`: the store's schema version, and its pending
// migrations run now (services/shared/store/sqlite-migrations.ts, mongo-migrations.ts). Every
// service migrates the store when it opens it, safely with several replicas at once; `migrate`
// lets an operator do it ahead of a rollout (a long index build then delays no replica's start),
// `version` checks a store against this release without changing it. Uses the services'
// MONGO_URL / SQLITE_PATH. Exit codes: 0 done, 1 the store failed or refused (a schema newer
// than this release, a failing migration), 2 bad usage or configuration.
import { migrateStore, storeSchemaStatus } from '../shared/store/index.js';
import { EXIT, loadOperatorConfig, operatorLogger, parseFlags, say, UsageError, warn } from './operator.js';

export const usage = 'store version | store migrate';

export async function run(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command !== 'version' && command !== 'migrate') {
    throw new UsageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`);
  }
  parseFlags(rest, {}, `store ${command}`);
  const config = loadOperatorConfig('ingestion');
  try {
    if (command === 'version') {
      const s = await storeSchemaStatus(config);
      const state =
        s.version < s.latest
          ? `${s.latest - s.version} migration(s) pending: cli store migrate, or start any service`
          : s.version > s.latest
            ? 'NEWER than this release: its services refuse to start on it'
            : 'up to date';
      say(`${s.kind} store: schema version ${s.version}${s.version === 0 ? ' (from before versioned migrations)' : ''}, this release knows up to ${s.latest}: ${state}`);
      return EXIT.ok;
    }
    const r = await migrateStore(config, operatorLogger(config));
    for (const m of r.applied) say(`applied migration ${m.version}: ${m.name}`);
    const by = r.applied.length === 0 && r.from !== r.to ? ' (by another process, meanwhile)' : '';
    say(r.from === r.to ? `${r.kind} store: schema version ${r.to}, up to date` : `${r.kind} store: schema version ${r.from} → ${r.to}${by}`);
    return EXIT.ok;
  } catch (err) {
    warn(`store: failed: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  }
}
