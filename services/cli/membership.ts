// `cli membership rebuild [--replace]` (`npm run rebuild-acls [-- --replace]` too): puts every
// room's ACL back into Redis from the store, now (services/shared/acl-rebuild.ts). The ingestion
// service does it by itself (a merge) when Redis lost its data; this is for an operator who
// restored Redis from an old snapshot, whose ACLs may still hold members removed since:
// `--replace` makes each ACL the store's alone. Uses the same configuration as the services
// (REDIS_URL, MONGO_URL/SQLITE_PATH, PARTITIONS). Exit codes: 0 done, 1 Redis or the store
// failed, 2 bad usage or configuration.
import { rebuildAcls } from '../shared/acl-rebuild.js';
import { keysFor } from '../shared/keys.js';
import { createStore } from '../shared/store/index.js';
import { closeQuietly, connectRedis, EXIT, loadOperatorConfig, operatorLogger, parseFlags, say, UsageError, warn } from './operator.js';

export const usage = 'membership rebuild [--replace]';

export async function run(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command !== 'rebuild') throw new UsageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`);
  const replace = parseFlags(rest, { replace: 'switch' }, 'membership rebuild').flags.replace === true;
  const config = loadOperatorConfig('ingestion');
  const log = operatorLogger(config);
  let redis;
  let store;
  try {
    redis = await connectRedis(config, 'rebuild-acls');
    store = await createStore(config, log);
    const { rooms } = await rebuildAcls(redis, keysFor(config.PARTITIONS), store, log, { replace });
    say(`rebuilt the ACLs of ${rooms} rooms${replace ? ' (replaced: each is the store\'s alone)' : ' (merged with what Redis had)'}`);
    return EXIT.ok;
  } catch (err) {
    warn(`membership: failed: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  } finally {
    if (redis) await closeQuietly(redis);
    await store?.close();
  }
}
