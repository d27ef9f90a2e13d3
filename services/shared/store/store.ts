// The store: users, refresh tokens, messages and rooms. Two implementations share this
// interface and one contract suite (store.contract.ts): SQLite (store-sqlite.ts, the embedded
// default) and MongoDB (store-mongo.ts, when MONGO_URL is set). Only the users service and the
// ingestion workers talk to it; chat replicas never do.
//
// Guarantees every implementation gives:
// - Usernames are unique case-insensitively; createUser throws DuplicateUsernameError.
// - insertMessages is idempotent per (room, id): inserting a message that is already stored
//   changes nothing (not its row, not its room's messageCount), so an at-least-once ingest
//   stream yields exactly-once storage. A batch may mix new and already-stored messages.
//   "Already stored" means the same message: same room, id, author and cid. A DIFFERENT message
//   under a stored (room, id) — an id Redis handed out twice after losing the tail of a room log
//   — is not a duplicate: it is returned in `conflicts` (nothing written for it) so the caller
//   can dead-letter it instead of dropping it silently.
// - applyEvents is idempotent per (room, event id) AND independent of arrival order (a claimed
//   batch can bring an event before the message it changes, or an old event after a newer one):
//   a message's text/editedAt/deleted come from the newest edit/delete applied (its id is the
//   message's `version`; an event at or below it changes nothing, an event whose message is not
//   stored yet takes effect when it is); a delete is final; reactions are per (message, emoji,
//   user), each keeping the id of the newest toggle applied; replyCount/lastReplyAt count the
//   replies stored and not deleted, recounted from the rows (never incremented blindly; on
//   MongoDB two workers recounting one thread at once re-read until they agree, so a count can be
//   stale for that moment). A delete wins whatever order events arrive in, and a deleted message
//   shows no editedAt. Replies count in their room's messageCount/lastMessageAt; repliesAfter
//   lists deleted replies as tombstones, while replyCount leaves them out.
//   As with messages, "already stored" means the same event (same author, cid, kind and
//   target); a DIFFERENT event under a stored (room, event id) — the same id reuse — is returned
//   in `conflicts` with nothing applied for it, never counted as a duplicate.
// - Message order is the numeric order of ids (`<ms>-<seq>`, see ../ids.ts), never string order.
// - consumeRefreshToken is atomic: of two concurrent calls with the same live token exactly one
//   gets `ok`; the other sees `reused` with the winner's `usedAt`.
// - setUserDisabled(id, true) revokes every refresh-token family of the user that was still
//   unrevoked and returns them, so the caller can end those sessions (services/shared/sessions.ts).
//   The store does not refuse new tokens for a disabled user: the users service checks the flag
//   at login and refresh (auth-routes.ts), which also closes the race with a concurrent login.
// - Methods reject (never hang forever) when the backing database is unreachable; callers
//   retry. ping() is the readiness check.
import { randomBytes } from 'node:crypto';
import { compareIds } from '../ids.js';
import type { MembershipLogEntry } from '../membership.js';
import type { ChatMessage, ReadMark, RoomEvent } from '../message.js';
import { DEFAULT_ROOM } from '../rooms.js';

export interface User {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: number;
  /** Set by an operator (`cli users disable`, services/cli/users.ts): no login, no refresh. False for every new user. */
  disabled: boolean;
  /** Do not disturb (PUT /api/me/status): notifications are stored, never pushed. */
  dnd: boolean;
  /** PATCH /api/me; absent when not set. */
  displayName?: string;
  /** The avatar's id (GET /avatars/:id); absent when not set. */
  avatar?: string;
  /** DELETE /api/me: the account is gone (also `disabled`); its username stays taken. */
  deleted?: true;
}

export interface PublicUser {
  id: string;
  username: string;
  /** Absent when not set (also on every list that shows users: members, peers, search). */
  displayName?: string;
  avatar?: string;
  /** The account was deleted: shown as a deleted user (no display name, no avatar). */
  deleted?: true;
}

export interface DeleteAccountResult {
  found: boolean;
  /** Refresh-token families revoked now (their sockets and access tokens are the caller's to end). */
  families: string[];
  /** The avatar the account had (its file is the caller's to delete). */
  avatar?: string;
}

/** A message named for removal: enough to build its `delete` event. */
export interface UserMessageRef {
  room: string;
  id: string;
  replyTo?: string;
}

