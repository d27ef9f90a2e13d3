// The live side of profiles (issue 16): after a display name or avatar change (or an account
// deletion) the `profile` frame (chat/frames.ts profileFrame) goes to the user's own channel
// (their other devices) and to the room channel of every room they are a member of (DMs and
// groups included), so whoever has one of those rooms open sees the new name or picture at once.
// Best effort, like every transient frame: the change is stored before this runs, and a client
// that missed the frame reads the profile again (GET /api/users/profiles) on its next load.
import type { Redis } from 'ioredis';
import { profileFrame } from '../chat/frames.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { eachCommand } from '../shared/redis.js';
import type { PublicUser, Store } from '../shared/store/store.js';

/** The rooms one change is published to at most (the "my rooms" bound of GET /api/me/rooms). */
export const PROFILE_ROOMS_MAX = 500;

export interface ProfileChange {
  deleted?: boolean;
  messagesRemoved?: boolean;
  /**
   * The rooms to tell, when they are not the user's rooms as the store lists them now: an
   * account deletion has left them all by the time it publishes (account-deletion.ts).
   */
  rooms?: readonly string[];
}

export type PublishProfile = (user: PublicUser, change?: ProfileChange) => Promise<void>;

export function createProfilePublisher(deps: { redis: Redis; keys: Pick<Keys, 'userChannel' | 'roomChannel'>; store: Store; log: Logger }): PublishProfile {
  const { redis, keys, store, log } = deps;
  return async (user, change = {}) => {
    try {
      const frame = profileFrame({ ...user, name: user.username }, change);
      const rooms = change.rooms ?? (await store.myRooms(user.id, PROFILE_ROOMS_MAX)).map((r) => r.name);
      // one round trip (per master on a cluster: room channels are shard channels of their own slots)
      const targets: [channel: string, sharded: boolean][] = [[keys.userChannel(user.id), false], ...rooms.map((r): [string, boolean] => [keys.roomChannel(r), true])];
      const replies = await eachCommand(redis, targets, (c, [channel, sharded]) => (sharded ? c.spublish(channel, frame) : c.publish(channel, frame)));
      const failed = replies.find(([err]) => err);
      if (failed) throw failed[0];
    } catch (err) {
      log.warn({ err, userId: user.id }, 'profile change not published live');
    }
  };
}
