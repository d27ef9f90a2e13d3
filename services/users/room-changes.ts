// The users service's side of a membership change: member.lua decides and appends it atomically
// in Redis (the one authority, shared with the chat replicas' checks), then the events it
// appended are read back and applied to the store at once, so the caller's next REST read
// (GET /api/me/rooms, a member list, a history page) already sees them. The ingestion workers
// apply the same events from the ingest stream later; the store applies an event once, whoever
// comes first. If this write fails the change still stands (it is in Redis and queued): the
// REST answer is the same, and the store catches up through ingestion.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { MemberOp, MemberScript } from '../shared/member-script.js';
import { isMembershipLogEntry, type MembershipLogEntry } from '../shared/membership.js';
import { logEntryOf, type ChatUser } from '../shared/message.js';
import { isMembersOnlyRoom, mayAccessRoom, roomKindOf } from '../shared/rooms.js';
import type { Store } from '../shared/store/store.js';
import { withTimeout } from '../shared/timeout.js';
import { ApiError } from './errors.js';

const REDIS_TIMEOUT_MS = 5_000;
/** The one answer for a members-only room the caller is not in, and for one that does not exist. */
export const NO_SUCH_ROOM = 'no such room, or you are not a member';

export interface ChangeOutcome {
  /** False when it already was so (nothing appended). */
  changed: boolean;
  events: MembershipLogEntry[];
}

export class RoomChanges {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly store: Store,
    private readonly member: MemberScript,
    private readonly log: Logger,
  ) {}

  async run(room: string, actor: ChatUser, op: MemberOp): Promise<ChangeOutcome> {
    if (roomKindOf(room) === 'dm') throw new ApiError('bad_request', 'a direct message has no members to change');
    const cid = `rest-${randomBytes(9).toString('base64url')}`;
    let r;
    try {
      r = await withTimeout(this.member(room, actor, op, cid), REDIS_TIMEOUT_MS);
    } catch (err) {
      this.log.error({ err: (err as Error).message, room, op: op.op }, 'member script failed');
      throw new ApiError('unavailable', 'the change could not be made now, retry');
    }
    switch (r.kind) {
      case 'ok': {
        const events = await this.readBack(room, r.secondId === undefined ? [r.id] : [r.id, r.secondId]);
        try {
          await this.store.applyMembershipEvents(events);
        } catch (err) {
          this.log.warn({ err: (err as Error).message, room }, 'store write of a membership change failed; ingestion will apply it');
        }
        return { changed: true, events };
      }
      case 'unchanged':
        return { changed: false, events: [] };
      case 'not_found':
        throw new ApiError('not_found', NO_SUCH_ROOM);
      case 'forbidden':
        throw new ApiError('forbidden', forbiddenMessage(op));
      case 'banned':
        throw new ApiError('forbidden', op.op === 'join' ? 'you are banned from this room' : 'that user is banned from this room: unban them first');
      case 'archived':
        throw new ApiError('conflict', 'the room is archived (read only): unarchive it first');
      case 'exists':
        throw new ApiError('conflict', 'a room with this name exists: join it instead');
      case 'full':
        throw new ApiError('conflict', 'a group has at most 10 people: start a private room instead');
      case 'not_member':
        throw new ApiError('not_found', 'that user is not a member of this room');
      case 'owner_must_transfer':
        throw new ApiError('conflict', 'the owner leaves only after making someone else the owner');
      case 'overloaded':
        throw new ApiError('unavailable', 'the server is busy, retry later', { 'Retry-After': '5' });
      case 'room_rate':
        throw new ApiError('too_many_requests', 'too many new rooms: wait before creating another', {
          'Retry-After': String(Math.ceil(r.retryAfterMs / 1000)),
        });
    }
  }

  /** The events the script appended, from the room log (one round trip). */
  private async readBack(room: string, ids: string[]): Promise<MembershipLogEntry[]> {
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.xrange(this.keys.roomLog(room), id, id);
    const results = (await pipe.exec()) ?? [];
    const events: MembershipLogEntry[] = [];
    for (const [err, value] of results) {
      const entry = !err ? (value as [string, string[]][])[0] : undefined;
      if (!entry) continue; // trimmed already (a very busy room): ingestion stores it
      const { entry: e } = logEntryOf(room, entry[0], entry[1]);
      if (isMembershipLogEntry(e)) events.push(e);
    }
    return events;
  }
}

function forbiddenMessage(op: MemberOp): string {
  switch (op.op) {
    case 'invite':
      return 'only members invite to this room (in a private room: its owner and admins)';
    case 'role':
      return "only the room's owner changes roles";
    case 'topic':
      return "only the room's owner and admins change the topic";
    case 'archive':
    case 'unarchive':
      return "only the room's owner and admins archive it";
    default:
      return "only the room's owner and admins do this, and only to members of a lower role";
  }
}

/**
 * Whether `viewer` may read `room` (history, threads, members): a DM of theirs, a public room
 * they are not banned from, a private room or group they are a member of. Refused alike for a
 * members-only room that exists and one that does not.
 */
export async function assertReadable(store: Store, room: string, viewerId: string): Promise<void> {
  if (!mayAccessRoom(viewerId, room)) throw new ApiError('forbidden', 'this direct-message room belongs to two other users');
  if (roomKindOf(room) === 'dm') return;
  const state = await store.memberState(room, viewerId);
  if (isMembersOnlyRoom(room) && state.role === undefined) throw new ApiError('not_found', NO_SUCH_ROOM);
  if (state.banned) throw new ApiError('forbidden', 'you are banned from this room');
}

/** A user named in a request, as events name them (id + username), or 404. */
export async function userRef(store: Store, id: string): Promise<ChatUser> {
  const u = await store.findUserById(id);
  if (!u || u.deleted) throw new ApiError('not_found', 'no such user');
  return { id: u.id, name: u.username };
}