export interface RefreshTokenRecord {
  /** sha256 (hex) of the opaque token; the token itself is never stored. */
  tokenHash: string;
  userId: string;
  /** All tokens rotated from one login share a family; reuse of a spent one revokes it. */
  familyId: string;
  expiresAt: number;
}

export type ConsumeRefreshResult =
  | { status: 'ok'; record: RefreshTokenRecord }
  /**
   * The token was already rotated: a sign of theft, or of a retry / a second tab. `usedAt` (ms)
   * is the `now` of the consume that spent it, so the caller can tell a reuse seconds later
   * (grace window) from a late replay, whose `record.familyId` it revokes.
   */
  | { status: 'reused'; record: RefreshTokenRecord; usedAt: number }
  | { status: 'expired' | 'revoked' | 'unknown' };

export interface RoomInfo {
  name: string;
  /** ms since the epoch of the newest stored message, null for a room without messages. */
  lastMessageAt: number | null;
  messageCount: number;
}

export interface InsertResult {
  inserted: number;
  /** Messages that were already stored (redelivery): same room, id, author and cid. */
  duplicates: number;
  /**
   * Messages whose (room, id) is taken by a different message (another author or cid): not
   * stored, not counted as duplicates. Also the later of two different messages with one id in
   * the same batch.
   */
  conflicts: ChatMessage[];
}

/** True when `stored` and `incoming` are the same message (a redelivery), not an id reuse. */
export function sameMessage(stored: { userId: string; cid: string }, incoming: ChatMessage): boolean {
  return stored.userId === incoming.user.id && stored.cid === incoming.cid;
}

export interface ApplyResult {
  /** Events stored for the first time. */
  applied: number;
  /** Events already stored (redelivery): same room, id, author, cid, kind and target. */
  duplicates: number;
  /**
   * Events whose (room, id) is taken by a different event (another author, cid, kind or target):
   * nothing applied for them, not counted as duplicates. Also the later of two different events
   * with one id in the same batch.
   */
  conflicts: RoomEvent[];
}

/** What a store keeps of an event to tell a redelivery from another event under its id. */
export interface StoredEventKey {
  kind: string;
  target: string;
  userId: string;
  cid: string;
}

/** True when `stored` and `incoming` are the same event (a redelivery), not an id reuse. */
export function sameEvent(stored: StoredEventKey, incoming: RoomEvent): boolean {
  return (
    stored.userId === incoming.user.id &&
    stored.cid === incoming.cid &&
    stored.kind === incoming.kind &&
    compareIds(stored.target, incoming.target) === 0
  );
}

export interface Reaction {
  emoji: string;
  count: number;
  /** The viewer is among those who reacted. */
  me: boolean;
}

/**
 * A message as history shows it: its current state after every event applied. Optional fields
 * are absent when empty (no edit, not deleted, no reactions, no replies).
 */
export interface HistoryMessage extends ChatMessage {
  /** ms of the newest edit applied. */
  editedAt?: number;
  /** A tombstone: `text` is '' (attachments gone too); the author and ts stay. */
  deleted?: true;
  /** Ordered by the oldest current reaction with that emoji; absent on a deleted message. */
  reactions?: Reaction[];
  /** Replies stored and not deleted (top-level messages only). */
  replyCount?: number;
  /** ts of the newest reply stored and not deleted. */
  lastReplyAt?: number;
}

/** What setUserDisabled did. */
export interface SetDisabledResult {
  /** False: no user has that id (nothing changed). */
  found: boolean;
  /**
   * Disabling: the refresh-token families this call revoked (those with a token not yet
   * revoked), each a session id whose live sockets and access tokens the caller must end.
   * Always [] when enabling, or when the user had no unrevoked family.
   */
  families: string[];
}

// The attention types (read receipts, notifications, their preferences) live in
// store-attention-types.ts; re-exported so callers import every store type from here.
export * from './store-membership-types.js';
export * from './store-attention-types.js';
export * from './store-files-types.js';
import type { AppNotification, InsertedNotification, NewNotification, NotifyPrefs, RoomRead } from './store-attention-types.js';
import type { ApplyMembershipResult, MemberState, MyRoom, RoomAclSnapshot, RoomMember, RoomMeta } from './store-membership-types.js';
import type { SearchHit, SearchQuery, StoredAttachment } from './store-files-types.js';

