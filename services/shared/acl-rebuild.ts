// Puts the room ACLs back into Redis from the store (DESIGN.md "Rooms with members": "Redis state
// can be rebuilt from the store"). The ACLs live in Redis because the send script must check
// membership in the same atomic call; the store holds the same state, applied from the member
// events. A Redis that lost its data (no persistence, a failover to an empty replica) has no
// ACLs: private rooms answer "not found" and public rooms are open to banned users until this
// runs. The ingestion service runs it at start and whenever `keys.aclsLoaded()` is missing (it
// checks every ACL_CHECK_MS), and `cli membership rebuild [--replace]` (services/cli/) runs it by hand.
//
// It runs ONLY then: on a Redis that did not lose its data the ACLs are newer than the store
// (ingestion lags), and a merge could bring back a kicked member.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import type { Logger } from './logger.js';
import { eachCommand } from './redis.js';
import type { Store } from './store/store.js';

const MERGE_LUA = readFileSync(new URL('./lua/acl-merge.lua', import.meta.url), 'utf8');
const PAGE = 200;
/** How often the ingestion service looks for a Redis that lost the ACLs. */
export const ACL_CHECK_MS = 5_000;

/**
 * `replace`: each ACL becomes the store's alone (after restoring an old snapshot); otherwise the
 * store's state is merged over what Redis has (after a data loss: joins since then stay).
 */
export async function rebuildAcls(redis: Redis, keys: Keys, store: Store, log: Logger, { replace = false } = {}): Promise<{ rooms: number }> {
  const now = Date.now();
  let after: string | undefined;
  let rooms = 0;
  for (;;) {
    const page = await store.roomAcls(after, PAGE);
    if (page.length === 0) break;
    const results = await eachCommand(redis, page, (c, s) => {
      const fields: string[] = ['k', s.kind];
      if (s.archived) fields.push('a', '1');
      for (const m of s.members) {
        fields.push(`r:${m.userId}`, m.role, `u:${m.username.toLowerCase()}`, m.userId);
        if (m.mutedUntil !== undefined && m.mutedUntil > now) fields.push(`m:${m.userId}`, String(m.mutedUntil));
      }
      for (const m of s.mutedNonMembers) if (m.mutedUntil > now) fields.push(`m:${m.userId}`, String(m.mutedUntil));
      for (const b of s.banned) fields.push(`b:${b}`, '1');
      return c.eval(MERGE_LUA, 1, keys.roomAcl(s.room), replace ? 'replace' : 'merge', ...fields);
    });
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0]!;
    rooms += page.length;
    after = page.at(-1)!.room;
  }
  await restoreRoomSeqs(redis, keys, store);
  await redis.set(keys.aclsLoaded(), String(now));
  log.info({ rooms }, 'room ACLs rebuilt from the store');
  return { rooms };
}

// Never lowers a counter: sends since the loss may have counted past the store already.
const RAISE_LUA = `local cur = tonumber(redis.call('GET', KEYS[1])) or 0
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return cur`;

/**
 * Puts each room's message counter (keys.roomSeq) back to at least the store's lastSeq: unread
 * counts are differences of seqs, so a counter that restarted at 0 would hide new messages.
 * Messages sent between the loss and this call got low seqs and are not counted as unread
 * (the documented gap, never a negative count).
 */
async function restoreRoomSeqs(redis: Redis, keys: Keys, store: Store): Promise<void> {
  let after: string | undefined;
  for (;;) {
    const page = await store.roomSeqs(after, PAGE);
    if (page.length === 0) return;
    const results = await eachCommand(redis, page, (c, r) => c.eval(RAISE_LUA, 1, keys.roomSeq(r.room), r.lastSeq));
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0]!;
    after = page.at(-1)!.room;
  }
}

/** Rebuilds when the marker is missing (a Redis that lost its data); never two at once here. */
export function watchAcls(redis: Redis, keys: Keys, store: Store, log: Logger): { stop(): void; check(): Promise<void> } {
  let running: Promise<void> | null = null;
  const check = (): Promise<void> =>
    (running ??= (async () => {
      try {
        if ((await redis.exists(keys.aclsLoaded())) === 0) await rebuildAcls(redis, keys, store, log);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'room ACL rebuild failed; retrying');
      } finally {
        running = null;
      }
    })());
  const timer = setInterval(() => void check(), ACL_CHECK_MS);
  timer.unref();
  void check();
  return { stop: () => clearInterval(timer), check };
}
