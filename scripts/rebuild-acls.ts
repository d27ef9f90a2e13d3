// `npm run rebuild-acls [-- --replace]`: puts every room's ACL back into Redis from the store,
// now (services/shared/acl-rebuild.ts). The ingestion service does it by itself (a merge) when
// Redis lost its data; this is for an operator who restored Redis from an old snapshot, whose
// ACLs may still hold members removed since: `--replace` makes each ACL the store's alone. Uses
// the same configuration as the services (REDIS_URL, MONGO_URL/SQLITE_PATH, PARTITIONS).
import { rebuildAcls } from '../services/shared/acl-rebuild.js';
import { loadConfig } from '../services/shared/config.js';
import { keysFor } from '../services/shared/keys.js';
import { createLogger } from '../services/shared/logger.js';
import { closeRedis, createRedis } from '../services/shared/redis.js';
import { createStore } from '../services/shared/store/index.js';

const config = loadConfig('ingestion');
const log = createLogger(config);
const store = await createStore(config, log);
const redis = createRedis(config, log, { role: 'rebuild-acls' });
try {
  const replace = process.argv.includes('--replace');
  const { rooms } = await rebuildAcls(redis, keysFor(config.PARTITIONS), store, log, { replace });
  process.stdout.write(`rebuilt the ACLs of ${rooms} rooms\n`);
} finally {
  await closeRedis(redis);
  await store.close();
}