export class DuplicateUsernameError extends Error {
  constructor(username: string) {
    super(`username already taken: ${username}`);
    this.name = 'DuplicateUsernameError';
  }
}

export interface Store {
  readonly kind: 'sqlite' | 'mongo';

  // users
  /** Creates a user with a fresh id (matching rooms.ts USER_ID_RE). */
  createUser(input: { username: string; passwordHash: string }): Promise<User>;
  /** Case-insensitive lookup. */
  findUserByUsername(username: string): Promise<User | null>;
  findUserById(id: string): Promise<User | null>;
  /** Users whose name contains `query` (case-insensitive): names starting with it first, each group ordered by username. */
  searchUsers(query: string, limit: number): Promise<PublicUser[]>;
  /**
   * Sets the user's `disabled` flag (an operator's moderation). Disabling also revokes every
   * refresh-token family of the user in the same call and returns their ids (SetDisabledResult),
   * so no refresh token of theirs is accepted afterwards; the caller revokes those sessions
   * (sessions.ts revokeSession) to end their sockets and access tokens at once. Enabling only
   * clears the flag: old sessions stay ended, a new login starts a new one. Idempotent.
   */
  setUserDisabled(userId: string, disabled: boolean): Promise<SetDisabledResult>;

  // refresh tokens
  /**
   * Saves a token. A token of a family already revoked is saved revoked: a rotation that raced
   * with a revocation (a password change, a disable, a logout) must not bring the session back.
   */
  saveRefreshToken(record: RefreshTokenRecord): Promise<void>;
  /** Marks a live token spent and returns it; see ConsumeRefreshResult. `now` in ms. */
  consumeRefreshToken(tokenHash: string, now: number): Promise<ConsumeRefreshResult>;
  /** Revokes every token of the family (logout, reuse detection). */
  revokeRefreshFamily(familyId: string): Promise<void>;
  /** The family a token belongs to, whatever its state (for logout), or null. */
  refreshTokenFamily(tokenHash: string): Promise<string | null>;

  // messages
  /** Messages and thread replies (`replyTo`); a new reply recounts its parent's replies. */
  insertMessages(messages: readonly ChatMessage[]): Promise<InsertResult>;
  /** Edits, deletes and reactions; idempotent and order-independent (see above). */
  applyEvents(events: readonly RoomEvent[]): Promise<ApplyResult>;
  /**
   * Up to `limit` TOP-LEVEL messages (replies live in their thread) immediately before
   * `beforeId` (the newest when undefined), oldest first, in their current state; `viewerId`
   * decides each reaction's `me`.
   */
  messagesBefore(room: string, beforeId: string | undefined, limit: number, viewerId?: string): Promise<HistoryMessage[]>;
  /** Up to `limit` top-level messages immediately after `afterId`, oldest first, current state. */
  messagesAfter(room: string, afterId: string, limit: number, viewerId?: string): Promise<HistoryMessage[]>;
  /** One message (top-level or reply) in its current state, or null when not stored. */
  getMessage(room: string, id: string, viewerId?: string): Promise<HistoryMessage | null>;
  /** Up to `limit` replies to `parentId` after `afterId` (from the first when undefined), oldest first. */
  repliesAfter(room: string, parentId: string, afterId: string | undefined, limit: number, viewerId?: string): Promise<HistoryMessage[]>;

  // rooms
  /**
   * Public rooms plus the DM rooms `userId` belongs to, most recently active first, then by
   * name. `general` is always listed, with or without messages.
   */
  listRooms(userId: string, limit: number): Promise<RoomInfo[]>;
  getRoom(name: string): Promise<RoomInfo | null>;

