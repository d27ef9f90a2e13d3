// DELETE_MESSAGES_WITH_ACCOUNT: the messages of deleted accounts leave the store in the
// background. account-deletion.ts queues the user (keys.accountPurges, with the deletion time);
// each collector pass (files-gc.ts, one users replica at a time under its Redis lock) tombstones
// a bounded batch per queued user through the store's ordinary event apply, as if they had
// deleted each message themselves — so history, threads, search (the FTS triggers) and files
// (the collector takes a deleted message's files) all follow the one path that already exists.
// Each synthetic `delete` event is named by its target's own id: unique in the room's id space
// (ids.ts), and the same on every pass, so a repeat is a duplicate that changes nothing.
//
// The deletion itself runs a first purge of the user at once (account-deletion.ts), so history
// and search lose the messages within seconds; the collector's passes finish a huge backlog and
// catch the stragglers.
//
// A user stays queued until a pass finds none of their messages left AND the deletion is older
// than PURGE_SETTLE_MS: a message they sent just before deleting may still be on its way through
// the ingest stream. Live clients hide the account's messages from the `profile` frame (and a
// reload reads the tombstones), so this lag is not visible in the room.
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { RoomEvent } from '../shared/message.js';
import type { Store, UserMessageRef } from '../shared/store/store.js';

/** Messages per store call; batches per queued user per pass; users looked at per pass. */
const BATCH = 500;
const MAX_BATCHES = 40;
const USERS_PER_PASS = 20;
/** How long after the deletion a message may still arrive from the ingest stream. */
export const PURGE_SETTLE_MS = 10 * 60_000;

export interface PurgeDeps {
  store: Store;
  redis: Redis;
  keys: Pick<Keys, 'accountPurges'>;
  log: Logger;
}

const deleteEvent = (userId: string, r: UserMessageRef): RoomEvent => ({
  kind: 'delete',
  id: r.id,
  room: r.room,
  target: r.id,
  user: { id: userId, name: '' },
  ts: Date.now(),
  cid: `purge-${r.id}`,
  ...(r.replyTo !== undefined && { replyTo: r.replyTo }),
});

/**
 * Removes what is left of one queued user's messages (at most MAX_BATCHES batches) and takes
 * them off the queue once none is left and the settle window has passed.
 */
export async function purgeUser({ store, redis, keys, log }: PurgeDeps, userId: string, deletedAt: number, now = Date.now()): Promise<number> {
  let removed = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const refs = await store.messagesOfUser(userId, BATCH);
    if (refs.length === 0) {
      if (now - deletedAt >= PURGE_SETTLE_MS) {
        await redis.zrem(keys.accountPurges(), userId);
        log.info({ userId }, 'deleted account: every message removed');
      }
      break;
    }
    removed += (await store.applyEvents(refs.map((ref) => deleteEvent(userId, ref)))).applied;
  }
  if (removed > 0) log.info({ userId, removed }, 'deleted account: messages removed');
  return removed;
}

/** One pass over the queue (the collector's, files-gc.ts); answers how many messages it removed. */
export async function purgeDeletedAccounts(deps: PurgeDeps, now = Date.now()): Promise<number> {
  const queued = await deps.redis.zrange(deps.keys.accountPurges(), 0, USERS_PER_PASS - 1, 'WITHSCORES');
  let removed = 0;
  for (let i = 0; i + 1 < queued.length; i += 2) removed += await purgeUser(deps, queued[i]!, Number(queued[i + 1]), now);
  return removed;
}
