// DELETE /api/me (issue 16 "Profiles"): a user deletes their account. In this order, so that a
// failure half-way leaves an account the user can still sign in to and delete again:
//   1. every room they are a member of is left through the same member script as a `leave`
//      (room-changes.ts), the owner first handing the room to the highest-ranked, longest-standing
//      member — nobody else can do that for them afterwards; DMs have no membership to leave;
//   2. the store tombstones the account (store.ts deleteAccount: no password, no profile, every
//      refresh-token family revoked, personal state dropped; the username stays taken so old
//      messages can never be passed off as a newcomer's);
//   3. the sessions it had end now (their sockets closed, access tokens refused), the avatar file
//      goes, and the rooms it was in are told (`profile` frame, deleted): clients show its
//      messages as from a deleted user;
//   4. with DELETE_MESSAGES_WITH_ACCOUNT its messages are queued for removal (account-purge.ts).
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { ROLES, type Role } from '../shared/membership.js';
import type { ChatUser } from '../shared/message.js';
import { revokeSession } from '../shared/sessions.js';
import type { RoomMember, Store } from '../shared/store/store.js';
import { purgeUser } from './account-purge.js';
import type { FileStorage } from './files/file-storage.js';
import type { PublishProfile } from './profile-live.js';
import type { RoomChanges } from './room-changes.js';

/** Rooms looked at per deletion (the "my rooms" bound), and members considered as the next owner. */
const ROOMS_MAX = 5_000;
const SUCCESSORS_MAX = 200;

export interface AccountDeletionDeps {
  config: Pick<Config, 'ACCESS_TOKEN_TTL_SEC' | 'DELETE_MESSAGES_WITH_ACCOUNT'>;
  store: Store;
  redis: Redis;
  keys: Keys;
  log: Logger;
  storage: FileStorage;
  changes: RoomChanges;
  publishProfile: PublishProfile;
}

/** ROLES is ordered owner first: a lower index is a higher role. */
const rank = (role: Role) => ROLES.length - ROLES.indexOf(role);

/** The member who gets a room its owner leaves: the highest role, then the longest a member. */
export function nextOwner(members: readonly RoomMember[], leaving: string): RoomMember | undefined {
  let best: RoomMember | undefined;
  for (const m of members) {
    if (m.id === leaving) continue;
    if (!best || rank(m.role) > rank(best.role) || (rank(m.role) === rank(best.role) && m.since < best.since)) best = m;
  }
  return best;
}

export type DeleteAccount = (user: ChatUser) => Promise<{ found: boolean; roomsLeft: number }>;

export function createAccountDeletion(deps: AccountDeletionDeps): DeleteAccount {
  const { config, store, redis, keys, log, storage, changes, publishProfile } = deps;

  /** Leaves one room (handing it over first when owned); true when a membership ended. */
  const leave = async (room: string, user: ChatUser, role: Role): Promise<boolean> => {
    if (role === 'owner') {
      // An owner with members leaves only after a transfer (member.lua); a member the store
      // still lists but Redis no longer has (left meanwhile) is skipped for the next one.
      const members = [...(await store.roomMembers(room, SUCCESSORS_MAX))];
      for (let heir = nextOwner(members, user.id); heir; heir = nextOwner(members, user.id)) {
        const r = await changes.run(room, user, { op: 'role', target: { id: heir.id, name: heir.username }, role: 'owner' }).catch((err: unknown) => err);
        if (!(r instanceof Error)) break;
        members.splice(members.indexOf(heir), 1);
      }
    }
    return (await changes.run(room, user, { op: 'leave' })).changed;
  };

  return async (user) => {
    const rooms = await store.myRooms(user.id, ROOMS_MAX);
    let roomsLeft = 0;
    for (const r of rooms) if (r.kind !== 'dm' && (await leave(r.name, user, r.role))) roomsLeft++;

    const result = await store.deleteAccount(user.id);
    if (!result.found) return { found: false, roomsLeft };
    await Promise.all(result.families.map((f) => revokeSession(redis, keys, f, config.ACCESS_TOKEN_TTL_SEC)));
    if (result.avatar !== undefined) {
      await storage.delete(result.avatar).catch((err: unknown) => log.warn({ err, avatar: result.avatar }, 'could not delete a deleted account\'s avatar'));
    }
    const purge = config.DELETE_MESSAGES_WITH_ACCOUNT;
    // NX: a repeat keeps the first deletion time (the purge's settle window counts from it)
    if (purge) {
      await redis.zadd(keys.accountPurges(), 'NX', Date.now(), user.id);
      // a first purge now, in the background: history and search lose the messages in seconds
      purgeUser({ store, redis, keys, log }, user.id, Date.now()).catch((err: unknown) =>
        log.warn({ err, userId: user.id }, 'first purge of a deleted account failed; the collector retries'),
      );
    }
    await publishProfile({ id: user.id, username: user.name }, { deleted: true, messagesRemoved: purge, rooms: rooms.map((r) => r.name) });
    log.info({ userId: user.id, roomsLeft, endedSessions: result.families.length, messagesRemoved: purge }, 'account deleted');
    return { found: true, roomsLeft };
  };
}