  // membership (membership.ts): the state the `member` and `room` events leave behind
  /**
   * Applies membership and room events; idempotent per (room, event id) and independent of
   * arrival order: per (room, member) the newest member event wins (it carries the member's
   * whole state), per room the newest `created`/`topic` event sets the topic and the newest
   * `archived`/`unarchived` the flag (the title and kind come from `created`). A different
   * event under a stored (room, id) is returned in `conflicts`, nothing applied for it.
   */
  applyMembershipEvents(events: readonly MembershipLogEntry[]): Promise<ApplyMembershipResult>;
  /**
   * The membership and room events of `room` with afterId < id < beforeId (both exclusive;
   * undefined: unbounded), oldest first, each exactly as first applied (a redelivery keeps the
   * one copy); at most `limit`, the NEWEST of the range when it holds more. Numeric id order
   * (ids.ts), one index range per call. History shows them as system lines long after the
   * capped room log dropped them. Events applied before the store kept them whole (an older
   * SQLite file) are not listed.
   */
  membershipEventsBetween(room: string, afterId: string | undefined, beforeId: string | undefined, limit: number): Promise<MembershipLogEntry[]>;
  /** The room's state, or null when the store knows no such room (no message, no event). */
  roomMeta(room: string): Promise<RoomMeta | null>;
  /** One user's state in one room (a DM's two users are members by its name). */
  memberState(room: string, userId: string): Promise<MemberState>;
  /** Current members, owner first, then admins, then by username; at most `limit`. */
  roomMembers(room: string, limit: number): Promise<RoomMember[]>;
  /**
   * Every room `userId` is a member of — public and private rooms and groups by membership, DMs
   * once a message is stored — newest activity first (lastMessageAt, else the membership's
   * since), in ONE query. Archived rooms are included (flagged).
   */
  myRooms(userId: string, limit: number): Promise<MyRoom[]>;
  /** Public rooms whose name contains `query` ('' for all), not archived, most members first, then by name. */
  publicRooms(query: string, limit: number): Promise<RoomMeta[]>;
  /** ACL snapshots of the public, private and group rooms with names after `afterRoom`, by name (rebuild). */
  roomAcls(afterRoom: string | undefined, limit: number): Promise<RoomAclSnapshot[]>;

  // attention (issue 15). Counting is O(1) per room: messages carry their room's `seq` (send.lua),
  // the store keeps each room's lastSeq (max) and each (user, room) read position (max by seq).
  // insertMessages also: keeps seq and mentions (history returns them), raises the room's
  // lastSeq, moves the SENDER's read position to their own top-level message, and writes one
  // mention row per mentioned user (MENTION_ROOM expanded to the room's members then, never the
  // sender) — all only for messages newly inserted (a redelivery changes nothing).
  // applyMembershipEvents also: a `joined`/`invited` member's read position = max(it, the room's
  // lastSeq then), so a new member does not inherit the room's history as unread.
  /** Moves read positions forward (max by seq per (room, user)); idempotent, any order. */
  applyReads(marks: readonly ReadMark[]): Promise<void>;
  /** Members' read positions in `room`, furthest first (receipts); at most `limit`. */
  roomReads(room: string, limit: number): Promise<RoomRead[]>;
  /** Each room's lastSeq, rooms by name after `afterRoom` (rebuilding Redis's counters). */
  roomSeqs(afterRoom: string | undefined, limit: number): Promise<{ room: string; lastSeq: number }[]>;
  /** The user mutes or unmutes the room's notifications (works for DMs, no membership row needed). */
  setRoomMuted(userId: string, room: string, muted: boolean): Promise<void>;
  setDnd(userId: string, dnd: boolean): Promise<void>;
  /** Per user id: member of `room` now, muted it, DND. Unknown users are absent from the map. */
  notifyPrefs(room: string, userIds: readonly string[]): Promise<Map<string, NotifyPrefs>>;
  /**
   * Adds notifications, idempotent per (userId, room, sourceId): returns the ones inserted now
   * (a redelivery returns none of its rows: the caller pushes only these live).
   */
  insertNotifications(list: readonly NewNotification[]): Promise<InsertedNotification[]>;
  /** Newest first (by sourceId, numeric), those after the cursor `beforeId`; at most `limit`. */
  notifications(userId: string, opts: { beforeId?: string; limit: number; unreadOnly?: boolean }): Promise<AppNotification[]>;
  /** Marks the user's notifications read (ids of other users' notifications are ignored). */
  markNotificationsRead(userId: string, ids: readonly string[] | 'all'): Promise<void>;
  unreadNotificationCount(userId: string): Promise<number>;

  // --- files (issue 16; store-files-types.ts) ---
  /** Records a stored upload (idempotent per id). */
  saveAttachment(attachment: StoredAttachment): Promise<void>;
  getAttachment(id: string): Promise<StoredAttachment | null>;
  /** Bytes of the user's uploads still kept (the quota's measure; thumbnails not counted). */
  attachmentBytesOf(userId: string): Promise<number>;
  /**
   * Uploads to collect, oldest first: never named by a stored message and created before
   * `createdBefore`, or named by a message that has since been deleted.
   */
  collectableAttachments(createdBefore: number, limit: number): Promise<StoredAttachment[]>;
  /** Forgets uploads (their files are the caller's to delete first). */
  deleteAttachments(ids: readonly string[]): Promise<void>;

