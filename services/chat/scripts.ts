// What the send and event scripts share on the replica side: their Lua source (each prefixed
// with lua/lib/limits.lua, the rate limit, budget and index helpers both use — Redis has no
// include), and one write per event-loop turn for all of them.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const LIMITS_LUA = readFileSync(new URL('./lua/lib/limits.lua', import.meta.url), 'utf8');

/** lua/<name>.lua with the shared prelude in front. */
export function luaWithLimits(name: 'send' | 'event'): string {
  return `${LIMITS_LUA}\n${readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8')}`;
}

const corkers = new WeakMap<Redis, () => void>();

/**
 * The script calls of one event-loop turn — from every socket — leave in ONE write: the
 * connection's socket is corked at a turn's first call and uncorked at setImmediate, when Node
 * writes all of it in one writev and Redis reads it in one go, instead of a write and a read per
 * call. With many sockets each sending a little that doubled the acked sends/s of a replica at
 * saturation (`npm run bench -- capacity`); at low rates a turn holds one call. Each call stays an
 * ordinary command, in call order, with ioredis's own retry and NOSCRIPT handling. One corker
 * per connection, whichever script calls it. A Cluster client has no one socket to cork: there
 * its auto-pipelining (shared/redis.ts) batches a turn's calls per master instead — a no-op.
 */
export function corkPerTurn(redis: Redis): () => void {
  let cork = corkers.get(redis);
  if (cork) return cork;
  if (redis.isCluster) return () => {};
  let corked = false;
  cork = () => {
    if (corked || redis.status !== 'ready') return;
    const stream = redis.stream;
    corked = true;
    stream.cork();
    setImmediate(() => {
      corked = false;
      stream.uncork();
    });
  };
  corkers.set(redis, cork);
  return cork;
}