  // --- search (issue 16; store-files-types.ts) ---
  /**
   * Ranked matches in the rooms the viewer may read; edits searched by their new text, deleted
   * messages never. SQLite ranks only the newest SEARCH_RANK_WINDOW (store-sqlite-search.ts)
   * matches after the filters, so a very common word stays fast; MongoDB ranks every match.
   */
  searchMessages(query: SearchQuery): Promise<SearchHit[]>;

  // --- profiles (issue 16; store-sqlite-profiles.ts, store-mongo-profiles.ts) ---
  /**
   * Replaces the user's password hash and, in the same call (one transaction on SQLite),
   * revokes every refresh-token family of theirs except `keepFamily` (the session that made the
   * change; undefined: none kept). Returns the families it revoked (SetDisabledResult's shape):
   * the caller ends those sessions (sessions.ts revokeSession). found: false changes nothing.
   */
  changePassword(userId: string, passwordHash: string, keepFamily: string | undefined): Promise<SetDisabledResult>;
  /** Sets (a cleaned, non-empty name) or clears (null) the display name; the user as now, null when unknown. */
  setDisplayName(userId: string, displayName: string | null): Promise<User | null>;
  /** id, username, displayName?, avatar? of the known users among `ids` (unknown ids left out), in no set order. */
  userProfiles(ids: readonly string[]): Promise<PublicUser[]>;
  /**
   * Sets (an avatar id) or clears (null) the user's avatar atomically; answers the user as now and
   * the avatar it replaced (its file is the caller's to delete), or null for an unknown user.
   */
  setAvatar(userId: string, avatar: string | null): Promise<{ user: User; previous?: string } | null>;
  /** True when `id` is some user's current avatar (GET /avatars/:id serves nothing else). */
  isAvatar(id: string): Promise<boolean>;

  // --- account deletion (store-*-deletion.ts)
  /**
   * Deletes the account: flagged deleted and disabled, the password hash, display name and
   * avatar cleared, every refresh-token family revoked (returned, like setUserDisabled), and its
   * personal state dropped (read positions, mentions, inbox). The row stays, so the username is
   * never given to someone else (old messages carry it) and authors resolve to "deleted user".
   * Idempotent: deleting a deleted account finds it and ends nothing more.
   */
  deleteAccount(userId: string): Promise<DeleteAccountResult>;
  /**
   * Up to `limit` messages (top-level and replies) sent by `userId` that are not deleted, in no
   * particular order: DELETE_MESSAGES_WITH_ACCOUNT removes them in batches (users/account-purge.ts).
   * Not indexed by user: a scan, acceptable for a rare operation that runs in the background.
   */
  messagesOfUser(userId: string, limit: number): Promise<UserMessageRef[]>;

  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Copies displayName/avatar from `profiles` onto the users of `list` that have them (in place;
 * absent stays absent). Member lists, peers and user search get them this way: one lookup by
 * primary key for the whole list, after the list's own query.
 */
export function withProfiles<T extends { id: string; displayName?: string; avatar?: string; deleted?: true }>(list: T[], profiles: readonly PublicUser[]): T[] {
  const byId = new Map(profiles.map((p) => [p.id, p]));
  for (const u of list) {
    const p = byId.get(u.id);
    if (p?.displayName !== undefined) u.displayName = p.displayName;
    if (p?.avatar !== undefined) u.avatar = p.avatar;
    if (p?.deleted) u.deleted = true;
  }
  return list;
}

/** A new user id: 9 random bytes → 12 base64url characters (matches rooms.ts USER_ID_RE). */
export function newUserId(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * listRooms' tail rule, the same in every implementation: `general` is always listed; when it
 * fell outside the first `limit` rooms it is the least recent, so it takes the last place.
 */
export function ensureGeneral(rooms: RoomInfo[], limit: number, general: RoomInfo | null): RoomInfo[] {
  if (limit <= 0 || rooms.some((r) => r.name === DEFAULT_ROOM)) return rooms;
  const g = general ?? { name: DEFAULT_ROOM, lastMessageAt: null, messageCount: 0 };
  return [...rooms.slice(0, limit - 1), g];
}
